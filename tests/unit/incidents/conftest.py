"""Incident fixtures: actors, a tenant assessment that is major, and timer pumping."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from leitstand.auth.model import Actor
from leitstand.bootstrap import Container
from leitstand.ledger.canonical import Entry
from leitstand.ledger.service import EntryQuery
from leitstand.testing import ManualClock

OPS = Actor(name="anna", role="devops")
COMPLIANCE = Actor(name="clara", role="compliance_officer")
PORTAL = "smart-bav-portal"
NORD, SUED, WEST = "example-makler-nord", "example-makler-sued", "example-vorsorge-west"


def facts(**overrides: Any) -> dict[str, Any]:
    """Assessment facts: by default major (critical services, >10% clients, 2 member states)."""
    base: dict[str, Any] = {
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
    return {**base, **overrides}


def crowd(container: Container, clock: ManualClock, key: str, *, old: str, new: str) -> str:
    """One incident whose ``key`` list (systems, tenants) is ``[old]``, then 205 newer incidents
    of ``[new]`` (more than a list shows); the old incident's id."""
    first = container.incidents.create(
        title="Alter Vorfall", severity="SEV-4", actor=OPS, details={key: [old]}
    ).id
    clock.advance(timedelta(minutes=5))
    with container.db.transaction() as session:
        for n in range(205):
            container.incidents.open(
                session,
                title=f"Neuer Vorfall {n}",
                severity="SEV-4",
                actor=OPS,
                details={key: [new]},
            )
    return first


def pump(container: Container) -> int:
    total = 0
    for _ in range(10):
        fired = container.scheduler.run_due(limit=500)
        container.scheduler.leases.drain(timeout=30)
        total += fired
        if not fired:
            break
    return total


def later(clock: ManualClock, container: Container, **delta: float) -> None:
    clock.advance(timedelta(**delta))
    pump(container)


def entries(container: Container, action: str | None = None) -> list[Entry]:
    with container.db.reader() as session:
        return container.ledger.entries(
            session, EntryQuery(action=action, limit=None, newest_first=False)
        )
