"""Recurring ledger duties: keep and copy checkpoints to the second location, re-verify."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import structlog

from leitstand.auth.model import Actor
from leitstand.scheduler.service import JobContext, LeaseContext

if TYPE_CHECKING:
    from leitstand.bootstrap import Container

__all__ = ["register_ledger_jobs", "schedule_ledger_jobs"]

COPY_KIND = "ledger.copy_checkpoints"
VERIFY_KIND = "ledger.verify"
log = structlog.get_logger(__name__)


def register_ledger_jobs(container: Container) -> None:
    """Register the handlers of the ledger's timers."""
    ledger = container.ledger

    def copy_checkpoints(ctx: JobContext) -> None:
        ledger.keep_head(ctx.session)
        copied = ledger.copy_to_witness(ctx.session)
        if copied:
            log.info("checkpoints_copied", count=copied)

    def verify(ctx: LeaseContext) -> None:
        # A long duty: it reads the whole ledger without holding a write transaction open.
        actor = Actor(name=f"scheduler:{ctx.instance}", role="system")
        container.audit.verify(actor=actor)

    container.scheduler.register(COPY_KIND, copy_checkpoints)
    container.scheduler.register_long(VERIFY_KIND, verify, lease=timedelta(minutes=10))


def schedule_ledger_jobs(container: Container) -> None:
    """Create (or update) the recurring ledger timers from the policy and settings."""
    interval = int(container.policy.evidence.checkpoint_copy_interval.total_seconds())
    container.scheduler.ensure_recurring(
        kind=COPY_KIND, key="ledger.copy_checkpoints", recurrence=f"every {max(interval, 1)}s"
    )
    container.scheduler.ensure_recurring(
        kind=VERIFY_KIND,
        key="ledger.verify",
        recurrence=f"every {container.settings.verify_interval_seconds}s",
    )
