"""Every action a leitstand service writes is in a reserved system namespace, so the manual route
can never write it; and the manual route's rules themselves."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import leitstand
from leitstand.errors import ValidationError
from leitstand.incidents.reporting.timeline import SOURCES
from leitstand.ledger.ownership import SYSTEM_NAMESPACES, is_manual, manual_action

SRC = Path(leitstand.__file__).parent
ACTION = re.compile(r"^([a-z_]+)\.[a-z_{}.]+$")


def _written_actions() -> dict[str, str]:
    """Literal actions passed to ``*.record(...)``/``*.append(...)`` and ``*_ACTION`` constants."""
    found: dict[str, str] = {}
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            candidates: list[ast.expr] = []
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                if node.func.attr in ("record", "append", "record_system"):
                    candidates = list(node.args[:3])
                    candidates += [k.value for k in node.keywords if k.arg == "action"]
            elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id.endswith("_ACTION") for t in node.targets
            ):
                candidates = [node.value]
            for candidate in candidates:
                for part in ast.walk(candidate):
                    value = part.value if isinstance(part, ast.Constant) else None
                    if isinstance(value, str) and ACTION.match(value):
                        found[value] = str(path.relative_to(SRC))
    return found


def test_every_action_the_services_write_is_in_a_system_namespace() -> None:
    written = _written_actions()
    assert len(written) > 40, "the scan must find the services' actions"
    outside = {a: f for a, f in written.items() if a.split(".")[0] not in SYSTEM_NAMESPACES}
    outside = {a: f for a, f in outside.items() if not a.startswith("manual.")}
    assert outside == {}


def test_every_timeline_source_is_a_system_namespace() -> None:
    assert {s.prefix.split(".")[0] for s in SOURCES} <= SYSTEM_NAMESPACES


@pytest.mark.parametrize(
    ("given", "recorded"),
    [
        ("maintenance", "manual.maintenance"),
        ("manual.maintenance", "manual.maintenance"),
        ("review.done", "manual.review.done"),
        ("  manual.gate.run ", "manual.gate.run"),
    ],
)
def test_the_manual_route_records_under_manual(given: str, recorded: str) -> None:
    assert manual_action(given) == recorded and is_manual(recorded)


@pytest.mark.parametrize("action", ["gate.run", "GATE.run", "ledger.verified", "witness.cosigned"])
def test_the_manual_route_refuses_system_namespaces(action: str) -> None:
    with pytest.raises(ValidationError, match="is a reserved system namespace"):
        manual_action(action)
    with pytest.raises(ValidationError, match="must name what was done"):
        manual_action("manual.")
