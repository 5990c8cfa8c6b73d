"""Wire the incident response onto the alerting service and the scheduler."""

from __future__ import annotations

from leitstand.alerting.service import AlertingService
from leitstand.incidents.actions import ActionItems
from leitstand.incidents.recurring import RECURRING
from leitstand.incidents.reporting import IncidentReporting
from leitstand.incidents.service import IncidentService
from leitstand.incidents.timers import DEADLINE, IncidentClocks
from leitstand.scheduler.service import Scheduler

__all__ = ["RECURRING_KEY", "schedule_incident_jobs", "wire_incidents"]

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
