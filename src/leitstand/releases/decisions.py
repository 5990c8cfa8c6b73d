"""Human decisions on releases: promote a paused canary, abort, roll back, close a task."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from leitstand.auth.model import Actor
from leitstand.clock import Clock
from leitstand.db import Database, Session
from leitstand.errors import (
    ConflictError,
    ForbiddenError,
    Issue,
    NotFoundError,
    ValidationError,
)
from leitstand.ledger.service import Ledger
from leitstand.policy.model import Policy
from leitstand.releases.admission import Admission
from leitstand.releases.duties import Duties
from leitstand.releases.flow import Flow
from leitstand.releases.handover import Handover, stored
from leitstand.releases.history import previous_good
from leitstand.releases.model import LIVE, Kind, Phase, ReleaseInfo, Strategy
from leitstand.releases.queries import ReleaseQueries, task_out
from leitstand.releases.runtime import RuntimeFactory
from leitstand.releases.schemas import HandoverOut, TaskOut
from leitstand.releases.steps import Steps
from leitstand.releases.store import (
    ReleaseRow,
    add_release,
    last_release,
    latest_analysis,
    lock_release,
    lock_target,
    release_info,
    target_row,
    task_row,
)

if TYPE_CHECKING:
    from leitstand.changes.service import ChangeService

__all__ = ["NoRollbackTargetError", "ReleaseDecisions"]


class NoRollbackTargetError(ConflictError):
    """A manual rollback has nothing to go back to (exit 1, HTTP 409)."""

    exit_code = 1


_PRE_TRAFFIC = frozenset(
    {Phase.AWAITING_APPROVAL, Phase.MIGRATING, Phase.STARTING, Phase.HEALTH_CHECK}
)


class ReleaseDecisions(ReleaseQueries):
    """What people decide about running releases (the base of ``ReleaseService``)."""

    def __init__(
        self,
        *,
        db: Database,
        ledger: Ledger,
        clock: Clock,
        policy: Policy,
        flow: Flow,
        steps: Steps,
        duties: Duties,
        factory: RuntimeFactory,
        changes: ChangeService | None,
        handover: Handover | None = None,
    ) -> None:
        super().__init__(db=db, ledger=ledger, clock=clock, policy=policy)
        self.handover = handover
        self.flow = flow
        self.steps = steps
        self.duties = duties
        self.factory = factory
        self.changes = changes
        self.admission = Admission(ledger=ledger, policy=policy, changes=changes)

    # -- human decisions -----------------------------------------------------------------------

    def _row(self, session: Session, release_id: int) -> ReleaseRow:
        row = lock_release(session, release_id, postgres=self.db.is_postgres)
        if row is None:
            raise NotFoundError(f"release #{release_id} does not exist")
        return row

    @staticmethod
    def _role_in(actor: Actor, roles: Any, what: str) -> None:
        allowed = sorted(r.value for r in roles)
        if actor.role not in allowed:
            raise ForbiddenError(
                f"role {actor.role!r} may not {what} (allowed: {', '.join(allowed)})"
            )

    def promote(self, *, release_id: int, actor: Actor) -> ReleaseInfo:
        """Continue a paused canary to its next step (a human's call on an inconclusive one)."""
        with self.db.transaction() as session:
            row = self._row(session, release_id)
            if row.phase != Phase.PAUSED.value:
                raise ConflictError(f"release #{release_id} is {row.phase}, not paused")
            self._role_in(actor, self._deciders(), "decide on a paused canary")
            analysis = latest_analysis(session, row.id)
            if analysis is not None:
                analysis.decided_by = actor.name
            row.step += 1
            self.flow.record(session, row, "release.promoted", actor, step=row.step)
            self.flow.advance(session, row, Phase.SWITCHING)
            return release_info(row)

    def _deciders(self) -> set[Any]:
        deployment = self.policy.deployment.manual_rollback.deciders
        return set(deployment) | set(self.policy.pipeline.deployment.production_approvers)

    def abort(self, *, release_id: int, actor: Actor, reason: str) -> ReleaseInfo:
        """Stop a release: cancel it before traffic moved, roll it back after."""
        if not reason.strip():
            raise ValidationError([Issue("reason", "why the release is stopped (got '')")])
        with self.db.transaction() as session:
            row = self._row(session, release_id)
            self._may_decide(actor)
            self._abort(session, row, actor, reason)
            return release_info(row)

    def _may_decide(self, actor: Actor) -> None:
        self._role_in(actor, self.policy.deployment.manual_rollback.deciders, "decide a rollback")

    def _abort(self, session: Session, row: ReleaseRow, actor: Actor, reason: str) -> None:
        phase = Phase(row.phase)
        now = self.clock.now()
        if phase is Phase.AWAITING_APPROVAL:
            row.reason = reason
            self.flow.advance(session, row, Phase.CANCELLED, now=now)
            target = lock_target(session, row.service, row.env, postgres=self.db.is_postgres)
            target.release_id = None
            self.flow.record(session, row, "release.cancelled", actor, reason=reason)
            return
        if phase in _PRE_TRAFFIC:
            row.outcome, row.reason = Phase.CANCELLED.value, reason
            self.flow.record(session, row, "release.abandoned", actor, reason=reason)
            self.flow.advance(session, row, Phase.CLEANING_UP, now=now)
            return
        if phase in LIVE and row.stable_slot is not None:
            self.steps.aftermath.decided(session, row, trigger="manual", reason=reason, actor=actor)
            self.steps.aftermath.rolled_back(
                session, row, trigger="manual", reason=reason, actor=actor
            )
            row.reason = reason
            row.rollback_started_at = now
            self.flow.advance(session, row, Phase.ROLLING_BACK, now=now)
            return
        raise ConflictError(f"release #{row.id} is {row.phase}: nothing to stop")

    def rollback(self, *, service: str, env: str, actor: Actor, reason: str) -> ReleaseInfo:
        """The seed's manual rollback: back to the previous version, documented and verified."""
        if not reason.strip():
            raise ValidationError([Issue("reason", "why the rollback is needed (got '')")])
        runtime = self.factory.get(service, env)
        self._may_decide(actor)
        now = self.clock.now()
        with self.db.transaction() as session:
            target = target_row(session, service, env)
            if target is None:
                raise ConflictError(f"{service} has never been released in {env}")
            if target.release_id is not None:
                row = self._row(session, target.release_id)
                self._abort(session, row, actor, reason)
                return release_info(row)
            # The last version that completed and was not rolled back: never the rejected one.
            previous = previous_good(session, service, env, exclude={target.active_version})
            if previous is None or not target.active_slot:
                raise NoRollbackTargetError(
                    f"{service} in {env} has no earlier version that completed and was not "
                    f"rolled back (serving: {target.active_version or 'unknown'}): nothing to "
                    "roll back to; release a good version instead"
                )
            last = last_release(session, service, env)
            row = ReleaseRow(
                service=service,
                env=env,
                version=previous,
                strategy=Strategy.BLUE_GREEN.value,
                kind=Kind.ROLLBACK.value,
                phase=Phase.STARTING.value,
                seq=0,
                target_slot=runtime.other(target.active_slot),
                stable_slot=target.active_slot,
                stable_version=target.active_version,
                change_id=last.change_id if last else None,
                requested_by=actor.name,
                requested_role=actor.role,
                approved_by=actor.name,
                approved_role=actor.role,
                approved_at=now,
                step=0,
                passes=0,
                failures=0,
                attempts=0,
                created_at=now,
                updated_at=now,
                rollback_started_at=now,
            )
            add_release(session, row)
            target.release_id = row.id
            target.updated_at = now
            self.flow.record(
                session, row, "release.started", actor, target_slot=row.target_slot,
                stable_slot=row.stable_slot, stable_version=row.stable_version, reason=reason,
            )  # fmt: skip
            # The version rolled back is the one serving now; the release brings back the old.
            self.steps.aftermath.decided(
                session,
                row,
                trigger="manual",
                reason=reason,
                actor=actor,
                version=target.active_version or "?",
                restored=previous,
            )
            self.steps.aftermath.rolled_back(
                session,
                row,
                trigger="manual",
                reason=reason,
                actor=actor,
                version=target.active_version or "?",
                restored=previous,
            )
            row.reason = reason
            self.flow.advance(session, row, Phase.STARTING, now=now)
            return release_info(row)

    def handover_report(
        self, *, release_id: int, check: bool = False, check_if_missing: bool = True
    ) -> HandoverOut:
        """The handover checklist of a completed production release: as last checked, or
        checked again now (``check``; also when it was never checked and
        ``check_if_missing``)."""
        if self.handover is None:  # pragma: no cover - always wired in a container
            raise ConflictError("the handover checklist is not wired in this process")
        with self.db.transaction() as session:
            row = self._row(session, release_id)
            if not self.handover.wanted(row):
                raise ConflictError(
                    f"release #{release_id} ({row.env}, {row.phase}) is no completed production "
                    "release: the handover checklist is checked after those"
                )
            result = stored(row)
            if result is None and not check and not check_if_missing:
                raise NotFoundError(
                    f"the handover checklist of release #{release_id} was not checked yet: "
                    f"POST /api/v1/releases/{release_id}/handover"
                )
            if check or result is None:
                result = self.handover.check(session, row, self.clock.now())
            return HandoverOut.model_validate({"release_id": release_id, **result})

    def complete_task(self, *, task_id: int, actor: Actor, note: str) -> TaskOut:
        """Close a root-cause task with a note (the analysis or where it lives)."""
        if not note.strip():
            raise ValidationError([Issue("note", "the finding or where it is documented (got '')")])
        with self.db.transaction() as session:
            task = task_row(session, task_id)
            if task is None:
                raise NotFoundError(f"task #{task_id} does not exist")
            if task.status == "done":
                raise ConflictError(f"task #{task_id} is already done")
            now = self.clock.now()
            task.status, task.done_at, task.done_by, task.note = "done", now, actor.name, note
            self.ledger.record(
                session,
                actor,
                "release.task_done",
                f"release:{task.release_id}",
                payload={
                    "task_id": task.id,
                    "service": task.service,
                    "env": task.env,
                    "note": note,
                    "overdue": now > task.due_at,
                },
            )
            return task_out(task, now)
