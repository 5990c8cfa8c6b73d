"""Build the backup services, register their timers, and schedule them from the policy."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from leitstand.auth.model import Actor
from leitstand.backups.alertbook import AlertBook
from leitstand.backups.alerts import AlertingSink, AlertSink, LedgerSink
from leitstand.backups.drills import DRILL_KIND, DrillService
from leitstand.backups.model import DrillKind, RunStatus
from leitstand.backups.monitor import BackupMonitor
from leitstand.backups.objectives import run_timer_key
from leitstand.backups.service import RUN_KIND, BackupService
from leitstand.clock import Clock
from leitstand.db import Database
from leitstand.errors import LeitstandError
from leitstand.ledger.service import Ledger
from leitstand.policy.continuity import ON_CHANGE, BackupData
from leitstand.policy.model import Policy
from leitstand.scheduler.service import JobContext, LeaseContext, Scheduler

if TYPE_CHECKING:
    from leitstand.bootstrap import Container, Wiring

__all__ = [
    "DRILL_CHECK_KIND",
    "DRILL_KIND",
    "MONITOR_KIND",
    "RUN_KIND",
    "register_backup_jobs",
    "schedule_backup_jobs",
    "wire",
    "wire_backups",
]

MONITOR_KIND = "backups.monitor"
DRILL_CHECK_KIND = "backups.drills.check"
log = structlog.get_logger(__name__)


def wire_backups(
    *,
    db: Database,
    ledger: Ledger,
    clock: Clock,
    policy: Policy,
    home: Path,
    alerting: Any | None = None,
    scheduler: Scheduler | None = None,
) -> tuple[BackupService, DrillService, BackupMonitor]:
    """The backup, drill and monitor services; alerts go to ``alerting`` when it is there."""
    sink: AlertSink = AlertingSink(alerting) if alerting is not None else LedgerSink(ledger)
    book = AlertBook(sink)
    backups = BackupService(
        db=db,
        ledger=ledger,
        clock=clock,
        policy=policy,
        home=home,
        alerts=book,
        scheduler=scheduler,
    )
    drills = DrillService(
        db=db, ledger=ledger, clock=clock, policy=policy, home=home, backups=backups, alerts=book
    )
    monitor = BackupMonitor(
        db=db, ledger=ledger, clock=clock, policy=policy, backups=backups, alerts=book
    )
    return backups, drills, monitor


def _actor(instance: str) -> Actor:
    return Actor(name=f"scheduler:{instance}", role="system")


def register_backup_jobs(container: Container) -> None:
    """Register the handlers of the backup timers (all long duties: they run engines)."""
    backups, drills, monitor = container.backups, container.drills, container.backup_monitor

    def run_backup(ctx: LeaseContext) -> None:
        system, row = str(ctx.payload.get("system")), str(ctx.payload.get("row"))
        if system not in backups.configured_systems() or row not in backups.runnable_rows(system):
            log.warning("backup_timer_without_configuration", key=ctx.key)
            return
        trigger = str(ctx.payload.get("trigger", "schedule"))
        on_change = backups.policy.backups.schedule[row].frequency == ON_CHANGE
        if trigger == "schedule" and on_change and not _changed(container, system, row):
            return
        # One run per timer occurrence: a re-run after a crash continues the same run key.
        backups.run(
            system=system,
            row=row,
            actor=_actor(ctx.instance),
            trigger=trigger,
            due_at=ctx.due_at if trigger == "schedule" else None,
            key=f"{ctx.key}@{ctx.due_at.isoformat()}",
        )

    def measure(ctx: LeaseContext) -> None:
        monitor.measure(actor=_actor(ctx.instance))

    def drill(ctx: LeaseContext) -> None:
        kind = DrillKind(str(ctx.payload.get("kind")))
        drills.run(
            kind=kind,
            system=str(ctx.payload.get("system")),
            actor=_actor(ctx.instance),
            trigger=str(ctx.payload.get("trigger", "schedule")),
            key=ctx.key,
            target=_target(ctx.payload.get("target")),
        )

    def check_drills(ctx: JobContext) -> None:
        for system in backups.configured_systems():
            for due in monitor.drill_schedule(ctx.session, system, now=ctx.now):
                if due.due is None or due.due > ctx.now:
                    continue
                container.scheduler.schedule(
                    ctx.session,
                    kind=DRILL_KIND,
                    key=f"backups.drill:{due.kind}:{system}:{due.due.date().isoformat()}",
                    due_at=ctx.now,
                    payload={"kind": due.kind, "system": system, "trigger": "schedule"},
                    max_attempts=1,
                )

    container.scheduler.register_long(RUN_KIND, run_backup, lease=timedelta(minutes=10))
    container.scheduler.register_long(MONITOR_KIND, measure, lease=timedelta(minutes=2))
    container.scheduler.register_long(DRILL_KIND, drill, lease=timedelta(minutes=10))
    container.scheduler.register(DRILL_CHECK_KIND, check_drills)


def _target(value: object) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(str(value)) if value else None


def _changed(container: Container, system: str, row: str) -> bool:
    """An on-change row runs when the repository moved on or the last check did not succeed."""
    runs = container.backups.runs(system=system, row=row, limit=1)
    if not runs or runs[0].status != RunStatus.SUCCEEDED.value:
        return True
    engine = container.backups.engine(system, BackupData.CONFIGURATION)
    try:
        head = engine.points("git")[0].id
        dirty = bool(engine.uncommitted())  # type: ignore[attr-defined]
    except LeitstandError:
        return True
    recorded = {s.get("engine_id") for s in runs[0].sites}
    return dirty or head not in recorded


def schedule_backup_jobs(container: Container) -> list[str]:
    """Create (or update) the recurring backup timers from the policy; cancel stale ones."""
    backups = container.backups
    policy = container.policy.backups
    tz = policy.timezone
    wanted: list[str] = []
    for system in backups.configured_systems():
        for row in backups.runnable_rows(system):
            frequency = policy.schedule[row].frequency
            if frequency == ON_CHANGE:
                seconds = int(policy.monitoring.on_change_interval.total_seconds())
                recurrence = f"every {max(seconds, 1)}s"
            else:
                recurrence = frequency
            key = run_timer_key(row, system)
            container.scheduler.ensure_recurring(
                kind=RUN_KIND,
                key=key,
                recurrence=recurrence,
                timezone=tz,
                payload={"system": system, "row": row},
            )
            wanted.append(key)
    if backups.configured_systems():
        seconds = int(policy.monitoring.rpo_interval.total_seconds())
        container.scheduler.ensure_recurring(
            kind=MONITOR_KIND, key="backups.monitor", recurrence=f"every {max(seconds, 1)}s"
        )
        container.scheduler.ensure_recurring(
            kind=DRILL_CHECK_KIND,
            key="backups.drills.check",
            recurrence=policy.drills.check,
            timezone=tz,
        )
    stale = [
        j.key
        for j in container.scheduler.jobs(status="pending", limit=100_000)
        if j.kind == RUN_KIND and j.key not in wanted
    ]
    if stale:
        with container.db.transaction() as session:
            for key in stale:
                container.scheduler.cancel(session, key)
        log.info("backup_timers_cancelled", keys=stale)
    return wanted


def wire(w: Wiring) -> None:
    """The registry's entry (``leitstand.domains``): backups, drills and the RPO monitor."""
    from leitstand.alerting.service import AlertingService

    w.add(
        *wire_backups(
            db=w.db,
            ledger=w.ledger,
            clock=w.clock,
            policy=w.policy,
            home=w.settings.home,
            alerting=w.get(AlertingService),
            scheduler=w.scheduler,
        )
    )
