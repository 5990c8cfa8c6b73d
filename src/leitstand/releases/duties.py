"""Long duties of releases: start or stop an instance, migrate; under a lease, no transaction.

A duty can be cut off by a crash at any point and runs again once its lease expired; it does its
work (idempotent: a running version is not started twice), then commits the phase change only
if the release is still in the phase the duty was made for (its ``seq``).
"""

from __future__ import annotations

import contextlib
import json
from datetime import timedelta
from typing import Any

import structlog

from leitstand.clock import Clock
from leitstand.db import Database, Session
from leitstand.errors import LeitstandError
from leitstand.policy.model import Policy
from leitstand.releases.flow import WORK, Flow
from leitstand.releases.handover import HANDOVER, Handover
from leitstand.releases.migrations import MigrationError, MigrationRunner
from leitstand.releases.model import Phase, Routing
from leitstand.releases.routers import RouterError
from leitstand.releases.runtime import Runtime, RuntimeFactory
from leitstand.releases.scrape import write_scrape_targets
from leitstand.releases.snapshots import Snapshots
from leitstand.releases.store import (
    ReleaseRow,
    detached_release,
    lock_release,
    lock_target,
    routing_of,
    set_slot,
    target_of,
)
from leitstand.scheduler.service import LeaseContext, Scheduler

__all__ = ["WORK_LEASE", "Duties"]

log = structlog.get_logger(__name__)

#: A long duty's claim lasts this long without renewal: a crashed leitstand's duty is taken over
#: this soon after a restart (renewed every third of it while it runs).
WORK_LEASE = timedelta(seconds=15)


class Duties:
    """The long duties of the release state machine."""

    def __init__(
        self,
        *,
        db: Database,
        flow: Flow,
        factory: RuntimeFactory,
        policy: Policy,
        clock: Clock,
        migrations: MigrationRunner,
        snapshots: Snapshots | None = None,
        handover: Handover | None = None,
    ) -> None:
        self.db = db
        self.flow = flow
        self.factory = factory
        self.policy = policy
        self.clock = clock
        self.migrations = migrations
        self.snapshots = snapshots or Snapshots(policy=policy, migrations=migrations, backups=None)
        self.handover = handover  # checks the handover checklist after production releases

    def register(self, scheduler: Scheduler) -> None:
        scheduler.register_long(WORK, self.work, lease=WORK_LEASE)

    def work(self, ctx: LeaseContext) -> None:
        row = self._snapshot(int(ctx.payload["release_id"]))
        if row is None or row.seq != int(ctx.payload["seq"]):
            return
        runtime = self.factory.get(row.service, row.env)
        phase = Phase(row.phase)
        if phase is Phase.MIGRATING:
            self._migrate(row, runtime)
        elif phase is Phase.STARTING:
            self._start(row, runtime)
        elif phase is Phase.RETIRING:
            self._stop_slot(row, runtime, row.stable_slot, then=Phase.COMPLETED)
        elif phase is Phase.CLEANING_UP:
            self._stop_slot(row, runtime, row.target_slot, then=Phase(row.outcome or "failed"))

    def _snapshot(self, release_id: int) -> ReleaseRow | None:
        """The release as committed, detached (readable after the read session closed)."""
        with self.db.reader() as session:
            return detached_release(session, release_id)

    def _fresh(self, session: Session, seen: ReleaseRow) -> ReleaseRow | None:
        row = lock_release(session, seen.id, postgres=self.db.is_postgres)
        return row if row is not None and row.seq == seen.seq else None

    def _committed(self, seen: ReleaseRow) -> Routing:
        with self.db.reader() as session:
            return routing_of(target_of(session, seen.service, seen.env))

    def _migrate(self, seen: ReleaseRow, runtime: Runtime) -> None:
        """Refuse revisions without rollback, snapshot the database, migrate; a failed
        snapshot stops the release before anything changed."""
        settings = runtime.target.migrations
        error, result = None, {}
        snapshot: dict[str, Any] | None = None
        where = {"service": seen.service, "env": seen.env}
        if settings is not None:
            try:
                self.migrations.refuse(settings, **where)
                if self.snapshots.wanted:
                    try:
                        snapshot = self.snapshots.take(settings, **where)
                    except LeitstandError as exc:
                        raise MigrationError(
                            f"database snapshot failed, the release does not start: {exc.message}"
                        ) from exc
                result = self.migrations.upgrade(settings, **where)
            except LeitstandError as exc:
                error = exc.message
        now = self.clock.now()
        with self.db.transaction() as session:
            row = self._fresh(session, seen)
            if row is None:
                return
            if snapshot is not None:
                row.snapshot = json.dumps(snapshot)
                self.flow.record(session, row, "release.snapshot_taken", snapshot=snapshot)
            if error is not None:
                self.flow.abandon(
                    session, row, reason=f"migration refused or failed: {error}", now=now
                )
                return
            self.flow.record(session, row, "release.migrated", snapshot=snapshot, **result)
            self.flow.advance(session, row, Phase.STARTING, now=now)

    def _start(self, seen: ReleaseRow, runtime: Runtime) -> None:
        slot = seen.target_slot
        error: str | None = None
        pid: int | None = None
        routing = self._committed(seen).enable(slot)
        try:
            write_scrape_targets(self.factory.home, runtime)
        except OSError as exc:  # the analysis will say it has no data; the release goes on
            log.warning("release_scrape_targets_not_written", error=str(exc))
        try:
            pid = runtime.starter.start(slot, seen.version, seen.image_digest)
            runtime.router.apply(routing)
        except LeitstandError as exc:
            error = exc.message
        now = self.clock.now()
        with self.db.transaction() as session:
            row = self._fresh(session, seen)
            if row is None:
                abandoned = True
            else:
                abandoned = False
                if error is not None:
                    self.flow.abandon(session, row, reason=f"start failed: {error}", now=now)
                    return
                target = lock_target(session, row.service, row.env, postgres=self.db.is_postgres)
                target.routing = json.dumps(routing.as_dict())
                target.updated_at = now
                set_slot(session, row, slot, version=row.version, pid=pid, now=now)
                self.flow.record(session, row, "release.instance_started", slot=slot, pid=pid)
                if self.policy.deployment.blue_green.health_checks_before_switch:
                    within = runtime.target.health.within
                    self.flow.advance(
                        session, row, Phase.HEALTH_CHECK, now=now, deadline=now + within
                    )
                else:
                    self.flow.advance(session, row, Phase.SWITCHING, now=now)
        if abandoned:
            self._stop_if_abandoned(seen, runtime)

    def _stop_if_abandoned(self, seen: ReleaseRow, runtime: Runtime) -> None:
        # The release moved on while this start ran (cancelled, say): do not leave it running.
        row = self._snapshot(seen.id)
        gone = {Phase.CLEANING_UP, Phase.FAILED, Phase.CANCELLED, Phase.ROLLED_BACK}
        if row is not None and Phase(row.phase) in gone:
            with contextlib.suppress(LeitstandError):
                runtime.starter.stop(seen.target_slot)

    def _stop_slot(
        self, seen: ReleaseRow, runtime: Runtime, slot: str | None, *, then: Phase
    ) -> None:
        errors: list[str] = []
        routing = self._committed(seen)
        if slot is not None and routing.weight(slot) == 0:
            try:
                runtime.starter.stop(slot)
            except LeitstandError as exc:
                errors.append(exc.message)
            routing = routing.retire(slot)
            try:
                runtime.router.apply(routing)
            except RouterError as exc:
                errors.append(exc.message)
        now = self.clock.now()
        with self.db.transaction() as session:
            row = self._fresh(session, seen)
            if row is None:
                return
            target = lock_target(session, row.service, row.env, postgres=self.db.is_postgres)
            if slot is not None:
                set_slot(session, row, slot, version=None, pid=None, now=now)
                if not errors:
                    target.routing = json.dumps(routing.as_dict())
            target.previous_warm = False
            target.release_id = None
            target.updated_at = now
            extra: dict[str, Any] = {"stopped_slot": slot, "reason": row.reason}
            if errors:
                extra["errors"] = errors
            self.flow.advance(session, row, then, now=now)
            self.flow.record(session, row, f"release.{then.value}", **extra)
            if self.handover is not None and self.handover.wanted(row):
                self.flow.scheduler.schedule(
                    session,
                    kind=HANDOVER,
                    key=f"release-handover:{row.id}",
                    due_at=now,
                    payload={"release_id": row.id},
                )
