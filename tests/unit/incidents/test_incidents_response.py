"""The response process on a real store: escalation rules, SLA timers, DORA and GDPR clocks,
action items, post-mortem deadline and the monthly recurring check."""

from __future__ import annotations

from datetime import timedelta

import pytest

from leitstand.alerting.schemas import AlertOut
from leitstand.bootstrap import Container
from leitstand.errors import ConflictError
from leitstand.incidents.schemas import AssessmentIn
from leitstand.testing import ManualClock

from .conftest import COMPLIANCE, NORD, OPS, PORTAL, SUED, entries, facts, later, pump


def _open(container: Container, severity: str = "SEV-1", **details: object) -> str:
    base: dict[str, object] = {"systems": [PORTAL], "tenants": [NORD, SUED]}
    return container.incidents.create(
        title="Portal nicht erreichbar", severity=severity, actor=OPS, details=base | details
    ).id


def _alerts(container: Container, name: str) -> list[AlertOut]:
    return [a for a in container.alerting.queries.alert_list(status=None) if a.name == name]


def test_sev1_informs_everyone_including_management_at_once(container: Container) -> None:
    incident = _open(container)
    [note] = entries(container, "notification.requested")
    assert set(note.payload["roles"]) == {
        "devops",
        "oncall",
        "developer",
        "compliance_officer",
        "management",
    }
    assert incident in note.payload["subject"]
    [informed] = entries(container, "incident.informed")
    assert informed.payload["rule"] == "sev1_incident"


def test_sev3_informs_nobody_by_rule(container: Container) -> None:
    _open(container, "SEV-3")
    assert entries(container, "notification.requested") == []


def test_a_major_tenant_informs_compliance_officer_and_management_once(
    container: Container,
) -> None:
    incident = _open(container, "SEV-2")
    reporting = container.incident_reporting
    reporting.assess(incident, NORD, AssessmentIn.model_validate(facts()), actor=COMPLIANCE)
    reporting.assess(incident, SUED, AssessmentIn.model_validate(facts()), actor=COMPLIANCE)
    notes = entries(container, "notification.requested")
    assert [set(n.payload["roles"]) for n in notes] == [{"compliance_officer", "management"}]


def test_missed_reaction_time_raises_an_alert_that_escalates_on_the_incident(
    container: Container, clock: ManualClock
) -> None:
    incident = _open(container, "SEV-2")
    later(clock, container, minutes=29)
    assert _alerts(container, "IncidentDeadlineMissed") == []
    later(clock, container, minutes=1)
    [alert] = _alerts(container, "IncidentDeadlineMissed")
    assert (alert.severity, alert.level, alert.labels["incident"]) == (
        "critical",
        2,
        incident,
    )
    later(clock, container, minutes=15, seconds=1)  # unacknowledged: escalates to level 3
    [alert] = _alerts(container, "IncidentDeadlineMissed")
    assert alert.level == 3
    assert [i.id for i in container.incidents.list()] == [incident]  # no second incident
    actions = [e.action for e in entries(container)]
    assert "incident.alert_escalated" in actions
    timeline = {e.action for e in container.incident_reporting.timeline(incident)}
    assert {"incident.deadline_missed", "alert.fired", "alert.escalated"} <= timeline
    container.incidents.acknowledge(incident, actor=OPS)
    [alert] = _alerts(container, "IncidentDeadlineMissed")
    assert alert.status == "resolved"


def test_sev1_reaction_breach_pages_the_outage_level_and_stays_on_its_incident(
    container: Container, clock: ManualClock
) -> None:
    incident = _open(container)
    later(clock, container, minutes=15, seconds=1)
    [alert] = _alerts(container, "IncidentDeadlineMissed")
    assert (alert.severity, alert.level) == ("outage", 3)
    assert [i.id for i in container.incidents.list()] == [incident]
    assert [e.subject for e in entries(container, "incident.alert_escalated")] == [
        f"incident:{incident}"
    ]


def test_acknowledged_in_time_raises_nothing(container: Container, clock: ManualClock) -> None:
    incident = _open(container)
    later(clock, container, minutes=10)
    container.incidents.acknowledge(incident, actor=OPS)
    later(clock, container, hours=1)
    assert _alerts(container, "IncidentDeadlineMissed") == []
    with pytest.raises(ConflictError, match="already acknowledged"):
        container.incidents.acknowledge(incident, actor=OPS)


def test_dora_initial_deadline_warns_alerts_and_submission_resolves(
    container: Container, clock: ManualClock
) -> None:
    incident = _open(container, "SEV-2")
    container.incidents.acknowledge(incident, actor=OPS)
    reporting = container.incident_reporting
    reporting.assess(incident, NORD, AssessmentIn.model_validate(facts()), actor=COMPLIANCE)
    [initial] = [d for d in reporting.detail(incident).deadlines if d.clock == "dora_initial"]
    assert initial.due_at.isoformat() == (clock.now() + timedelta(hours=4)).isoformat()
    later(clock, container, hours=3, minutes=1)  # policy: warn 1 h before
    [near] = _alerts(container, "IncidentDeadlineNear")
    assert (near.severity, near.tenant) == ("warning", NORD)
    later(clock, container, hours=1)
    [missed] = _alerts(container, "IncidentDeadlineMissed")
    assert (missed.severity, missed.tenant) == ("critical", NORD)
    assert _alerts(container, "IncidentDeadlineNear")[0].status == "resolved"
    reporting.submit(incident, NORD, "initial", actor=COMPLIANCE, reference="BaFin-123")
    assert _alerts(container, "IncidentDeadlineMissed")[0].status == "resolved"
    deadlines = {d.clock: d for d in reporting.detail(incident).deadlines}
    assert deadlines["dora_initial"].late is True
    assert (
        deadlines["dora_intermediate"].due_at.isoformat()
        == (clock.now() + timedelta(hours=72)).isoformat()
    )
    with pytest.raises(ConflictError, match="already submitted"):
        reporting.submit(incident, NORD, "initial", actor=COMPLIANCE)
    with pytest.raises(ConflictError, match="needs the previous stage"):
        reporting.submit(incident, NORD, "final", actor=COMPLIANCE)


def test_not_major_tenant_has_no_dora_deadlines(container: Container) -> None:
    incident = _open(container, "SEV-3")
    result = container.incident_reporting.assess(
        incident, NORD, AssessmentIn.model_validate(facts(clients_affected=1)), actor=COMPLIANCE
    )
    assert result.major is False
    clocks = {d.clock for d in container.incident_reporting.detail(incident).deadlines}
    assert not any(c.startswith("dora") for c in clocks)
    with pytest.raises(ConflictError, match="not major"):
        container.incident_reporting.submit(incident, NORD, "initial", actor=COMPLIANCE)


def test_gdpr_clock_runs_72_hours_from_awareness(container: Container, clock: ManualClock) -> None:
    incident = _open(container, "SEV-2", personal_data_affected=True)
    container.incidents.acknowledge(incident, actor=OPS)
    start = clock.now()
    [gdpr] = [
        d for d in container.incident_reporting.detail(incident).deadlines if d.clock == "gdpr"
    ]
    assert gdpr.due_at.isoformat() == (start + timedelta(hours=72)).isoformat()
    later(clock, container, hours=72)
    [alert] = _alerts(container, "IncidentDeadlineMissed")
    assert alert.labels["deadline"] == "gdpr"
    container.incident_reporting.gdpr_notified(incident, actor=COMPLIANCE)
    assert _alerts(container, "IncidentDeadlineMissed")[0].status == "resolved"


def test_overdue_action_items_are_flagged_and_alert(
    container: Container, clock: ManualClock
) -> None:
    incident = _open(container, "SEV-3")
    container.incidents.acknowledge(incident, actor=OPS)
    today = clock.now().date()
    container.incident_actions.add(
        incident, title="Connection-Pool vergrößern", owner="devops", due_date=today, actor=OPS
    )
    assert container.incident_actions.list(incident)[0].overdue is False
    later(clock, container, days=1)
    [item] = container.incident_actions.list(incident)
    assert item.overdue is True
    [alert] = _alerts(container, "IncidentDeadlineMissed")
    assert alert.labels["deadline"] == "action:1"
    container.incident_actions.change(incident, 1, actor=OPS, status="done")
    assert container.incident_actions.list(incident)[0].overdue is False
    assert _alerts(container, "IncidentDeadlineMissed")[0].status == "resolved"


def _resolve(container: Container, incident: str) -> None:
    for phase in ("containment", "analysis", "remediation", "follow_up"):
        container.incidents.set_phase(incident, phase, actor=OPS)


def test_post_mortem_is_due_in_five_working_days_and_closing_needs_it(
    container: Container, clock: ManualClock
) -> None:
    incident = _open(container, "SEV-3")  # Friday 27 Nov 2026, 10:00 Berlin
    _resolve(container, incident)
    with pytest.raises(ConflictError, match="no post-mortem yet"):
        container.incidents.close(incident, actor=OPS)
    [due] = [
        d
        for d in container.incident_reporting.detail(incident).deadlines
        if d.clock == "postmortem"
    ]
    assert due.due_at.isoformat() == "2026-12-04T16:00:00+00:00"  # Friday 4 Dec, 17:00 Berlin
    draft = container.incident_reporting.postmortem(incident, actor=OPS)
    assert draft.complete is False and draft.missing == ["root_cause", "impact"]
    later(clock, container, days=8)
    [alert] = _alerts(container, "IncidentDeadlineMissed")
    assert alert.labels["deadline"] == "postmortem"
    container.incidents.update(
        incident, {"root_cause": "Pool erschöpft", "impact": "Portal 20 min weg"}, actor=OPS
    )
    assert container.incident_reporting.postmortem(incident, actor=OPS).complete is True
    assert _alerts(container, "IncidentDeadlineMissed")[0].status == "resolved"
    assert container.incidents.close(incident, actor=OPS).status == "closed"


def test_phase_changes_stamp_milestones_and_refuse_skipping(
    container: Container, clock: ManualClock
) -> None:
    incident = _open(container, "SEV-2")
    with pytest.raises(ConflictError, match="the next phase is containment"):
        container.incidents.set_phase(incident, "analysis", actor=OPS)
    later(clock, container, minutes=5)
    view = container.incidents.set_phase(incident, "containment", actor=OPS)
    assert (view.phase, view.acknowledged_at, view.commander) == (
        "containment",
        clock.now(),
        "anna",
    )
    later(clock, container, minutes=5)
    view = container.incidents.set_phase(incident, "analysis", actor=OPS)
    assert view.contained_at == clock.now()
    with pytest.raises(ConflictError, match="cannot move back"):
        container.incidents.set_phase(incident, "containment", actor=OPS)


def test_monthly_recurring_check_finds_incidents_major_together(
    container: Container, clock: ManualClock
) -> None:
    small = facts(
        clients_affected=60, member_states_affected=["DE"], critical_function_downtime_hours=1.5
    )
    for _ in range(2):
        incident = _open(container, "SEV-3")
        container.incidents.update(incident, {"root_cause_key": "db-pool"}, actor=OPS)
        result = container.incident_reporting.assess(
            incident, NORD, AssessmentIn.model_validate(small), actor=COMPLIANCE
        )
        assert result.major is False
        later(clock, container, days=10)
    container.scheduler.ensure_recurring(
        kind="incidents.recurring", key="incidents.recurring:monthly", recurrence="0 6 1 * *"
    )
    later(clock, container, days=16)  # past 1 Jan 06:00 Berlin
    [found] = entries(container, "incident.recurring_major")
    assert found.tenant == NORD
    assert found.payload["incidents"] == ["INC-2026-0001", "INC-2026-0002"]
    assert any(
        "compliance_officer" in n.payload["roles"]
        for n in entries(container, "notification.requested")
    )
    pump(container)
    assert len(entries(container, "incident.recurring_major")) == 1
