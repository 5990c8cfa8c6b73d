"""Recurring incidents (DORA Art. 8(2), Delegated Regulation 2024/1772): non-major incidents of
one tenant with the same root cause that together meet the major criteria within six months are
one reportable major incident, found by the monthly check on the scheduler's timer."""

from __future__ import annotations

from typing import Any

import pytest

from leitstand.alerting.schemas import AlertOut
from leitstand.bootstrap import Container
from leitstand.incidents.reporting.dora_reports import report_markdown
from leitstand.incidents.schemas import AssessmentIn
from leitstand.incidents.wiring import schedule_incident_jobs
from leitstand.testing import ManualClock

from .conftest import COMPLIANCE, NORD, OPS, PORTAL, SUED, entries, facts, later

#: Not major alone (6 % of clients, 1.5 h downtime); two of them: 12 % and 3 h, two criteria.
SMALL = {"clients_affected": 60, "member_states_affected": ["DE"]}
DOWNTIME = {"critical_function_downtime_hours": 1.5}


def _incident(container: Container, root_cause: str, **overrides: Any) -> str:
    iid = container.incidents.create(
        title="Datenbank-Pool erschöpft",
        severity="SEV-3",
        actor=OPS,
        details={"systems": [PORTAL], "tenants": [NORD, SUED]},
    ).id
    container.incidents.update(iid, {"root_cause_key": root_cause}, actor=OPS)
    given = AssessmentIn.model_validate(facts(**(SMALL | DOWNTIME | overrides)))
    assessed = container.incident_reporting.assess(iid, NORD, given, actor=COMPLIANCE)
    assert assessed.major is False  # each one alone is not reportable
    return iid


def _monthly_check(container: Container, clock: ManualClock) -> None:
    """The policy's monthly timer, run by the scheduler once the month has turned."""
    schedule_incident_jobs(container.scheduler, container.policy.incidents.response.recurring_check)
    later(clock, container, days=35)


def _recurring_alerts(container: Container) -> list[AlertOut]:
    alerts = container.alerting.queries.alert_list(status=None)
    return [a for a in alerts if a.name == "RecurringMajorIncident"]


def test_recurring_incidents_major_together_make_a_report_due(
    container: Container, clock: ManualClock
) -> None:
    first = _incident(container, "db-pool")
    later(clock, container, days=12)
    second = _incident(container, "db-pool")
    before = {e.payload["rule"] for e in entries(container, "incident.informed")}

    _monthly_check(container, clock)

    # Evidence: one finding for the tenant that assessed, with the criteria met together.
    [found] = entries(container, "incident.recurring_major")
    assert found.tenant == NORD and found.subject == f"incident:{second}"
    assert found.payload["incidents"] == [first, second]
    assert found.payload["root_cause_key"] == "db-pool"
    assert set(found.payload["criteria_met"]) >= {
        "critical_services",
        "clients_counterparts_transactions",
        "duration_and_downtime",
    }
    assert "Art. 8 Abs. 2" in found.payload["label_de"]
    # The report duty: the rules for reportable incidents inform the compliance officer ...
    informed = [e for e in entries(container, "incident.informed") if e.subject == found.subject]
    new_rules = {e.payload["rule"] for e in informed} - before
    assert new_rules, "a reportable-incident rule fired for the latest incident"
    assert any(
        "compliance_officer" in n.payload["roles"]
        for n in entries(container, "notification.requested")
        if second in n.payload["subject"]
    )
    # ... an alert is raised for the tenant, and the final report lists the recurring incidents.
    [alert] = _recurring_alerts(container)
    assert alert.tenant == NORD
    assert first in alert.summary and second in alert.summary
    final = report_markdown(container.incident_reporting.draft(second, NORD, "final"), "de")
    assert f"| {first}; {second} |" in final.split("| 4.15 |")[1].splitlines()[0]
    # Checking again next month records nothing twice.
    later(clock, container, days=31)
    assert len(entries(container, "incident.recurring_major")) == 1
    assert len(_recurring_alerts(container)) == 1


@pytest.mark.parametrize(
    ("causes", "overrides", "gap_days"),
    [
        pytest.param(("db-pool", "db-pool"), {"critical_function_downtime_hours": 0.5}, 12,
                     id="below-thresholds-together"),
        pytest.param(("db-pool", "dns"), {}, 12, id="different-root-causes"),
        pytest.param(("db-pool", "db-pool"), {}, 200, id="more-than-six-months-apart"),
    ],
)  # fmt: skip
def test_recurring_incidents_not_major_together_make_no_report_due(
    container: Container,
    clock: ManualClock,
    causes: tuple[str, str],
    overrides: dict[str, Any],
    gap_days: int,
) -> None:
    first = _incident(container, causes[0], **overrides)
    later(clock, container, days=gap_days)
    second = _incident(container, causes[1], **overrides)

    _monthly_check(container, clock)

    assert entries(container, "incident.recurring_major") == []
    assert _recurring_alerts(container) == []
    with container.db.reader() as session:
        assert container.incident_reporting.recurring(session, now=clock.now(), record=False) == []
    for iid in (first, second):
        final = report_markdown(container.incident_reporting.draft(iid, NORD, "final"), "de")
        assert "| 4.15 | Angaben zu wiederholten IKT-bezogenen Vorfällen | keine |" in final
