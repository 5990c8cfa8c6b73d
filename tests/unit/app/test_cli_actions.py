"""Every acting CLI command names an action the policy's ``auth.local_admin_actions`` knows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import leitstand
from leitstand.errors import ValidationError
from leitstand.policy.auth import CLI_ACTIONS, AuthPolicy
from leitstand.policy.loader import load_policy_text

_SRC = Path(leitstand.__file__).parent
# resolve_actor(..., action="x.y", ...) and the domain wrappers _actor(c, token, "x.y"),
# _acting(token, "x.y", ...), _act("x.y", token, ...), _may_change_schema("x.y", ...).
_USES = re.compile(
    r'action="([a-z_]+\.[a-z_]+)"|_actor\(container, \w+, "([a-z_]+\.[a-z_]+)"\)'
    r'|_acting\(\w+, "([a-z_]+\.[a-z_]+)"|_act\(\s*"([a-z_]+\.[a-z_]+)"'
    r'|_may_change_schema\("([a-z_]+\.[a-z_]+)"'
)


def _cli_files() -> list[Path]:
    return [p for p in _SRC.rglob("*.py") if p.name == "cli.py"]


def test_every_action_a_cli_command_resolves_is_known_to_the_policy() -> None:
    used = {
        next(g for g in m.groups() if g)
        for path in _cli_files()
        for m in _USES.finditer(path.read_text(encoding="utf-8"))
    }
    assert {"gate.run", "flag.tenants", "incident.open", "user.token", "db.upgrade"} <= used
    assert used - CLI_ACTIONS == set()


def test_the_seed_lets_the_local_admin_bootstrap_and_migrate_only() -> None:
    assert AuthPolicy().local_admin_actions == ["user.bootstrap", "db.upgrade", "db.downgrade"]


def test_an_unknown_local_admin_action_is_refused_naming_it() -> None:
    with pytest.raises(ValidationError) as refused:
        load_policy_text("auth:\n  local_admin_actions: [flags.on]\n")
    assert "auth.local_admin_actions.0" in str(refused.value)
    assert "'flags.on'" in str(refused.value) and "flag.on" in str(refused.value)
