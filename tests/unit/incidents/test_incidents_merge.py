"""Merging a duplicate incident into the one that lives on (closing it as a duplicate)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from leitstand import migrations
from leitstand.alerting.schemas import AlertOut
from leitstand.bootstrap import Container
from leitstand.db import Database
from leitstand.errors import ConflictError, NotFoundError, ValidationError
from leitstand.incidents.response.deadline_timers import DEADLINE
from leitstand.incidents.response.opening import EscalationOpening
from leitstand.incidents.schemas import AssessmentIn
from leitstand.scheduler.store import JobRow
from leitstand.settings import Settings
from leitstand.testing import ManualClock

from .conftest import COMPLIANCE, NORD, OPS, PORTAL, SUED, WEST, entries, facts, later


def _open(container: Container, tenants: list[str], severity: str = "SEV-2") -> str:
    return container.incidents.create(
        title="Portal nicht erreichbar",
        severity=severity,
        actor=OPS,
        details={"systems": [PORTAL], "tenants": tenants},
    ).id


def _missed(container: Container, incident: str) -> list[AlertOut]:
    return [
        a
        for a in container.alerting.queries.alert_list(status=None)
        if a.name == "IncidentDeadlineMissed" and a.labels.get("incident") == incident
    ]


def _pending_timers(container: Container, incident: str) -> list[str]:
    with container.db.reader() as session:
        return list(
            session.execute(
                sa.select(JobRow.key).where(
                    JobRow.key.startswith(f"{DEADLINE}:{incident}:"), JobRow.status == "pending"
                )
            ).scalars()
        )


def test_merge_closes_the_duplicate_and_moves_tenants_and_timeline(
    container: Container,
) -> None:
    survivor = _open(container, [NORD])
    duplicate = _open(container, [SUED, NORD])
    container.incidents.note(duplicate, "Zweite Meldung desselben Ausfalls", actor=OPS)

    merged = container.incidents.merge(
        duplicate, into=survivor, reason="dieselbe Alertmanager-Gruppe", actor=OPS
    )

    assert (merged.status, merged.merged_into) == ("closed", survivor)
    assert merged.closed_at is not None
    alive = container.incidents.get(survivor)
    assert (alive.status, alive.merged_into) == ("open", None)
    assert alive.tenants == [NORD, SUED]
    assert [i.id for i in container.incidents.list(tenant=SUED, status="open")] == [survivor]
    assert container.incidents.duplicates(survivor) == [duplicate]
    # Evidence on both incidents, with the reason.
    records = entries(container, "incident.merged")
    assert sorted(e.subject for e in records) == sorted(
        [f"incident:{duplicate}", f"incident:{survivor}"]
    )
    assert {e.payload["reason"] for e in records} == {"dieselbe Alertmanager-Gruppe"}
    assert records[0].payload["joined"]["tenants"] == [SUED]
    # The survivor's timeline shows the duplicate's entries (its opening and its note).
    timeline = container.incident_reporting.timeline(survivor)
    subjects = {(e.action, e.subject) for e in timeline}
    assert ("incident.opened", f"incident:{duplicate}") in subjects
    assert ("incident.note_added", f"incident:{duplicate}") in subjects
    assert ("incident.merged", f"incident:{survivor}") in subjects


def test_the_duplicate_clocks_stop_and_a_late_reaction_timer_does_nothing(
    container: Container, clock: ManualClock
) -> None:
    survivor = _open(container, [NORD])
    container.incidents.acknowledge(survivor, actor=OPS)
    duplicate = _open(container, [SUED])
    assert _pending_timers(container, duplicate)  # its reaction time is armed

    container.incidents.merge(duplicate, into=survivor, reason="Duplikat", actor=OPS)

    assert _pending_timers(container, duplicate) == []
    # A timer armed before the merge that still fires (e.g. another node's copy) does nothing.
    with container.db.transaction() as session:
        container.scheduler.schedule(
            session,
            kind=DEADLINE,
            key=f"{DEADLINE}:{duplicate}:reaction:-:stale:missed",
            due_at=clock.now() + timedelta(minutes=30),
            payload={
                "incident_id": duplicate,
                "key": "reaction:-",
                "due": (clock.now() + timedelta(minutes=30)).isoformat(),
                "stage": "missed",
            },
        )
    later(clock, container, hours=2)
    assert _missed(container, duplicate) == []
    assert entries(container, "incident.deadline_missed") == []
    with container.db.reader() as session:
        [status] = session.execute(
            sa.select(JobRow.status).where(JobRow.key.endswith(":stale:missed"))
        ).scalars()
    assert status == "done"
    # And the page shows no open deadline of the duplicate.
    assert container.incident_reporting.detail(duplicate).deadlines == []


def test_a_missed_deadline_alert_of_the_duplicate_is_resolved_and_leads_to_the_survivor(
    container: Container, clock: ManualClock
) -> None:
    survivor = _open(container, [NORD])
    duplicate = _open(container, [SUED])
    container.incidents.acknowledge(survivor, actor=OPS)
    later(clock, container, minutes=31)
    [alert] = _missed(container, duplicate)
    assert alert.status == "firing"

    container.incidents.merge(duplicate, into=survivor, reason="Duplikat", actor=OPS)

    assert _missed(container, duplicate)[0].status == "resolved"
    later(clock, container, hours=3)
    assert len(_missed(container, duplicate)) == 1  # never pages again
    timeline = {e.action for e in container.incident_reporting.timeline(survivor)}
    assert "incident.deadline_missed" in timeline  # the duplicate's history moved over


def test_a_dora_assessment_of_a_tenant_only_the_duplicate_had_moves_over(
    container: Container,
) -> None:
    survivor = _open(container, [NORD], "SEV-1")
    duplicate = _open(container, [WEST], "SEV-1")
    container.incident_reporting.assess(
        duplicate, WEST, AssessmentIn.model_validate(facts()), actor=COMPLIANCE
    )
    container.incidents.merge(duplicate, into=survivor, reason="Duplikat", actor=OPS)
    detail = container.incident_reporting.detail(survivor)
    assert [d.tenant for d in detail.dora] == [WEST]
    assert {d.tenant for d in detail.deadlines if d.clock == "dora_initial"} == {WEST}


def test_invalid_merges_are_refused(container: Container) -> None:
    first = _open(container, [NORD])
    second = _open(container, [SUED])
    third = _open(container, [WEST])
    with pytest.raises(ConflictError, match="into itself"):
        container.incidents.merge(first, into=first, reason="x", actor=OPS)
    with pytest.raises(ValidationError) as empty:
        container.incidents.merge(first, into=second, reason="  ", actor=OPS)
    assert empty.value.http_status == 422
    with pytest.raises(ValidationError):
        container.incidents.merge(first, into=" ", reason="x", actor=OPS)
    with pytest.raises(NotFoundError):
        container.incidents.merge(first, into="INC-2026-9999", reason="x", actor=OPS)
    container.incidents.merge(second, into=first, reason="Duplikat", actor=OPS)
    with pytest.raises(ConflictError, match="already merged") as again:
        container.incidents.merge(second, into=third, reason="x", actor=OPS)
    assert again.value.http_status == 409
    with pytest.raises(ConflictError, match="itself merged"):
        container.incidents.merge(third, into=second, reason="x", actor=OPS)
    # Nothing changed by the refused attempts.
    assert container.incidents.get(third).status == "open"
    assert len(entries(container, "incident.merged")) == 2


def test_a_chain_of_merges_ends_in_the_last_survivor(container: Container) -> None:
    first = _open(container, [NORD])
    second = _open(container, [SUED])
    third = _open(container, [WEST])
    container.incidents.merge(third, into=second, reason="Duplikat", actor=OPS)
    container.incidents.merge(second, into=first, reason="Duplikat", actor=OPS)
    assert container.incidents.get(third).merged_into == first
    assert container.incidents.duplicates(first) == [second, third]
    assert container.incidents.get(first).tenants == [NORD, SUED, WEST]
    subjects = {e.subject for e in container.incident_reporting.timeline(first)}
    assert f"incident:{third}" in subjects


def test_migration_adds_merged_into_and_downgrades(settings: Settings) -> None:
    db = Database(settings.effective_database_url, schema=settings.database_schema)
    try:
        migrations.upgrade(db)

        def columns() -> set[str]:
            inspector = sa.inspect(db.engine)
            return {c["name"] for c in inspector.get_columns("incidents", settings.database_schema)}

        assert "merged_into" in columns()
        migrations.downgrade(db, "incidents_0003")
        assert "merged_into" not in columns()
        migrations.upgrade(db)
        assert "merged_into" in columns()
    finally:
        db.dispose()


def test_a_later_alert_of_the_duplicates_group_joins_the_survivor(container: Container) -> None:
    survivor = _open(container, [NORD])
    duplicate = _open(container, [SUED])
    container.incidents.merge(duplicate, into=survivor, reason="Duplikat", actor=OPS)
    later_alert = EscalationOpening(
        escalation_id=1,
        alert_id=1,
        fingerprint="f" * 16,
        title="PortalDown",
        tenant=WEST,
        group_key="g1",
        group_incidents=(duplicate,),
    )
    with container.db.transaction() as session:
        [row] = container.incidents.opener.join_groups(session, [later_alert], actor=OPS)
        assert row is not None and row.id == survivor
    assert container.incidents.get(survivor).tenants == [NORD, SUED, WEST]
    assert container.incidents.get(duplicate).tenants == [SUED]
