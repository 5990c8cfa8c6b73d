"""The Änderungsprotokoll: a view of the ledger with the seed's six facts, exported as MD/CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from leitstand.auth.model import Actor
from leitstand.bootstrap import Container
from leitstand.changes.log import CSV_COLUMNS
from leitstand.testing import ManualClock

DEV = Actor(name="dana", role="developer")
OFFICER = Actor(name="clara", role="compliance_officer")
OPS = Actor(name="olaf", role="devops")
SYSTEM = Actor(name="leitstand", role="system")
FIELDS = {
    "what": "new endpoint /contracts",
    "why": "broker request | BaFin",
    "rollback": "redeploy 2.3.9",
    "tests": "unit, e2e",
}


def _story(container: Container, clock: ManualClock) -> int:
    change = container.changes.open(
        service="enterprise-api", version="2.4.0", category="normal", fields=FIELDS, actor=DEV
    )
    container.changes.decide(change_id=change.id, actor=OFFICER, approve=True, comment="ok")
    clock.advance(timedelta(hours=1))
    with container.db.transaction() as session:
        container.ledger.record(
            session, Actor(name="ci", role="devops"), "gate.run", "project:api@2.4.0",
            payload={"project": "enterprise-api", "version": "2.4.0", "change_id": change.id,
                     "status": "pass", "stages": {"build": "pass", "test": "pass"}},
        )  # fmt: skip
        container.ledger.record(
            session, SYSTEM, "gate.run", "project:other@1.0",
            payload={"project": "other", "version": "1.0", "change_id": None, "status": "pass"},
        )  # fmt: skip
        container.changes.mark_deployed(
            session, change_id=change.id, env="production", release_id=7,
            at=clock.now(), production=True, actor=SYSTEM,
        )  # fmt: skip
        container.changes.record_rollback(
            session, change_id=change.id, service="enterprise-api", version="2.4.0",
            env="production", release_id=7, reason="5xx after switch", automatic=True,
            actor=SYSTEM,
        )  # fmt: skip
    return change.id


def test_the_change_log_tells_the_story_of_a_change_from_the_ledger(
    container: Container, clock: ManualClock
) -> None:
    change_id = _story(container, clock)
    rows = container.changes.log()
    assert [r.action for r in rows] == [
        "change.opened", "change.approved", "gate.run", "change.deployed", "change.rolled_back",
    ]  # fmt: skip
    assert all(r.change_id == change_id for r in rows)
    assert rows[0].event == "Änderung erfasst" and "Was: new endpoint" in rows[0].detail
    assert rows[-1].detail == "automatisch: 5xx after switch"
    assert container.changes.get(change_id).deployed_at == clock.now()
    assert container.changes.log(service="other") == []
    assert [r.action for r in container.changes.log(lang="en")][:1] == ["change.opened"]


def test_the_markdown_export_has_the_six_facts_per_change_and_every_ledger_row(
    container: Container, clock: ManualClock
) -> None:
    change_id = _story(container, clock)
    text = container.changes.export_log("md")
    assert text.startswith("# Änderungsprotokoll\n")
    assert "| Nr. | System | Version | Kategorie | Was (technisch) | Warum |" in text
    summary = next(line for line in text.splitlines() if line.startswith(f"| #{change_id} |"))
    facts = (
        "new endpoint /contracts",
        "broker request \\| BaFin",
        "clara (compliance_officer)",
        "production 27.11.2026 11:00:00",
        "redeploy 2.3.9",
        "unit, e2e",
    )
    for fact in facts:
        assert fact in summary, fact
    assert "## Verlauf" in text and "Ledger-Index" in text
    english = container.changes.export_log("md", lang="en")
    assert english.startswith("# Change log\n") and "| No. | System |" in english


def test_the_csv_export_has_stable_columns_and_one_row_per_entry(
    container: Container, clock: ManualClock
) -> None:
    change_id = _story(container, clock)
    rows = list(csv.reader(io.StringIO(container.changes.export_log("csv"))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == 6 and {r[2] for r in rows[1:]} == {str(change_id)}
    assert rows[1][6] == "change.opened" and rows[-1][6] == "change.rolled_back"


def test_an_overdue_emergency_review_is_alerted_to_the_compliance_officer(
    container: Container, clock: ManualClock
) -> None:
    change = container.changes.open(
        service="smart-bav-portal", version="9.9.1", category="emergency", fields=FIELDS, actor=DEV
    )
    container.changes.decide(change_id=change.id, actor=OPS, approve=True)
    clock.advance(timedelta(hours=49))
    container.scheduler.run_due()
    alerts = container.alerting.queries.alert_list()
    assert [a.name for a in alerts] == ["ChangeReviewOverdue"]
    assert f"change #{change.id}" in alerts[0].summary
    actions = [r.action for r in container.changes.log(change_id=change.id)]
    assert actions[-1] == "change.review_overdue"


NORD, SUED = "example-makler-nord", "example-makler-sued"


def _release_day(container: Container, clock: ManualClock) -> int:
    """Journey 1 in the ledger: gate run, four-eyes approval, a canary release with its steps,
    a flag switched on for two broker houses for this change, the handover, then a rollback."""
    change = container.changes.open(
        service="enterprise-api", version="2.4.0", category="normal", fields=FIELDS, actor=DEV
    )
    release = {"service": "enterprise-api", "version": "2.4.0", "env": "production",
               "change_id": change.id, "release_id": 3}  # fmt: skip
    with container.db.transaction() as session:
        container.ledger.record(
            session, Actor(name="ci", role="devops"), "gate.run", "project:enterprise-api@2.4.0",
            payload={"project": "enterprise-api", "version": "2.4.0", "change_id": change.id,
                     "status": "pass", "stages": {"build": "pass", "security": "pass"}},
        )  # fmt: skip
    container.changes.decide(change_id=change.id, actor=OFFICER, approve=True, comment="ok")
    clock.advance(timedelta(minutes=5))
    with container.db.transaction() as session:
        for action, extra in (
            ("release.started", {"strategy": "canary", "kind": "deploy"}),
            ("release.weight_set", {"percent": 5}),
            ("release.analysed", {"percent": 5, "verdict": "pass", "reasons": ["p95 ok"]}),
            ("release.weight_set", {"percent": 100}),
            ("release.completed", {}),
        ):
            container.ledger.record(session, SYSTEM, action, "release:3", payload=release | extra)
    container.flags.create(key="new-billing", kind="release", actor=OPS)
    container.flags.create(key="unrelated", kind="release", actor=OPS)
    container.flags.set_tenants(
        "new-billing", "production", actor=OPS, add=[NORD, SUED], reason="pilot",
        change_id=change.id,
    )  # fmt: skip
    container.flags.toggle("unrelated", "production", enabled=True, actor=OPS, reason="x")
    with container.db.transaction() as session:
        container.ledger.record(
            session, SYSTEM, "release.handover_checked", "release:3",
            payload=release | {"failed": ["runbook"]},
        )  # fmt: skip
        container.changes.record_rollback(
            session, change_id=change.id, service="enterprise-api", version="2.4.0",
            env="production", release_id=3, reason="5xx", automatic=False, actor=OPS,
        )  # fmt: skip
    return change.id


def test_the_change_log_shows_gates_approval_release_steps_flags_handover_and_rollback(
    container: Container, clock: ManualClock
) -> None:
    change_id = _release_day(container, clock)
    rows = container.changes.log(change_id=change_id)
    assert [r.action for r in rows] == [
        "change.opened", "gate.run", "change.approved", "release.started", "release.weight_set",
        "release.analysed", "release.weight_set", "release.completed", "flag.tenants_changed",
        "flag.tenants_changed", "release.handover_checked", "change.rolled_back",
    ]  # fmt: skip
    flags = [r for r in rows if r.action.startswith("flag.")]
    assert [(r.service, r.version, r.env, r.actor) for r in flags] == [
        ("enterprise-api", "2.4.0", "production", "olaf"),
    ] * 2
    assert [r.detail for r in flags] == [
        f"new-billing (production; Mandant {NORD}); Grund: pilot",
        f"new-billing (production; Mandant {SUED}); Grund: pilot",
    ]
    assert flags[0].event == "Feature-Flag für Mandanten geschaltet"
    # The same story for the service, and in English; the unrelated flag never shows.
    assert [r.index for r in container.changes.log(service="enterprise-api")] == [
        r.index for r in rows
    ]
    english = container.changes.log(change_id=change_id, lang="en")
    assert english[8].event == "flag switched for tenants"
    assert english[8].detail == f"new-billing (production; tenant {NORD}); reason: pilot"
    assert english[-1].detail == "manual: 5xx"
    # Exported: Markdown (German by default) and CSV name the flag rows too.
    text = container.changes.export_log("md", change_id=change_id)
    assert f"Mandant {SUED}" in text and "Übergabe-Checkliste geprüft" in text
    csv_rows = list(csv.reader(io.StringIO(container.changes.export_log("csv"))))
    assert [r[6] for r in csv_rows[1:]] == [r.action for r in rows]
