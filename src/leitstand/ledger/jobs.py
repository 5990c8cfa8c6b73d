"""Recurring ledger duties: keep and copy checkpoints, send them to the witnesses, re-verify.

``ledger.witness_delivery`` retries what the after-commit sender could not deliver and raises
the ``LedgerWitnessOverdue`` alert (through the alerting intake, like every other alert) for a
witness whose oldest queued checkpoint waits longer than ``ledger.witness_overdue_minutes``;
the alert resolves once that witness has cosigned its queue.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

import structlog

from leitstand.db import Database, Session
from leitstand.identity import Actor
from leitstand.ledger.witnessing import deliver_all, overdue_witnesses

if TYPE_CHECKING:
    from leitstand.bootstrap import Container

__all__ = ["check_overdue", "register_ledger_jobs", "schedule_ledger_jobs"]

COPY_KIND = "ledger.copy_checkpoints"
VERIFY_KIND = "ledger.verify"
DELIVERY_KIND = "ledger.witness_delivery"
OVERDUE_ALERT = "LedgerWitnessOverdue"
log = structlog.get_logger(__name__)


# The parts of the scheduler's handler contexts the ledger's duties use: the ledger sits below
# the scheduler (which records its runs in the ledger), so it names them instead of importing.
class JobContext(Protocol):
    """A firing inside the scheduler's transaction."""

    @property
    def session(self) -> Session: ...


class LeaseContext(Protocol):
    """A long duty under a lease, outside any transaction."""

    @property
    def db(self) -> Database: ...

    @property
    def instance(self) -> str: ...


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

    def deliver(ctx: LeaseContext) -> None:
        # Network calls: a long duty, outside any transaction.
        deliver_all(ctx.db, ledger)
        check_overdue(container, actor=Actor(name=f"scheduler:{ctx.instance}", role="system"))

    container.scheduler.register(COPY_KIND, copy_checkpoints)
    container.scheduler.register_long(VERIFY_KIND, verify, lease=timedelta(minutes=10))
    container.scheduler.register_long(DELIVERY_KIND, deliver, lease=timedelta(minutes=5))


def check_overdue(container: Container, *, actor: Actor) -> dict[str, object]:
    """Raise (or resolve) the overdue alert of every configured witness; return the overdue."""
    witnessing = container.ledger.witness
    if witnessing is None or not witnessing.remotes:
        return {}
    with container.db.transaction() as session:
        late = overdue_witnesses(session, container.clock.now(), witnessing.overdue)
        minutes = container.policy.ledger.witness_overdue_minutes
        for name in witnessing.names:
            labels = {"witness": name}
            if name in late:
                info = late[name]
                container.alerting.raise_alert(
                    session,
                    name=OVERDUE_ALERT,
                    severity="critical",
                    summary=(
                        f"ledger witness {name}: {info['pending']} checkpoint(s) not cosigned "
                        f"for more than {minutes} minutes (oldest queued {info['oldest']})"
                    ),
                    labels=labels,
                    source="ledger",
                    actor=actor,
                )
            else:
                container.alerting.resolve_alert(
                    session, name=OVERDUE_ALERT, severity="critical", labels=labels, actor=actor
                )
    return late


def schedule_ledger_jobs(container: Container) -> None:
    """Create (or update) the recurring ledger timers from the policy and settings."""
    interval = int(container.policy.evidence.checkpoint_copy_interval.total_seconds())
    container.scheduler.ensure_recurring(
        kind=COPY_KIND, key="ledger.copy_checkpoints", recurrence=f"every {max(interval, 1)}s"
    )
    if container.ledger.witness is not None and container.ledger.witness.remotes:
        container.scheduler.ensure_recurring(
            kind=DELIVERY_KIND,
            key="ledger.witness_delivery",
            recurrence=f"every {max(interval, 1)}s",
        )
    container.scheduler.ensure_recurring(
        kind=VERIFY_KIND,
        key="ledger.verify",
        recurrence=f"every {container.settings.verify_interval_seconds}s",
    )
