"""Use cases of releases: start, approve, promote, abort, roll back, and what is live where.

Starting records the release and schedules its first step; the scheduler (``leitstand up``, or
the CLI following a release) drives it from there. Every refusal is recorded too: an attempt to
release an unknown version or through an unreachable router leaves evidence, never a change.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from leitstand.auth.model import Actor
from leitstand.db import Session
from leitstand.errors import (
    ConflictError,
    ForbiddenError,
    Issue,
    LeitstandError,
    NotFoundError,
    ValidationError,
)
from leitstand.releases.decisions import ReleaseDecisions
from leitstand.releases.model import (
    Kind,
    Phase,
    ReleaseInfo,
    Routing,
    Strategy,
    parse_strategy,
)
from leitstand.releases.store import (
    ReleaseRow,
    TargetRow,
    add_release,
    insert_target,
    lock_target,
    release_info,
    target_row,
)
from leitstand.validators import version_issue

__all__ = ["ReleaseOutcomeError", "ReleaseService"]


class ReleaseOutcomeError(LeitstandError):
    """A followed release ended without its version serving (failed, rolled back, cancelled)."""

    exit_code = 1
    http_status = 409


class ReleaseService(ReleaseDecisions):
    """Releases of the policy's services, driven by durable timers."""

    # -- starting ------------------------------------------------------------------------------

    def start(
        self,
        *,
        service: str,
        version: str,
        env: str,
        actor: Actor,
        strategy: str | None = None,
        artifact_digest: str | None = None,
    ) -> ReleaseInfo:
        """Record a release and schedule it; production needs an approved change record.

        ``artifact_digest`` (``sha256:<hex>``) names the artifact the release deploys; where the
        policy requires gates, a passing gate run must have recorded that digest.
        """
        try:
            return self._start(
                service=service,
                version=version,
                env=env,
                actor=actor,
                strategy=strategy,
                artifact_digest=artifact_digest,
            )
        except LeitstandError as exc:
            with self.db.transaction() as session:
                self.ledger.record(
                    session,
                    actor,
                    "release.refused",
                    f"service:{service}",
                    payload={
                        "service": service,
                        "version": version,
                        "env": env,
                        "strategy": strategy,
                        "artifact_digest": artifact_digest,
                        "reason": exc.message,
                    },
                )
            raise

    def _start(
        self,
        *,
        service: str,
        version: str,
        env: str,
        actor: Actor,
        strategy: str | None,
        artifact_digest: str | None = None,
    ) -> ReleaseInfo:
        issues: list[Issue] = []
        chosen = Strategy(self.policy.deployment.default_strategy.value)
        if strategy:
            try:
                chosen = parse_strategy(strategy)
            except ValueError as exc:
                issues.append(Issue("strategy", str(exc)))
        version_problem = version_issue(version)
        if version_problem is not None:
            issues.append(version_problem)
        if issues:
            raise ValidationError(issues)
        runtime = self.factory.get(service, env)
        unknown = runtime.starter.unknown_version(version)
        if unknown is not None:
            raise NotFoundError(f"unknown version {version!r} of {service}: {unknown}")
        live = runtime.router.current()  # RouterError when the router cannot be reached
        now = self.clock.now()
        with self.db.transaction() as session:
            target = self._target_row(session, service, env, live, now)
            if target.release_id is not None:
                raise ConflictError(
                    f"release #{target.release_id} of {service} in {env} is still in flight: "
                    f"wait for it or `leitstand release abort {target.release_id}`"
                )
            if target.active_version == version:
                raise ConflictError(f"{service} {version} already serves {env}")
            change, approved = self.admission.check(
                session, service, version, env, actor, artifact_digest
            )
            routing = Routing.from_dict(json.loads(target.routing))
            stable = target.active_slot or next(iter(routing.serving()), None)
            new_slot = runtime.other(stable) if stable else runtime.slots[0]
            row = ReleaseRow(
                service=service,
                env=env,
                version=version,
                strategy=chosen.value,
                kind=Kind.DEPLOY.value,
                phase=Phase.AWAITING_APPROVAL.value,
                seq=0,
                target_slot=new_slot,
                stable_slot=stable,
                stable_version=target.active_version if stable else None,
                change_id=change.id if change else None,
                requested_by=actor.name,
                requested_role=actor.role,
                step=0,
                passes=0,
                failures=0,
                attempts=0,
                created_at=now,
                updated_at=now,
            )
            row.image_digest = self.admission.scanned_image(
                session, service, version, artifact_digest
            )
            if approved is not None:
                row.approved_by, row.approved_role, row.approved_at = approved, actor.role, now
            add_release(session, row)
            target.release_id = row.id
            target.updated_at = now
            self.flow.record(
                session, row, "release.started", actor, target_slot=new_slot,
                stable_slot=stable, stable_version=row.stable_version,
                approval=approved or "required", artifact_digest=artifact_digest,
            )  # fmt: skip
            if approved is None:
                self._ask_for_approval(session, row)
            else:
                self._begin(session, row, runtime.target.migrations is not None)
            return release_info(row)

    def _target_row(
        self, session: Session, service: str, env: str, live: Routing, now: Any
    ) -> TargetRow:
        target = target_row(session, service, env)
        if target is None:
            # First contact: adopt whatever the router serves now (its version is unknown).
            serving = live.serving()
            target = TargetRow(
                service=service,
                env=env,
                active_slot=serving[0] if len(serving) == 1 else None,
                previous_warm=False,
                routing=json.dumps(live.as_dict()),
                updated_at=now,
            )
            if not insert_target(session, target):
                raise ConflictError(
                    f"another release of {service} in {env} started at this moment: try again"
                )
        elif self.db.is_postgres:
            target = lock_target(session, service, env, postgres=True)
        return target

    def _ask_for_approval(self, session: Session, row: ReleaseRow) -> None:
        alerting = self.steps.aftermath.alerting
        roles = self.policy.pipeline.deployment.production_approvers
        if alerting is not None:
            alerting.notify(
                session,
                roles=roles,
                subject=f"Freigabe nötig: {row.service} {row.version} ({row.env})",
                body=f"Release #{row.id} wartet auf die manuelle Freigabe: "
                f"`leitstand release approve {row.id}`.",
                actor=Actor(name="leitstand", role="system"),
            )

    def _begin(self, session: Session, row: ReleaseRow, migrations: bool) -> None:
        phase = Phase.MIGRATING if migrations else Phase.STARTING
        self.flow.advance(session, row, phase)

    def approve(self, *, release_id: int, actor: Actor, comment: str = "") -> ReleaseInfo:
        """The manual approval of a production release by an allowed role (not the starter)."""
        with self.db.transaction() as session:
            row = self._row(session, release_id)
            if row.phase != Phase.AWAITING_APPROVAL.value:
                raise ConflictError(f"release #{release_id} is {row.phase}, not awaiting approval")
            self._role_in(
                actor, self.policy.pipeline.deployment.production_approvers, "approve releases"
            )
            if self.policy.changes.four_eyes and actor.name == row.requested_by:
                raise ForbiddenError(
                    f"four-eyes rule: {actor.name} started release #{release_id} and cannot "
                    "approve it"
                )
            now = self.clock.now()
            row.approved_by, row.approved_role, row.approved_at = actor.name, actor.role, now
            self.flow.record(session, row, "release.approved", actor, comment=comment)
            migrations = self.factory.target(row.service).migrations is not None
            self._begin(session, row, migrations)
            return release_info(row)

    def migration_check(
        self, *, config: Path, scratch: str | None, actor: Actor, timeout: float = 600
    ) -> dict[str, Any]:
        """The pipeline's rollback test: upgrade -> downgrade -> upgrade on a scratch database."""
        result: dict[str, Any] | None = None
        error: LeitstandError | None = None
        try:
            result = self.duties.migrations.check(config, scratch=scratch, timeout=timeout)
        except LeitstandError as exc:
            error = exc
        payload: dict[str, Any] = {"config": str(config), "ok": False}
        if result is not None:
            payload.update(result)
        if error is not None:
            payload["error"] = error.message
        with self.db.transaction() as session:
            self.ledger.record(
                session, actor, "release.migration_check", f"migrations:{config}", payload=payload
            )
        if error is not None:
            raise error
        assert result is not None
        if result["problems"]:
            raise ValidationError(
                [
                    Issue(p["path"], f"revision {p['revision']}: {p['message']}")
                    for p in result["problems"]
                ],
                summary="the migration rollback test failed:",
            )
        return result
