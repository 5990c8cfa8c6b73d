"""Build the logs service and its recurring duty (the registry's entries for logs)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from leitstand.identity import Actor
from leitstand.logs.service import LogService
from leitstand.scheduler.service import LeaseContext

if TYPE_CHECKING:
    from leitstand.bootstrap import Container, Wiring

__all__ = ["MAINTAIN_KIND", "register_log_jobs", "schedule_log_jobs", "wire"]

#: Seal new segments, then expire old ones (``leitstand logs seal`` and ``logs expire``).
MAINTAIN_KIND = "logs.maintain"


def wire(w: Wiring) -> None:
    w.add(
        LogService(db=w.db, ledger=w.ledger, clock=w.clock, policy=w.policy, home=w.settings.home)
    )


def register_log_jobs(container: Container) -> None:
    """Register the handler of the recurring seal-and-expire duty."""
    logs = container.get(LogService)

    # Seals read whole segments: a long duty, each seal in its own transaction.
    def maintain(ctx: LeaseContext) -> None:
        actor = Actor(name=f"scheduler:{ctx.instance}", role="system")
        logs.seal(actor=actor)
        logs.expire(actor=actor)

    container.scheduler.register_long(MAINTAIN_KIND, maintain, lease=timedelta(minutes=30))


def schedule_log_jobs(container: Container) -> None:
    """Create (or update) the recurring seal-and-expire timer, every
    ``logs.maintenance_interval`` of the policy."""
    interval = int(container.policy.logs.maintenance_interval.total_seconds())
    container.scheduler.ensure_recurring(
        kind=MAINTAIN_KIND, key="logs.maintain", recurrence=f"every {max(interval, 1)}s"
    )
