"""Recovery drills: validate, claim, run in a segregated scratch copy, file the Testprotokoll.

The drill's evidence entry carries the Testprotokoll (JSON and the German Markdown). A failed
drill (or a queued one that cannot start) raises the critical alert ``RecoveryDrillFailed``;
the alerting domain escalates it and fires the escalation rule that names it (``alerts`` of
``incidents.escalation_rules``; the seed's "backup test failed" informs the compliance officer),
with the same evidence (``alert.escalation_rule``) as every other rule.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog

from leitstand.auth.model import Actor
from leitstand.backups import store
from leitstand.backups.alertbook import AlertBook
from leitstand.backups.drill_kinds import PROCEDURES
from leitstand.backups.drill_steps import DrillRun, DrillSetup
from leitstand.backups.engines.gitconfig import GitConfigEngine
from leitstand.backups.engines.pgbackrest import PgBackRestEngine
from leitstand.backups.engines.restic import ResticEngine
from leitstand.backups.model import DrillKind, DrillStatus, Site
from leitstand.backups.objectives import applicable_drills
from leitstand.backups.postgres import archive_status
from leitstand.backups.process import EngineError
from leitstand.backups.report import render_markdown
from leitstand.backups.schemas import DrillRequestedOut, DrillView, drill_view
from leitstand.backups.service import BackupService, Progress
from leitstand.backups.store import DrillRow, dump
from leitstand.backups.targets import resolve_path
from leitstand.backups.testprotokoll import build_protocol
from leitstand.clock import Clock
from leitstand.db import Database, Session
from leitstand.errors import Issue, LeitstandError, NotFoundError, ValidationError
from leitstand.ledger.service import Ledger
from leitstand.policy.continuity import BackupData
from leitstand.policy.model import Policy

__all__ = ["DrillService"]

log = structlog.get_logger(__name__)
DRILL_KIND = "backups.drill"
_FINAL = {DrillStatus.PASSED.value, DrillStatus.FAILED.value}


def _quiet(_: str) -> None:
    return None


class DrillService:
    """Run the seed's recovery tests and keep their Testprotokolle."""

    def __init__(
        self,
        *,
        db: Database,
        ledger: Ledger,
        clock: Clock,
        policy: Policy,
        home: Path,
        backups: BackupService,
        alerts: AlertBook,
    ) -> None:
        self.db = db
        self.ledger = ledger
        self.clock = clock
        self.policy = policy
        self.home = home
        self.backups = backups
        self.alerts = alerts

    # -- preparing -----------------------------------------------------------------------------

    def _setup(
        self, kind: DrillKind, system: str, progress: Progress, started: datetime
    ) -> DrillSetup:
        targets = self.backups.targets(system)
        kinds = set(self.backups.data_kinds(system))
        if kind not in applicable_drills(kinds):
            need = "a database and files" if kind is DrillKind.APPLICATION_RESTORE else "a database"
            raise ValidationError(
                [Issue("system", f"a {kind.value} drill needs {need} in backups.systems.{system}")]
            )
        runner = self.backups.runner()

        def engine(data: BackupData) -> Any:
            return self.backups.engine(system, data, runner=runner) if data in kinds else None

        pg: PgBackRestEngine = engine(BackupData.DATABASE)
        files: ResticEngine | None = engine(BackupData.FILES)
        config = targets.config
        site = Site.SECONDARY if kind is DrillKind.DISASTER_RECOVERY else Site.PRIMARY
        disaster = kind is DrillKind.DISASTER_RECOVERY
        secrets: ResticEngine | None = engine(BackupData.SECRETS) if disaster else None
        git: GitConfigEngine | None = engine(BackupData.CONFIGURATION) if disaster else None
        assert config.database is not None
        return DrillSetup(
            kind=kind,
            system=system,
            site=site,
            database=config.database,
            pgbackrest=pg,
            files=files,
            secrets=secrets,
            configuration=git,
            scratch_root=resolve_path(self.policy.backups.drills.scratch_dir, self.home),
            runner=runner,
            timeout=self.policy.backups.drills.timeout.total_seconds(),
            progress=progress,
            started=started,
            consistency_sql=config.files.consistency.sql
            if config.files is not None and config.files.consistency is not None
            else None,
        )

    def recovery_window(
        self, system: str, *, site: Site = Site.PRIMARY
    ) -> tuple[datetime, datetime]:
        """The earliest and latest point a PITR of ``system`` can reach on ``site``."""
        engine = self.backups.engine(system, BackupData.DATABASE)
        assert isinstance(engine, PgBackRestEngine)
        points = engine.points(site.value)
        if not points:
            raise ValidationError(
                [Issue("target", f"no backup of {system} on site {site.value}: nothing to restore")]
            )
        earliest = min(p.time for p in points)
        now = self.clock.now()
        try:
            status = archive_status(engine.address())
        except EngineError:
            return earliest, now
        if status.pending_bytes <= 0 and status.pending_segments == 0:
            return earliest, now
        return earliest, status.last_archived_time or earliest

    def check_target(self, system: str, target: datetime, *, site: Site = Site.PRIMARY) -> None:
        """A clear error when ``target`` is outside the recovery window (nothing is written)."""
        earliest, latest = self.recovery_window(system, site=site)
        if target < earliest or target > latest:
            raise ValidationError(
                [
                    Issue(
                        "target",
                        f"outside the recovery window of {system} on {site.value}: "
                        f"{earliest.isoformat()} to {latest.isoformat()} "
                        f"(got {target.isoformat()})",
                    )
                ]
            )

    # -- running -------------------------------------------------------------------------------

    def request(
        self, *, kind: DrillKind, system: str, actor: Actor, target: datetime | None = None
    ) -> DrillRequestedOut:
        """Queue a drill for the scheduler's workers after checking it can run (422 if not)."""
        try:
            self._check_runnable(kind, system, target)
        except (NotFoundError, EngineError) as exc:
            raise ValidationError([Issue("system", exc.message)]) from None
        scheduler = self.backups.scheduler
        if scheduler is None:  # pragma: no cover - always wired in a container
            raise ValidationError([Issue("kind", "no scheduler in this process")])
        key = f"backups.drill.manual:{kind.value}:{system}:{uuid.uuid4().hex[:12]}"
        payload = {
            "kind": kind.value,
            "system": system,
            "trigger": "api",
            "target": target.isoformat() if target else None,
        }
        with self.db.transaction() as session:
            scheduler.schedule(
                session,
                kind=DRILL_KIND,
                key=key,
                due_at=self.clock.now(),
                payload=payload,
                max_attempts=1,
            )
            self.ledger.record(
                session,
                actor,
                "backups.drill.requested",
                f"system:{system}",
                payload={**payload, "job_key": key},
            )
        return DrillRequestedOut(
            job_key=key,
            kind=kind.value,
            system=system,
            trigger="api",
            target=payload["target"],
        )

    def run(
        self,
        *,
        kind: DrillKind,
        system: str,
        actor: Actor,
        target: datetime | None = None,
        trigger: str = "manual",
        key: str | None = None,
        progress: Progress = _quiet,
    ) -> DrillView:
        """Run a drill of ``kind`` for ``system`` and file its Testprotokoll."""
        started_at = self.clock.now()
        try:
            setup = self._setup(kind, system, progress, started_at)
            if kind is DrillKind.PITR:
                if target is None:
                    target = started_at - self.policy.backups.drills.pitr_target_age
                self.check_target(system, target, site=setup.site)
            elif kind in (DrillKind.APPLICATION_RESTORE, DrillKind.DISASTER_RECOVERY):
                setup.restorable_until = self.recovery_window(system, site=setup.site)[1]
        except LeitstandError as exc:
            if trigger != "manual":  # nobody watches a scheduled or queued drill: alert
                self._could_not_start(kind, system, actor, trigger, exc.message)
            raise
        drill_key = key or f"manual:{kind.value}:{system}:{uuid.uuid4().hex[:12]}"
        claimed = self._claim(drill_key, kind, system, actor, trigger, started_at)
        if claimed.status in _FINAL:
            return claimed
        run = DrillRun(setup)
        error: str | None = None
        began = time.monotonic()
        try:
            PROCEDURES[kind](run, target)
        except LeitstandError as exc:
            error = exc.message
        except BaseException:
            run.close()
            self._finish(claimed.id, run, actor, target, error="interrupted", interrupted=True)
            raise
        run.close()
        log.info("drill_finished", kind=kind.value, system=system, seconds=time.monotonic() - began)
        return self._finish(claimed.id, run, actor, target, error=error)

    def _check_runnable(self, kind: DrillKind, system: str, target: datetime | None) -> None:
        """What ``run`` would refuse, checked before a drill is queued."""
        setup = self._setup(kind, system, _quiet, self.clock.now())
        if kind is DrillKind.PITR:
            wanted = target or self.clock.now() - self.policy.backups.drills.pitr_target_age
            self.check_target(system, wanted, site=setup.site)
        elif BackupData.DATABASE in self.backups.data_kinds(system):
            self.recovery_window(system, site=setup.site)  # a backup to restore must exist

    def _could_not_start(
        self, kind: DrillKind, system: str, actor: Actor, trigger: str, error: str
    ) -> None:
        """A queued or scheduled drill that cannot run is a failed drill: evidence and alert."""
        with self.db.transaction() as session:
            self.ledger.record(
                session,
                actor,
                "backups.drill.refused",
                f"system:{system}",
                payload={"kind": kind.value, "system": system, "trigger": trigger, "error": error},
            )
            self.alerts.open(
                session,
                name="RecoveryDrillFailed",
                severity="critical",
                summary=f"Recovery drill {kind.value} of {system} could not start: {error}",
                labels={"system": system, "kind": kind.value},
                service=system,
                actor=actor,
                now=self.clock.now(),
                again=True,
            )

    def _claim(
        self, key: str, kind: DrillKind, system: str, actor: Actor, trigger: str, now: datetime
    ) -> DrillView:
        with self.db.transaction() as session:
            row = store.drill_by_key(session, key)
            if row is not None and row.status in _FINAL:
                return drill_view(row)
            if row is None:
                row = DrillRow(
                    drill_key=key,
                    kind=kind.value,
                    system=system,
                    trigger=trigger,
                    actor=actor.name,
                    status=DrillStatus.RUNNING.value,
                    started_at=now,
                )
                store.add_drill(session, row)
            else:
                row.status, row.started_at, row.actor = DrillStatus.RUNNING.value, now, actor.name
            session.flush()
            self.ledger.record(
                session,
                actor,
                "backups.drill.started",
                f"drill:{row.id}",
                payload={
                    "drill_key": key,
                    "kind": kind.value,
                    "system": system,
                    "trigger": trigger,
                },
            )
            return drill_view(row)

    def _finish(
        self,
        drill_id: int,
        run: DrillRun,
        actor: Actor,
        target: datetime | None,
        *,
        error: str | None,
        interrupted: bool = False,
    ) -> DrillView:
        if error is not None and not interrupted:
            run.check("error", False, error, error=error)
        now = self.clock.now()
        with self.db.transaction() as session:
            row = store.drill(session, drill_id)
            if row is None:  # pragma: no cover - rows are never deleted
                raise NotFoundError(f"drill {drill_id} vanished")
            service = self.policy.services.get(row.system)
            total = round(sum(p.seconds for p in run.phases if p.name != "cleanup"), 3)
            rto = service.rto.total_seconds() if service is not None else None
            if rto is not None and total > rto:
                run.deviation("rto_exceeded", f"{total:.1f} s > {rto:.0f} s")
            status = DrillStatus.PASSED if run.passed and error is None else DrillStatus.FAILED
            if rto is not None and total > rto:
                status = DrillStatus.FAILED
            if interrupted:
                status = DrillStatus.INTERRUPTED
                run.deviation("interrupted")
            protocol = build_protocol(
                self.policy, row, run, actor, target, error, status, now=self.clock.now()
            )
            markdown = render_markdown(protocol, "de")
            entry = self.ledger.record(
                session,
                actor,
                f"backups.drill.{status.value}",
                f"drill:{row.id}",
                payload={"protocol": protocol, "markdown": markdown},
            )
            row.status = status.value
            row.finished_at = now
            row.total_seconds = total
            row.rto_seconds = rto
            row.within_rto = protocol["within_rto"]
            row.protocol = dump(protocol)
            row.ledger_index = entry.index
            session.flush()
            self._alert(session, row, status, actor)
            return drill_view(row)

    def _alert(self, session: Session, row: DrillRow, status: DrillStatus, actor: Actor) -> None:
        labels = {"system": row.system, "kind": row.kind}
        now = self.clock.now()
        if status is DrillStatus.FAILED:
            self.alerts.open(
                session,
                name="RecoveryDrillFailed",
                severity="critical",
                summary=f"Recovery drill {row.kind} of {row.system} failed (drill {row.id})",
                labels=labels,
                service=row.system,
                actor=actor,
                now=now,
                again=True,
            )
        elif status is DrillStatus.PASSED:
            for name, severity in (
                ("RecoveryDrillFailed", "critical"),
                ("RecoveryDrillOverdue", "warning"),
            ):
                self.alerts.close(
                    session,
                    name=name,
                    severity=severity,
                    labels=labels,
                    service=row.system,
                    actor=actor,
                    now=now,
                )

    # -- reading -------------------------------------------------------------------------------

    def drills(self, *, system: str | None = None, limit: int = 50) -> list[DrillView]:
        with self.db.reader() as session:
            return [drill_view(r) for r in store.drills(session, system=system, limit=limit)]

    def get(self, drill_id: int) -> DrillView:
        with self.db.reader() as session:
            row = store.drill(session, drill_id)
            if row is None:
                raise NotFoundError(f"drill {drill_id} does not exist")
            return drill_view(row)

    def markdown(self, drill_id: int, lang: str = "de") -> str:
        view = self.get(drill_id)
        if view.protocol is None:
            raise NotFoundError(f"drill {drill_id} has no Testprotokoll yet (status {view.status})")
        return render_markdown(view.protocol, lang)
