"""The seed's escalation rules fired by alerts: certificate, capacity, security gate."""

from __future__ import annotations

import pytest

from leitstand.auth.model import Actor
from leitstand.bootstrap import Container
from leitstand.ledger.service import EntryQuery
from leitstand.policy.model import Policy
from leitstand.testing.mail import SmtpSink, WebhookSink
from support.gate_runs import record_gate_run

from .conftest import PEOPLE, alerting_policy, pump

PROM = Actor(name="alertmanager", role="oncall")
SVEN = {"name": "Sven Sec", "roles": ["security"], "email": "sven@example.org"}


@pytest.fixture
def policy(smtp: SmtpSink, hook: WebhookSink) -> Policy:
    return alerting_policy(smtp.port, people={**PEOPLE, "sven": SVEN})


def _raise(container: Container, name: str, severity: str, **labels: str) -> int:
    with container.db.transaction() as session:
        ref = container.alerting.raise_alert(
            session,
            name=name,
            severity=severity,
            summary=f"{name} ({severity})",
            labels=labels,
            service="portal",
            actor=PROM,
        )
    return ref.id


def _rules(container: Container) -> list[tuple[str, list[str]]]:
    with container.db.reader() as session:
        entries = container.ledger.entries(
            session, EntryQuery(limit=None, action="alert.escalation_rule", newest_first=False)
        )
    return [(e.payload["rule"], e.payload["roles"]) for e in entries]


def test_certificate_below_7_days_informs_the_compliance_officer_once(
    alerts: Container, smtp: SmtpSink
) -> None:
    _raise(alerts, "CertificateExpiry", "warning", metric="certificate_expiry", instance="a")
    assert _rules(alerts) == []  # below 30 days: a warning, nobody beyond DevOps
    _raise(alerts, "CertificateExpiry", "critical", metric="certificate_expiry", instance="a")
    _raise(alerts, "CertificateExpiry", "critical", metric="certificate_expiry", instance="a")
    pump(alerts)
    assert _rules(alerts) == [("certificate_expiry", ["compliance_officer"])]
    mails = smtp.wait_for(4)
    [rule_mail] = [m for m in mails if "Zertifikat-Ablauf < 7 Tage" in m.subject]
    assert rule_mail.recipients == ["clara@example.org"]
    text = rule_mail.text()
    assert "Zu tun:" in text and "- Sofort erneuern" in text
    assert "- Compliance Officer informieren" in text


def test_capacity_limit_reached_informs_architects_and_management(
    alerts: Container, smtp: SmtpSink
) -> None:
    _raise(alerts, "Disk", "critical", metric="disk", instance="db-1")
    pump(alerts)
    assert _rules(alerts) == [("capacity_limit", ["developer", "management"])]
    mails = smtp.wait_for(6)  # level 2 (DevOps, on call), then one mail per rule recipient
    rule_mails = [m for m in mails if "Kapazitätsgrenze erreicht" in m.subject]
    assert {r for m in rule_mails for r in m.recipients} == {
        "carla@example.org",
        "dirk@example.org",
        "eva@example.org",
        "mario@example.org",
    }
    assert all("Skalierungsentscheidung" in m.text() for m in rule_mails)
    _raise(alerts, "HighErrorRate", "critical", metric="http_5xx_rate")
    assert len(_rules(alerts)) == 1  # not a capacity metric


def test_a_security_gate_failing_three_runs_in_a_row_involves_the_security_engineer(
    alerts: Container, smtp: SmtpSink
) -> None:
    def open_alerts() -> list[str]:
        return [a.name for a in alerts.alerting.queries.alert_list(status="firing")]

    for version in ("2.4.0", "2.4.1"):
        record_gate_run(alerts, service="enterprise-api", version=version, failed=["security"])
    record_gate_run(alerts, service="enterprise-api", version="2.4.1", stages=["build", "test"])
    assert open_alerts() == []  # two failures are not yet "permanently"
    record_gate_run(alerts, service="enterprise-api", version="2.4.2", failed=["security"])
    assert open_alerts() == ["SecurityGateFailing"]
    record_gate_run(alerts, service="enterprise-api", version="2.4.3", failed=["security"])
    assert open_alerts() == ["SecurityGateFailing"]  # a repeat of the open alert
    assert _rules(alerts) == [("security_gate_failing", ["security"])]
    pump(alerts)
    mails = smtp.wait_for(3)  # level 2 (DevOps, on call) and the security engineer
    [rule_mail] = [m for m in mails if "Security-Gate" in m.subject]
    assert rule_mail.recipients == ["sven@example.org"]
    assert "Security Engineer einbeziehen" in rule_mail.text()
    record_gate_run(alerts, service="enterprise-api", version="2.4.4")
    assert open_alerts() == []
