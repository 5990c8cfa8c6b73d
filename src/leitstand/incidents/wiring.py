"""Wire the incident response onto the alerting service and the scheduler."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from leitstand.alerting.outbox import Outbox
from leitstand.incidents.dora.recurring import RECURRING
from leitstand.incidents.reporting.service import IncidentReporting
from leitstand.incidents.response.actions import ActionItems
from leitstand.incidents.response.deadline_timers import DEADLINE, AlertSink, IncidentClocks
from leitstand.incidents.service import IncidentService
from leitstand.scheduler.service import Scheduler

if TYPE_CHECKING:
    from leitstand.bootstrap import Wiring

__all__ = ["RECURRING_KEY", "Alerting", "schedule_incident_jobs", "wire", "wire_incidents"]

RECURRING_KEY = "incidents.recurring:monthly"


class Alerting(AlertSink, Protocol):
    """What the incident response needs of the alerting service: raise, resolve and notify
    (``AlertSink``), and its notification outbox for tenant notices."""

    @property
    def outbox(self) -> Outbox: ...


def wire_incidents(
    *, incidents: IncidentService, alerting: Alerting, scheduler: Scheduler
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
    """The registry's entry (``leitstand.domains``): the incident response on top of alerting
    (the incident service itself is built with alerting's escalation, see alerting.wiring)."""
    from leitstand.alerting.service import AlertingService

    actions, reporting = wire_incidents(
        incidents=w.get(IncidentService), alerting=w.get(AlertingService), scheduler=w.scheduler
    )
    w.add(actions, reporting)
