"""The record of a backup run: claimed before the engines start, finished with its evidence.

Claiming is idempotent per run key (a timer occurrence): a finished run is returned as it is, an
unfinished one left by a dead process is marked interrupted and claimed again. Finishing records
the outcome, its evidence entry and, for a failure, the alert, in one transaction.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from leitstand.auth.model import Actor
from leitstand.backups import store
from leitstand.backups.alertbook import AlertBook
from leitstand.backups.model import Check, RunStatus, SiteResult, superseding_full
from leitstand.backups.schemas import RunView, run_view
from leitstand.backups.store import BackupRunRow, dump
from leitstand.clock import Clock
from leitstand.db import Database, Session
from leitstand.errors import NotFoundError
from leitstand.ledger.service import Ledger
from leitstand.policy.continuity import BackupRow
from leitstand.policy.model import Policy

__all__ = ["FINAL", "RunBook"]

FINAL = frozenset(
    s.value for s in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.PARTIAL, RunStatus.SKIPPED)
)


class RunBook:
    """Claims and finishes backup runs with their evidence and alerts."""

    def __init__(
        self, *, db: Database, ledger: Ledger, clock: Clock, policy: Policy, alerts: AlertBook
    ) -> None:
        self.db = db
        self.ledger = ledger
        self.clock = clock
        self.policy = policy
        self.alerts = alerts

    def claim(
        self,
        *,
        run_key: str,
        system: str,
        row: str,
        spec: BackupRow,
        engine: str,
        actor: Actor,
        trigger: str,
        due_at: datetime | None,
    ) -> RunView:
        now = self.clock.now()
        with self.db.transaction() as session:
            existing = store.run_by_key(session, run_key)
            if existing is not None and existing.status in FINAL:
                return run_view(existing)
            if existing is not None:
                # A claim left by a process that died: that attempt was interrupted.
                self.ledger.record(
                    session,
                    actor,
                    "backups.run.interrupted",
                    f"backup_run:{existing.id}",
                    payload={"run_key": run_key, "attempt": existing.attempts},
                )
                existing.attempts += 1
                existing.status = RunStatus.RUNNING.value
                existing.started_at = now
                existing.actor = actor.name
                row_obj = existing
            else:
                row_obj = BackupRunRow(
                    run_key=run_key,
                    system=system,
                    row=row,
                    data=spec.data.value,
                    method=spec.method.value,
                    engine=engine,
                    trigger=trigger,
                    actor=actor.name,
                    status=RunStatus.RUNNING.value,
                    attempts=1,
                    due_at=due_at,
                    started_at=now,
                    sites="[]",
                    verification="[]",
                    expired="[]",
                )
                store.add_run(session, row_obj)
            session.flush()
            full = None
            if due_at is not None:
                schedule = {
                    k: (r.data, r.method, r.frequency)
                    for k, r in self.policy.backups.schedule.items()
                }
                full = superseding_full(
                    schedule, row=row, due=due_at, tz=self.policy.backups.timezone
                )
            if full is not None:
                row_obj.status = RunStatus.SKIPPED.value
                row_obj.finished_at = now
                row_obj.error = f"superseded by {full}, due at the same time"
                self.ledger.record(
                    session,
                    actor,
                    "backups.run.skipped",
                    f"backup_run:{row_obj.id}",
                    payload=self._payload(row_obj),
                )
                return run_view(row_obj)
            self.ledger.record(
                session,
                actor,
                "backups.run.started",
                f"backup_run:{row_obj.id}",
                payload={"run_key": run_key, "system": system, "row": row, "trigger": trigger},
            )
            return run_view(row_obj)

    def finish(
        self,
        run_id: int,
        status: RunStatus,
        results: list[SiteResult],
        checks: list[Check],
        expired: list[str],
        error: str | None,
        actor: Actor,
    ) -> RunView:
        now = self.clock.now()
        with self.db.transaction() as session:
            run = store.run(session, run_id)
            if run is None:  # pragma: no cover - rows are never deleted
                raise NotFoundError(f"backup run {run_id} vanished")
            run.status = status.value
            run.finished_at = now
            sizes = [r.size_bytes for r in results if r.ok and r.size_bytes is not None]
            run.size_bytes = max(sizes) if sizes else None
            stored = [r.stored_bytes for r in results if r.ok and r.stored_bytes is not None]
            run.stored_bytes = sum(stored) if stored else None
            run.sites = dump([asdict(r) for r in results])
            run.verification = dump([asdict(c) for c in checks])
            run.expired = dump(expired)
            run.error = error
            session.flush()
            self.ledger.record(
                session,
                actor,
                f"backups.run.{status.value}",
                f"backup_run:{run.id}",
                payload=self._payload(run),
            )
            self._alert(session, run, status, actor)
            return run_view(run)

    def _alert(self, session: Session, run: BackupRunRow, status: RunStatus, actor: Actor) -> None:
        labels = {"system": run.system, "row": run.row}
        now = self.clock.now()
        if status in (RunStatus.FAILED, RunStatus.PARTIAL):
            name = "BackupFailed" if status is RunStatus.FAILED else "BackupNotOnAllSites"
            self.alerts.open(
                session,
                name=name,
                severity="critical",
                summary=f"Backup {run.row} of {run.system} {status.value}: {run.error or ''}"[:500],
                labels=labels,
                service=run.system,
                actor=actor,
                now=now,
                again=True,
            )
        elif status is RunStatus.SUCCEEDED:
            for name in ("BackupFailed", "BackupNotOnAllSites", "BackupMissed"):
                self.alerts.close(
                    session,
                    name=name,
                    severity="critical",
                    labels=labels,
                    service=run.system,
                    actor=actor,
                    now=now,
                )

    @staticmethod
    def _payload(run: BackupRunRow) -> dict[str, Any]:
        view = run_view(run)
        data = view.as_dict()
        data.pop("id", None)
        data["run_id"] = run.id
        return data
