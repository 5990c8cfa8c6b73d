"""Alert groups: one Alertmanager group opens one incident; times come from the alerts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from leitstand.alerting.schemas import parse_webhook
from leitstand.auth.model import Actor
from leitstand.bootstrap import Container
from leitstand.errors import ConflictError, ValidationError
from leitstand.incidents.schemas import AssessmentIn
from leitstand.ledger.service import EntryQuery
from leitstand.testing import ManualClock

from .conftest import later, pump

AM = Actor(name="alertmanager", role="oncall")
COMPLIANCE = Actor(name="clara", role="compliance_officer")
NORD, SUED, WEST = "example-makler-nord", "example-makler-sued", "example-vorsorge-west"
GROUP = '{}/{severity="critical"}:{alertname="HighErrorRate", service="portal"}'
MAJOR: dict[str, Any] = {
    "critical_services_affected": True,
    "malicious_unauthorised_access": False,
    "clients_affected": 300,
    "clients_total": 1000,
    "financial_counterparts_affected_pct": 0,
    "transactions_number_affected_pct": 0,
    "transactions_value_affected_pct": 0,
    "relevant_clients_affected": False,
    "reputational_impact": [],
    "duration_hours": 1,
    "critical_function_downtime_hours": 0,
    "member_states_affected": ["DE", "AT"],
    "data_loss": {
        "availability": False,
        "authenticity": False,
        "integrity": False,
        "confidentiality": False,
    },
    "economic_impact_eur": 0,
}


def _alert(fingerprint: str, tenant: str, starts_at: datetime) -> dict[str, Any]:
    return {
        "status": "firing",
        "labels": {
            "alertname": "HighErrorRate",
            "severity": "critical",
            "service": "portal",
            "tenant": tenant,
        },
        "annotations": {"summary": f"5xx rate over 5% for {tenant}"},
        "startsAt": starts_at.isoformat().replace("+00:00", "Z"),
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://127.0.0.1:9090/graph",
        "fingerprint": fingerprint,
    }


def _webhook(alerts: list[dict[str, Any]], group: str = GROUP) -> bytes:
    body = {
        "version": "4",
        "status": "firing",
        "receiver": "leitstand",
        "groupKey": group,
        "alerts": alerts,
    }
    return json.dumps(body).encode()


def _deliver(container: Container, body: bytes) -> list[int]:
    return container.alerting.receive_alertmanager(parse_webhook(body), actor=AM).alerts


def _actions(container: Container) -> list[str]:
    with container.db.reader() as session:
        entries = container.ledger.entries(session, EntryQuery(limit=None, newest_first=False))
    return [e.action for e in entries]


def test_one_group_with_two_tenants_opens_one_incident_and_later_alerts_join_it(
    alerts: Container, clock: ManualClock
) -> None:
    started = clock.now() - timedelta(minutes=2)
    first = _deliver(
        alerts, _webhook([_alert("aa01", NORD, started), _alert("aa02", SUED, started)])
    )
    pump(alerts)
    later(clock, alerts, minutes=15, seconds=1)  # nobody acknowledged: level 3
    incidents = alerts.incidents.list()
    assert [i.id for i in incidents] == ["INC-2026-0001"]
    incident = incidents[0]
    assert (incident.severity, sorted(incident.tenants)) == ("SEV-1", sorted([NORD, SUED]))
    for alert_id in first:
        assert alerts.alerting.queries.alert(alert_id).escalation.incident_id == incident.id
    assert _actions(alerts).count("incident.opened") == 1

    # A later alert of the same group (Alertmanager's next group_interval) joins at once.
    [late] = _deliver(alerts, _webhook([_alert("aa03", WEST, clock.now())]))
    assert alerts.alerting.queries.alert(late).escalation.incident_id == incident.id
    joined = alerts.incidents.get(incident.id)
    assert sorted(joined.tenants) == sorted([NORD, SUED, WEST])
    later(clock, alerts, minutes=16)  # its own escalation reaches level 3: still one incident
    assert [i.id for i in alerts.incidents.list()] == [incident.id]
    timeline = [e.action for e in alerts.incident_reporting.detail(incident.id).timeline]
    assert "incident.alert_joined" in timeline
    actions = _actions(alerts)
    assert actions.count("incident.opened") == 1
    assert actions.count("incident.alert_joined") == 2  # SUED at opening, WEST later

    # Another group is another incident.
    _deliver(alerts, _webhook([_alert("bb01", NORD, clock.now())], group="{}:{other}"))
    later(clock, alerts, minutes=16)
    assert len(alerts.incidents.list()) == 2


def test_detection_and_awareness_come_from_the_alert_and_bound_the_dora_deadline(
    alerts: Container, clock: ManualClock
) -> None:
    clock.advance(timedelta(days=3))  # Monday 2026-11-30 09:00 UTC: no weekend rule
    started = clock.now() - timedelta(minutes=10)
    _deliver(alerts, _webhook([_alert("cc01", NORD, started)]))
    pump(alerts)
    later(clock, alerts, minutes=15, seconds=1)
    [incident] = alerts.incidents.list()
    assert incident.detected_at == started
    assert incident.aware_at == started  # critical: aware at detection (the policy's default)
    assert incident.opened_at == clock.now()

    later(clock, alerts, hours=22)  # classified late: the 24 h after awareness bind
    result = alerts.incident_reporting.assess(
        incident.id, NORD, AssessmentIn.model_validate(MAJOR), actor=COMPLIANCE
    )
    assert result.major is True
    [initial] = [
        d
        for d in alerts.incident_reporting.detail(incident.id).deadlines
        if d.clock == "dora_initial"
    ]
    assert initial.due_at.isoformat() == (started + timedelta(hours=24)).isoformat()
    assert started == datetime(2026, 11, 30, 8, 50, tzinfo=UTC)


def test_the_commander_corrects_awareness_with_a_reason_and_the_dora_clock_follows(
    alerts: Container, clock: ManualClock
) -> None:
    clock.advance(timedelta(days=3))
    started = clock.now() - timedelta(minutes=10)
    _deliver(alerts, _webhook([_alert("dd01", NORD, started)]))
    pump(alerts)
    later(clock, alerts, minutes=15, seconds=1)
    [incident] = alerts.incidents.list()
    commander = Actor(name="anna", role="devops")
    alerts.incidents.acknowledge(incident.id, actor=commander)
    alerts.incident_reporting.assess(
        incident.id, NORD, AssessmentIn.model_validate(MAJOR), actor=COMPLIANCE
    )
    with pytest.raises(ConflictError, match="only the incident commander \\(anna\\)"):
        alerts.incidents.correct_times(
            incident.id, aware_at=started, reason="x", actor=Actor(name="eva", role="developer")
        )
    with pytest.raises(ValidationError) as missing:
        alerts.incidents.correct_times(incident.id, aware_at=started, reason=" ", actor=commander)
    assert missing.value.issues[0].path == "reason"

    aware = started + timedelta(minutes=5)  # the on-call person looked five minutes later
    fixed = alerts.incidents.correct_times(
        incident.id, aware_at=aware, reason="Dashboard erst 08:55 gesehen", actor=commander
    )
    assert (fixed.detected_at, fixed.aware_at) == (started, aware)
    [assessment] = alerts.incident_reporting.assessments(incident.id)
    assert assessment.aware_at.isoformat() == aware.isoformat()
    [initial] = [
        d
        for d in alerts.incident_reporting.detail(incident.id).deadlines
        if d.clock == "dora_initial"
    ]
    assert initial.due_at.isoformat() == (clock.now() + timedelta(hours=4)).isoformat()
    with alerts.db.reader() as session:
        [entry] = alerts.ledger.entries(
            session, EntryQuery(limit=None, action="incident.times_corrected")
        )
    assert entry.actor == "anna"
    assert entry.payload["reason"] == "Dashboard erst 08:55 gesehen"
    assert entry.payload["before"]["aware_at"] == started.isoformat()
    assert entry.payload["dora_assessments"] == [NORD]
