"""The timeline comes from the evidence ledger: by window, system and tenant, any domain."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from leitstand.auth.model import Actor
from leitstand.bootstrap import Container
from leitstand.testing import ManualClock

from .conftest import NORD, OPS, PORTAL, SUED, WEST

RELEASES = Actor(name="leitstand:releases", role="system")


def _record(
    container: Container, action: str, subject: str, tenant: str | None = None, **payload: Any
) -> None:
    with container.db.transaction() as session:
        container.ledger.record(session, RELEASES, action, subject, tenant=tenant, payload=payload)


def test_timeline_collects_other_domains_entries_by_window_system_and_tenant(
    container: Container, clock: ManualClock
) -> None:
    _record(container, "release.started", "release:1", service=PORTAL, version="2.4.0", env="prod")
    clock.advance(timedelta(hours=5))  # the release above is outside the 4 h look-back
    _record(container, "release.rollback_decided", "release:2", service=PORTAL, version="2.4.1")
    _record(container, "release.started", "release:3", service="enterprise-api", version="9")
    _record(container, "flag.disabled", "flag:new-ui", tenant=NORD, key="new-ui")
    _record(container, "flag.disabled", "flag:other", tenant=WEST, key="other")
    _record(container, "flag.killed", "flag:global", key="global")
    _record(container, "backups.run.missed", "backup:db")  # no system, no tenant: not ours
    _record(container, "backups.rpo.breached", "backup:portal", system=PORTAL)
    _record(container, "change.rolled_back", "change:7", service=PORTAL)
    _record(container, "gameday.started", "gameday:1", service=PORTAL)  # a future domain
    _record(container, "payroll.ran", "x:1", service=PORTAL)  # not a timeline source
    clock.advance(timedelta(minutes=10))
    incident = container.incidents.create(
        title="Portal 5xx",
        severity="SEV-2",
        actor=OPS,
        details={"systems": [PORTAL], "tenants": [NORD, SUED]},
    ).id
    other = container.incidents.create(title="other", severity="SEV-4", actor=OPS).id
    container.incidents.note(incident, "Flag new-ui aus", actor=OPS)
    container.incidents.note(other, "not mine", actor=OPS)
    timeline = container.incident_reporting.timeline(incident)
    got = [(e.kind, e.subject) for e in timeline]
    assert got[:7] == [
        ("rollback", "release:2"),
        ("flag", "flag:new-ui"),
        ("flag", "flag:global"),
        ("backup", "backup:portal"),
        ("rollback", "change:7"),
        ("gameday", "gameday:1"),
        ("incident", f"incident:{incident}"),
    ]
    assert [e.text for e in timeline if e.kind == "note"] == ["Notiz: Flag new-ui aus"]
    assert timeline[1].text == "Feature-Flag new-ui: flag.disabled"
    assert timeline[0].text_en.startswith("Rollback smart-bav-portal 2.4.1")
    assert all(e.ledger_index >= 0 for e in timeline)
    subjects = {e.subject for e in timeline}
    assert not {"release:1", "release:3", "flag:other", "backup:db", "x:1"} & subjects
    assert f"incident:{other}" not in subjects


def test_timeline_of_an_escalated_alert_shows_the_alert(
    container: Container, clock: ManualClock
) -> None:
    with container.db.transaction() as session:
        container.alerting.raise_alert(
            session,
            name="HighErrorRate",
            severity="critical",
            summary="5xx > 5%",
            service=PORTAL,
            actor=RELEASES,
        )
    for _ in range(3):
        clock.advance(timedelta(minutes=8))
        container.scheduler.run_due(limit=100)
        container.scheduler.leases.drain(timeout=30)
    [incident] = container.incidents.list()
    assert (incident.severity, incident.systems, incident.source) == ("SEV-1", [PORTAL], "alert")
    actions = [e.action for e in container.incident_reporting.timeline(incident.id)]
    assert actions[0] == "alert.fired"
    assert {"alert.escalated", "incident.opened", "incident.informed"} <= set(actions)
