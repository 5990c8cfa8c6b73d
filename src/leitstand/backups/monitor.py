"""Recovery objectives measured continuously: RPO per system, missed runs, overdue drills.

The RPO of a system is the age of its newest restorable point: for PostgreSQL the last archived
WAL (``pg_stat_archiver``) unless nothing is pending, for files the last snapshot on both sites.
The RTO estimate is the slowest latest passed drill. Readings are stored per system; evidence
and alerts follow the transitions (breached, recovered), not every reading.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from leitstand.auth.model import Actor
from leitstand.backups import store
from leitstand.backups.alertbook import AlertBook
from leitstand.backups.model import (
    RpoReading,
    database_restorable_until,
    last_occurrence,
    rpo_reading,
)
from leitstand.backups.objectives import (
    DrillDue,
    Objective,
    ObjectiveReader,
    run_timer_key,
)
from leitstand.backups.postgres import archive_status
from leitstand.backups.process import EngineError
from leitstand.backups.service import BackupService
from leitstand.backups.store import BackupStateRow, dump
from leitstand.clock import Clock
from leitstand.db import Database, Session
from leitstand.errors import LeitstandError
from leitstand.ledger.service import Ledger
from leitstand.policy.continuity import CONTINUOUS, ON_CHANGE, BackupData
from leitstand.policy.model import Policy
from leitstand.scheduler import store as timers

__all__ = ["BackupMonitor"]


class BackupMonitor:
    """Measure, store and alert on the recovery objectives of every system."""

    def __init__(
        self,
        *,
        db: Database,
        ledger: Ledger,
        clock: Clock,
        policy: Policy,
        backups: BackupService,
        alerts: AlertBook,
    ) -> None:
        self.db = db
        self.ledger = ledger
        self.clock = clock
        self.policy = policy
        self.backups = backups
        self.alerts = alerts
        self.reader = ObjectiveReader(
            db=db, clock=clock, policy=policy, data_kinds=backups.data_kinds
        )

    # -- measuring -----------------------------------------------------------------------------

    def reading(self, system: str) -> RpoReading:
        """Measure the RPO of a configured system now (connects to its database)."""
        now = self.clock.now()
        service = self.policy.services[system]
        kinds = set(self.backups.data_kinds(system))
        points: dict[str, datetime | None] = {}
        reasons: dict[str, str] = {}
        details: dict[str, Any] = {}
        if BackupData.DATABASE in kinds:
            last = self.backups.last_good(system, BackupData.DATABASE)
            last_end = last.finished_at if last is not None else None
            try:
                engine = self.backups.engine(system, BackupData.DATABASE)
                status = archive_status(engine.address())  # type: ignore[attr-defined]
                point, reason = database_restorable_until(status, now=now, last_backup=last_end)
                details["wal"] = {
                    "last_archived_wal": status.last_archived_wal,
                    "last_archived_time": status.last_archived_time.isoformat()
                    if status.last_archived_time
                    else None,
                    "pending_segments": status.pending_segments,
                    "pending_bytes": status.pending_bytes,
                    "failed_count": status.failed_count,
                }
            except (EngineError, LeitstandError) as exc:
                point, reason = None, f"cannot measure: {exc.message}"
            points["database"] = point
            reasons["database"] = reason
        if BackupData.FILES in kinds:
            last = self.backups.last_good(system, BackupData.FILES)
            points["files"] = last.started_at if last is not None else None
            reasons["files"] = "" if last is not None else "no file backup on both sites yet"
        reading = rpo_reading(points, now=now, objective=service.rpo, reasons=reasons)
        if details:
            reading = RpoReading(
                reading.restorable_until,
                reading.seconds,
                reading.objective_seconds,
                reading.breach,
                reading.reason,
                {**reading.details, **details},
            )
        return reading

    def measure(self, *, actor: Actor) -> list[Objective]:
        """Measure every configured system, store the readings, raise or resolve RPO alerts."""
        readings = {s: self.reading(s) for s in self.backups.configured_systems()}
        now = self.clock.now()
        with self.db.transaction() as session:
            for system, reading in readings.items():
                self._store(session, system, reading, now=now, actor=actor)
            self._missed(session, now=now, actor=actor)
            self._overdue(session, now=now, actor=actor)
        return self.objectives()

    def _store(
        self, session: Session, system: str, reading: RpoReading, *, now: datetime, actor: Actor
    ) -> None:
        key = f"rpo:{system}"
        status = "breach" if reading.breach else "ok"
        row = store.state(session, key)
        previous = row.status if row is not None else None
        detail = dump({"reason": reading.reason, "details": dict(reading.details)})
        if row is None:
            row = BackupStateRow(
                key=key,
                system=system,
                kind="rpo",
                status=status,
                since=now,
                measured_at=now,
                detail=detail,
            )
            store.add_state(session, row)
        elif previous != status:
            row.status, row.since = status, now
        row.measured_at, row.point, row.value, row.detail = (
            now,
            reading.restorable_until,
            reading.seconds,
            detail,
        )
        labels = {"system": system}
        if status == "breach" and previous != "breach":
            minutes = (
                f"{reading.seconds / 60:.1f} min" if reading.seconds is not None else "unknown"
            )
            self.ledger.record(
                session,
                actor,
                "backups.rpo.breached",
                f"system:{system}",
                payload={
                    "system": system,
                    "rpo_seconds": reading.seconds,
                    "objective_seconds": reading.objective_seconds,
                    "reason": reading.reason,
                },
            )
            self.alerts.open(
                session,
                name="RpoBreach",
                severity="critical",
                summary=f"RPO of {system} is {minutes}, objective "
                f"{reading.objective_seconds / 60:.0f} min: {reading.reason}"[:500],
                labels=labels,
                service=system,
                actor=actor,
                now=now,
            )
        elif status == "ok" and previous == "breach":
            self.ledger.record(
                session,
                actor,
                "backups.rpo.recovered",
                f"system:{system}",
                payload={"system": system, "rpo_seconds": reading.seconds},
            )
            self.alerts.close(
                session,
                name="RpoBreach",
                severity="critical",
                labels=labels,
                service=system,
                actor=actor,
                now=now,
            )

    def _missed(self, session: Session, *, now: datetime, actor: Actor) -> None:
        grace = self.policy.backups.monitoring.missed_after
        tz = self.policy.backups.timezone
        for system in self.backups.configured_systems():
            for row in self.backups.runnable_rows(system):
                spec = self.policy.backups.schedule[row]
                if spec.frequency in (CONTINUOUS, ON_CHANGE):
                    continue
                timer = timers.created_at(session, run_timer_key(row, system))
                if timer is None:
                    continue  # not scheduled (yet): nothing can be missed
                expected = last_occurrence(spec.frequency, tz, before=now - grace)
                if expected < timer:
                    continue
                ran = store.runs_since(session, system=system, row=row, since=expected)
                self._missed_state(
                    session, system, row, expected, missed=ran == 0, now=now, actor=actor
                )

    def _missed_state(
        self,
        session: Session,
        system: str,
        row: str,
        expected: datetime,
        *,
        missed: bool,
        now: datetime,
        actor: Actor,
    ) -> None:
        key = f"missed:{system}:{row}"
        state = store.state(session, key)
        labels = {"system": system, "row": row}
        if not missed:
            if state is not None and state.status == "missed":
                state.status, state.since, state.measured_at = "ok", now, now
            return
        if state is not None and state.status == "missed" and state.point == expected:
            return
        if state is None:
            state = BackupStateRow(
                key=key,
                system=system,
                kind="missed",
                status="missed",
                since=now,
                measured_at=now,
                point=expected,
                detail="{}",
            )
            store.add_state(session, state)
        else:
            state.status, state.since, state.measured_at, state.point = "missed", now, now, expected
        self.ledger.record(
            session,
            actor,
            "backups.run.missed",
            f"system:{system}",
            payload={"system": system, "row": row, "expected_at": expected.isoformat()},
        )
        self.alerts.open(
            session,
            name="BackupMissed",
            severity="critical",
            summary=f"Backup {row} of {system} due {expected.isoformat()} did not run",
            labels=labels,
            service=system,
            actor=actor,
            now=now,
            again=True,
        )

    def _overdue(self, session: Session, *, now: datetime, actor: Actor) -> None:
        for system in self.backups.configured_systems():
            for due in self.drill_schedule(session, system, now=now):
                labels = {"system": system, "kind": due.kind}
                if due.overdue:
                    self.alerts.open(
                        session,
                        name="RecoveryDrillOverdue",
                        severity="warning",
                        summary=f"Recovery drill {due.kind} of {system} was due "
                        f"{due.due.isoformat() if due.due else 'now'}",
                        labels=labels,
                        service=system,
                        actor=actor,
                        now=now,
                    )
                else:
                    self.alerts.close(
                        session,
                        name="RecoveryDrillOverdue",
                        severity="warning",
                        labels=labels,
                        service=system,
                        actor=actor,
                        now=now,
                    )

    # -- reading -------------------------------------------------------------------------------

    def drill_schedule(self, session: Session, system: str, *, now: datetime) -> list[DrillDue]:
        """Every applicable drill of ``system`` with its last result and next due date."""
        return self.reader.drill_schedule(session, system, now=now)

    def objectives(self) -> list[Objective]:
        """Every system of the policy with objectives, last readings and estimates."""
        return self.reader.objectives()
