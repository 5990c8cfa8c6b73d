"""Wire the incident response onto the alerting service and the scheduler."""

from __future__ import annotations

from typing import TYPE_CHECKING

from leitstand.alerting.service import AlertingService
from leitstand.incidents.dora.recurring import RECURRING
from leitstand.incidents.reporting.service import IncidentReporting
from leitstand.incidents.response.actions import ActionItems
from leitstand.incidents.response.deadline_timers import DEADLINE, IncidentClocks
from leitstand.incidents.service import IncidentService
from leitstand.scheduler.service import Scheduler

if TYPE_CHECKING:
    from leitstand.bootstrap import Wiring

__all__ = ["RECURRING_KEY", "schedule_incident_jobs", "wire", "wire_incidents"]

RECURRING_KEY = "incidents.recurring:monthly"


def wire_incidents(
    *, incidents: IncidentService, alerting: AlertingService, scheduler: Scheduler
) -> tuple[ActionItems, IncidentReporting]:
    """Bind deadline timers and alerts to ``incidents``; register the timer handlers."""
    clocks = IncidentClocks(
        ledger=incidents.ledger, policy=incidents.policy, scheduler=scheduler, alerts=alerting
    )
    incidents.bind(clocks)
    reporting = IncidentReporting(incidents, outbox=alerting.outbox)
    scheduler.register(DEADLINE, clocks.handle)
    scheduler.register(RECURRING, reporting.handle_recurring)
    return ActionItems(incidents), reporting


def schedule_incident_jobs(scheduler: Scheduler, recurrence: str) -> None:
    """The monthly recurring-incident check (DORA Art. 8(2)), for `leitstand up`."""
    scheduler.ensure_recurring(kind=RECURRING, key=RECURRING_KEY, recurrence=recurrence)


def wire(w: Wiring) -> None:
    """The registry's entry (``leitstand.domains``, after alerting): the incident service, the
    incident response on top of alerting, and the service connected to alerting's escalation
    as its ``IncidentResponse`` (``leitstand.alerting.incident_port``)."""
    alerting = w.get(AlertingService)
    incidents = IncidentService(db=w.db, ledger=w.ledger, clock=w.clock, policy=w.policy)
    alerting.connect_incidents(incidents)
    actions, reporting = wire_incidents(
        incidents=incidents, alerting=alerting, scheduler=w.scheduler
    )
    w.add(incidents, actions, reporting)
