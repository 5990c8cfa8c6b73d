"""Construct the alerting service and register its timer handlers.

The incident response escalations open incidents with is connected by incidents' own wiring
(``leitstand.incidents.wiring``, after this one in the registry) through
``AlertingService.connect_incidents`` (the ``IncidentResponse`` port).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING

from leitstand.alerting.escalation import ESCALATE, Escalator
from leitstand.alerting.notify import AppriseDelivery, Delivery
from leitstand.alerting.outbox import DELIVER, Outbox
from leitstand.alerting.service import AlertingService
from leitstand.clock import Clock
from leitstand.db import Database
from leitstand.ledger.service import Ledger
from leitstand.policy.model import Policy
from leitstand.scheduler.service import Scheduler

if TYPE_CHECKING:
    from leitstand.bootstrap import Wiring

__all__ = ["wire", "wire_alerting"]


def wire_alerting(
    *,
    db: Database,
    ledger: Ledger,
    clock: Clock,
    policy: Policy,
    scheduler: Scheduler,
    delivery: Delivery | None = None,
    environ: Mapping[str, str] | None = None,
) -> AlertingService:
    """Build the service; the scheduler learns the escalation and delivery timers."""
    outbox = Outbox(
        ledger=ledger,
        clock=clock,
        scheduler=scheduler,
        policy=policy,
        delivery=delivery or AppriseDelivery(environ),
        environ=environ,
    )
    escalator = Escalator(
        ledger=ledger,
        clock=clock,
        scheduler=scheduler,
        policy=policy,
        outbox=outbox,
    )
    alerting = AlertingService(
        db=db, ledger=ledger, clock=clock, policy=policy, escalator=escalator, outbox=outbox
    )
    scheduler.register(ESCALATE, escalator.handle, many=escalator.handle_many)
    # Deliveries talk to the network: a long duty, so no transaction is held while sending.
    timeout = policy.alerting.notifications.timeout
    scheduler.register_long(DELIVER, outbox.handle, lease=max(timeout * 3, timedelta(seconds=30)))
    return alerting


def wire(w: Wiring) -> None:
    """The registry's entry (``leitstand.domains``): the alerting service."""
    alerting = wire_alerting(
        db=w.db, ledger=w.ledger, clock=w.clock, policy=w.policy, scheduler=w.scheduler
    )
    w.add(alerting)
