"""Backup use cases: set up repositories, run a schedule row for a system, list runs.

A run is recorded in three steps: a short transaction claims it (idempotent per run key), the
engines work with no transaction open, and a second short transaction records the outcome with
its evidence entry and, for a failure, the alert. A process that dies mid-run leaves the claim
behind; the next attempt with the same key marks it interrupted and runs again.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog

from leitstand.auth.model import Actor
from leitstand.backups import store
from leitstand.backups.alertbook import AlertBook
from leitstand.backups.engines.base import BackupEngine
from leitstand.backups.engines.factory import build_engine, retention_for
from leitstand.backups.model import (
    Check,
    RunStatus,
    SiteResult,
    overall_status,
)
from leitstand.backups.process import Runner
from leitstand.backups.runbook import FINAL, RunBook
from leitstand.backups.schemas import RunRequestedOut, RunView, run_view
from leitstand.backups.targets import KeyStore, SystemTargets, system_targets
from leitstand.clock import Clock
from leitstand.db import Database
from leitstand.errors import Issue, LeitstandError, NotFoundError, ValidationError
from leitstand.ledger.service import Ledger
from leitstand.policy.continuity import CONTINUOUS, BackupData, BackupRow
from leitstand.policy.model import Policy
from leitstand.scheduler.service import Scheduler

__all__ = ["BackupService", "Progress"]

log = structlog.get_logger(__name__)
Progress = Callable[[str], None]
RUN_KIND = "backups.run"


def _quiet(_: str) -> None:
    return None


def _verify_sites(engine: BackupEngine, sites: list[str]) -> list[Check]:
    """Verify every site at once: the repositories are independent and verifying only reads."""
    if len(sites) < 2:
        return [engine.verify(site) for site in sites]
    with ThreadPoolExecutor(max_workers=len(sites), thread_name_prefix="leitstand-verify") as pool:
        return list(pool.map(engine.verify, sites))


class BackupService:
    """Run the policy's backup schedule on the engines and keep the evidence."""

    def __init__(
        self,
        *,
        db: Database,
        ledger: Ledger,
        clock: Clock,
        policy: Policy,
        home: Path,
        alerts: AlertBook,
        scheduler: Scheduler | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.db = db
        self.ledger = ledger
        self.clock = clock
        self.policy = policy
        self.home = home
        self.alerts = alerts
        self.keys = KeyStore(policy.backups.keys, home)
        self.book = RunBook(db=db, ledger=ledger, clock=clock, policy=policy, alerts=alerts)

    # -- configuration -------------------------------------------------------------------------

    def configured_systems(self) -> list[str]:
        return list(self.policy.backups.systems)

    def targets(self, system: str) -> SystemTargets:
        if system not in self.policy.services:
            known = ", ".join(self.policy.services)
            raise NotFoundError(f"unknown system {system!r} (systems: {known})")
        return system_targets(self.policy.backups, system, home=self.home)

    def runner(self) -> Runner:
        return Runner(secrets=self.keys.loaded())

    def engine(
        self, system: str, data: BackupData, *, runner: Runner | None = None
    ) -> BackupEngine:
        """The engine for ``data`` of ``system`` (a clear error when it is not configured)."""
        return build_engine(
            self.policy.backups,
            self.targets(system),
            data,
            keys=self.keys,
            runner=runner or self.runner(),
            home=self.home,
        )

    def data_kinds(self, system: str) -> list[BackupData]:
        config = self.targets(system).config
        present = {
            BackupData.DATABASE: config.database,
            BackupData.FILES: config.files,
            BackupData.CONFIGURATION: config.configuration,
            BackupData.SECRETS: config.secrets,
        }
        return [data for data, target in present.items() if target is not None]

    def schedule_row(self, row: str) -> BackupRow:
        found = self.policy.backups.schedule.get(row)
        if found is None:
            rows = ", ".join(self.policy.backups.schedule)
            raise ValidationError([Issue("row", f"one of the schedule rows {rows} (got {row!r})")])
        return found

    def runnable_rows(self, system: str) -> list[str]:
        """Schedule rows that run for ``system`` (continuous WAL archiving is not a run)."""
        kinds = set(self.data_kinds(system))
        return [
            key
            for key, row in self.policy.backups.schedule.items()
            if row.data in kinds and row.frequency != CONTINUOUS
        ]

    # -- set-up --------------------------------------------------------------------------------

    def setup(self, *, system: str, actor: Actor, progress: Progress = _quiet) -> dict[str, Any]:
        """Create keys, repositories on both sites and engine configuration (idempotent)."""
        done: dict[str, list[str]] = {}
        archive_command = None
        runner = self.runner()
        for data in self.data_kinds(system):
            progress(f"setting up {data.value}")
            if data is BackupData.DATABASE:
                self.keys.get("pgbackrest", create=True)
            elif data is BackupData.FILES:
                self.keys.get("restic", create=True)
            elif data is BackupData.SECRETS:
                self.keys.get("secrets", create=True)
            runner.secrets[:] = self.keys.loaded()
            engine = self.engine(system, data, runner=runner)
            done[data.value] = engine.prepare()
            command = getattr(engine, "archive_command", None)
            if callable(command):
                archive_command = command()
        with self.db.transaction() as session:
            self.ledger.record(
                session,
                actor,
                "backups.setup",
                f"system:{system}",
                payload={"system": system, "done": done, "archive_command": archive_command},
            )
        return {"system": system, "done": done, "archive_command": archive_command}

    # -- runs ----------------------------------------------------------------------------------

    def request_run(self, *, system: str, row: str, actor: Actor) -> RunRequestedOut:
        """Queue a run now for the scheduler's workers (validated first; nothing runs here)."""
        spec = self.schedule_row(row)
        if spec.frequency == CONTINUOUS:
            raise ValidationError(
                [Issue("row", f"{row} is continuous WAL archiving: nothing to run")]
            )
        self.engine(system, spec.data)
        if self.scheduler is None:  # pragma: no cover - always wired in a container
            raise ValidationError([Issue("row", "no scheduler in this process")])
        key = f"backups.run.manual:{system}:{row}:{uuid.uuid4().hex[:12]}"
        with self.db.transaction() as session:
            self.scheduler.schedule(
                session,
                kind=RUN_KIND,
                key=key,
                due_at=self.clock.now(),
                max_attempts=1,
                payload={"system": system, "row": row, "trigger": "api"},
            )
            self.ledger.record(
                session,
                actor,
                "backups.run.requested",
                f"system:{system}",
                payload={"system": system, "row": row, "job_key": key},
            )
        return RunRequestedOut(job_key=key, system=system, row=row)

    def run(
        self,
        *,
        system: str,
        row: str,
        actor: Actor,
        trigger: str = "manual",
        due_at: datetime | None = None,
        key: str | None = None,
        progress: Progress = _quiet,
    ) -> RunView:
        """Back up schedule ``row`` for ``system`` on every site, verify it, apply retention."""
        spec = self.schedule_row(row)
        if spec.frequency == CONTINUOUS:
            raise ValidationError(
                [
                    Issue(
                        "row",
                        f"{row} is continuous WAL archiving through archive_command; "
                        "there is nothing to run (`leitstand backup status` measures its RPO)",
                    )
                ]
            )
        runner = self.runner()
        engine = self.engine(system, spec.data, runner=runner)
        run_key = key or f"manual:{system}:{row}:{uuid.uuid4().hex[:12]}"
        claimed = self.book.claim(
            run_key=run_key,
            system=system,
            row=row,
            spec=spec,
            engine=engine.engine,
            actor=actor,
            trigger=trigger,
            due_at=due_at,
        )
        if claimed.status in FINAL:
            return claimed
        results: list[SiteResult] = []
        checks: list[Check] = []
        expired: list[str] = []
        error: str | None = None
        try:
            progress(
                f"{engine.engine}: backing up {spec.data.value} to {len(engine.sites)} site(s)"
            )
            results = engine.backup(spec.method)
            reached = [r.site for r in results if r.ok]
            progress(f"{engine.engine}: verifying {', '.join(reached)}")
            checks = _verify_sites(engine, reached)
            status = overall_status(results, checks)
            if status is RunStatus.SUCCEEDED:
                expired, notes = self._apply_retention(engine, spec.data, progress)
                error = "; ".join(notes) or None
            else:
                error = (
                    "; ".join(
                        [f"{r.site}: {r.error}" for r in results if not r.ok]
                        + [f"{c.name}: {c.detail}" for c in checks if not c.ok]
                    )
                    or "backup failed"
                )
        except LeitstandError as exc:
            status, error = RunStatus.FAILED, exc.message
        except BaseException:
            self.book.finish(
                claimed.id,
                RunStatus.INTERRUPTED,
                results,
                checks,
                expired,
                "interrupted before the run finished",
                actor,
            )
            raise
        return self.book.finish(claimed.id, status, results, checks, expired, error, actor)

    def _apply_retention(
        self, engine: BackupEngine, data: BackupData, progress: Progress
    ) -> tuple[list[str], list[str]]:
        retention = retention_for(self.policy.backups, data)
        removed: list[str] = []
        notes: list[str] = []
        for site in engine.sites:
            progress(f"{engine.engine}: retention on {site}")
            try:
                removed += [
                    f"{site}:{x}" for x in engine.expire(site, retention, now=self.clock.now())
                ]
            except LeitstandError as exc:
                notes.append(f"retention on {site} not applied: {exc.message}")
        return removed, notes

    def expire(self, *, system: str, actor: Actor) -> dict[str, list[str]]:
        """Apply the policy's retention to every engine of ``system`` now."""
        removed: dict[str, list[str]] = {}
        for data in self.data_kinds(system):
            engine = self.engine(system, data)
            retention = retention_for(self.policy.backups, data)
            removed[data.value] = [
                f"{site}:{x}"
                for site in engine.sites
                for x in engine.expire(site, retention, now=self.clock.now())
            ]
        with self.db.transaction() as session:
            self.ledger.record(
                session,
                actor,
                "backups.retention.applied",
                f"system:{system}",
                payload={"system": system, "removed": removed},
            )
        return removed

    # -- reading -------------------------------------------------------------------------------

    def runs(
        self, *, system: str | None = None, row: str | None = None, limit: int = 50
    ) -> list[RunView]:
        """Runs, newest first."""
        with self.db.reader() as session:
            found = store.runs(session, system=system, row=row, limit=limit)
            return [run_view(r) for r in found]

    def get_run(self, run_id: int) -> RunView:
        with self.db.reader() as session:
            row = store.run(session, run_id)
            if row is None:
                raise NotFoundError(f"backup run {run_id} does not exist")
            return run_view(row)

    def last_good(self, system: str, data: BackupData) -> RunView | None:
        """The newest run of ``data`` for ``system`` that is on every site and verified."""
        with self.db.reader() as session:
            found = store.newest_run(
                session, system=system, data=data.value, status=RunStatus.SUCCEEDED.value
            )
            return run_view(found) if found is not None else None
