"""Recurring ledger duties: keep and copy checkpoints to the second location, re-verify."""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from leitstand.auth.model import Actor
from leitstand.scheduler.service import JobContext

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

    def verify(ctx: JobContext) -> None:
        report = container.audit.verify()
        actor = Actor(name=f"scheduler:{ctx.instance}", role="system")
        ledger.record(ctx.session, actor, "ledger.verified", "ledger", payload=report.evidence())

    container.scheduler.register(COPY_KIND, copy_checkpoints)
    container.scheduler.register(VERIFY_KIND, verify)


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
