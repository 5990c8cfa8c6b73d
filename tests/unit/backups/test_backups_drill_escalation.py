"""A failed recovery drill fires the policy's "backup test failed" escalation rule through the
alerting domain, like every other rule: the rule's roles and actions, the same evidence."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import leitstand.backups.drills
from leitstand.backups.model import DrillKind
from leitstand.bootstrap import Container, build
from leitstand.errors import LeitstandError
from leitstand.ledger.service import EntryQuery
from leitstand.policy.model import Policy, default_policy
from leitstand.settings import Settings
from leitstand.testing import ManualClock
from support.backups_lab import ADMIN

SYSTEM = "enterprise-api"


def _policy(tmp_path: Path, *, inform: list[str] | None = None) -> Policy:
    data = default_policy().model_dump(mode="json")
    data["backups"]["systems"] = {
        SYSTEM: {
            "database": {
                "data_dir": str(tmp_path / "pgdata"),
                "host": str(tmp_path / "nosocket"),
                "port": 5999,
            }
        }
    }
    data["backups"]["drills"]["scratch_dir"] = str(tmp_path / "drills")
    if inform is not None:
        rule = data["incidents"]["escalation_rules"]["backup_test_failed"]
        rule["inform"] = inform
        rule["actions"] = [{"de": "Restore-Pfad prüfen", "en": "Check the restore path"}]
    return Policy.model_validate(data)


@pytest.fixture
def build_with(tmp_path: Path) -> Iterator[Any]:
    built: list[Container] = []

    def _build(policy: Policy) -> Container:
        container = build(
            Settings(home=tmp_path / "home"), clock=ManualClock(), policy=policy, migrate=True
        )
        built.append(container)
        return container

    yield _build
    for container in built:
        container.close()


def _entries(container: Container, action: str) -> list[dict[str, Any]]:
    with container.db.reader() as session:
        found = container.ledger.entries(
            session, EntryQuery(action=action, limit=None, newest_first=False)
        )
    return [e.payload for e in found]


def _failed_drill(container: Container) -> None:
    """A full-restore drill of a system with no backup at all: it runs, and fails."""
    view = container.drills.run(kind=DrillKind.FULL_RESTORE, system=SYSTEM, actor=ADMIN)
    assert view.status == "failed", view.protocol


def test_a_failed_drill_fires_the_backup_test_failed_rule_with_its_evidence(
    tmp_path: Path, build_with: Any
) -> None:
    container = build_with(_policy(tmp_path))
    _failed_drill(container)
    [alert] = [
        a
        for a in container.alerting.queries.alert_list(status=None)
        if a.name == "RecoveryDrillFailed"
    ]
    [fired] = _entries(container, "alert.escalation_rule")
    assert fired["rule"] == "backup_test_failed" and fired["alert_id"] == alert.id
    assert fired["roles"] == ["compliance_officer"]
    assert "Backup-Test fehlgeschlagen" in fired["subject"]
    told = [
        n for n in _entries(container, "notification.requested") if n["subject"] == fired["subject"]
    ]
    assert [n["roles"] for n in told] == [["compliance_officer"]]
    # No message of its own beside the rule's: nothing outside the alerting mechanism.
    assert _entries(container, "backups.notification.requested") == []


def test_the_rule_s_roles_and_actions_come_from_the_policy(tmp_path: Path, build_with: Any) -> None:
    container = build_with(_policy(tmp_path, inform=["management"]))
    _failed_drill(container)
    [fired] = _entries(container, "alert.escalation_rule")
    assert (fired["rule"], fired["roles"]) == ("backup_test_failed", ["management"])
    messages = _entries(container, "notification.requested")
    assert [n["roles"] for n in messages if n["subject"] == fired["subject"]] == [["management"]]
    assert not any("compliance_officer" in n["roles"] for n in messages)
    assert "compliance_officer" not in inspect.getsource(leitstand.backups.drills)


def test_a_scheduled_drill_that_cannot_start_fires_the_rule_too(
    tmp_path: Path, build_with: Any
) -> None:
    container = build_with(_policy(tmp_path))
    with pytest.raises(LeitstandError):
        container.drills.run(kind=DrillKind.PITR, system=SYSTEM, actor=ADMIN, trigger="schedule")
    [fired] = _entries(container, "alert.escalation_rule")
    assert (fired["rule"], fired["roles"]) == ("backup_test_failed", ["compliance_officer"])
