"""The seed's "capacity limit reached" rule (Solution Architect + management decide on scaling)
for the resources its policy rule lists beyond disk: memory, CPU, database connections, queue
depth. A critical alert on one of them informs developers (architects) and management."""

from __future__ import annotations

import pytest

from leitstand.auth.model import Actor
from leitstand.bootstrap import Container
from leitstand.ledger.service import EntryQuery
from leitstand.policy import default_policy
from leitstand.testing.mail import SmtpSink

from .conftest import pump

PROM = Actor(name="alertmanager", role="oncall")
RULE = ("capacity_limit", ["developer", "management"])


def _raise(container: Container, name: str, severity: str, **labels: str) -> None:
    with container.db.transaction() as session:
        container.alerting.raise_alert(
            session,
            name=name,
            severity=severity,
            summary=f"{name} ({severity})",
            labels=labels,
            service="portal",
            actor=PROM,
        )


def _rules(container: Container) -> list[tuple[str, list[str]]]:
    with container.db.reader() as session:
        entries = container.ledger.entries(
            session, EntryQuery(limit=None, action="alert.escalation_rule", newest_first=False)
        )
    return [(e.payload["rule"], e.payload["roles"]) for e in entries]


def test_the_rule_lists_more_resources_than_disk() -> None:
    rule = default_policy().incidents.escalation_rules["capacity_limit"]
    assert {"memory", "cpu", "db_connections", "queue_depth"} <= set(rule.alerts)


def test_memory_at_its_limit_informs_architects_and_management(
    alerts: Container, smtp: SmtpSink
) -> None:
    _raise(alerts, "HostMemoryHigh", "warning", metric="memory", instance="app-1")
    assert _rules(alerts) == []  # a warning is not yet the limit
    _raise(alerts, "HostMemoryHigh", "critical", metric="memory", instance="app-1")
    pump(alerts)
    assert _rules(alerts) == [RULE]
    mails = smtp.wait_for(6)  # level 2 (DevOps, on call), then one mail per rule recipient
    rule_mails = [m for m in mails if "Kapazitätsgrenze erreicht" in m.subject]
    assert {r for m in rule_mails for r in m.recipients} == {
        "carla@example.org",
        "dirk@example.org",
        "eva@example.org",
        "mario@example.org",
    }
    assert all("Skalierungsentscheidung" in m.text() for m in rule_mails)
    _raise(alerts, "HostMemoryHigh", "critical", metric="memory", instance="app-1")
    assert _rules(alerts) == [RULE]  # the repeat of an open alert fires nothing again


@pytest.mark.parametrize("metric", ["cpu", "db_connections", "queue_depth"])
def test_other_listed_resources_at_their_limit_fire_the_rule(
    alerts: Container, metric: str
) -> None:
    _raise(alerts, f"Capacity_{metric}", "critical", metric=metric, instance="db-1")
    assert _rules(alerts) == [RULE]
