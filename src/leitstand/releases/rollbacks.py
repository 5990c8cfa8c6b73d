"""Rollback steps: traffic back to the stable slot, verification, and the rollback's duration.

A rollback is measured from its decision (``rollback_started_at``) to the moment all traffic is
on the restored version: the router call of an instant rollback (the old slot still warm), or
the switch of a redeploy (the old colour was retired, the previous good version starts again).
The duration is kept on the release, in the ledger entry that ends it, and compared with the
policy's ``deployment.blue_green.max_rollback_time`` (the seed's 60 s): a slower rollback raises
the alert ``ReleaseRollbackSlow``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from leitstand.auth.model import Actor
from leitstand.clock import Clock
from leitstand.db import Session
from leitstand.policy.model import Policy
from leitstand.releases.aftermath import Aftermath
from leitstand.releases.flow import SYSTEM, Flow
from leitstand.releases.health import probe, smoke
from leitstand.releases.history import previous_good
from leitstand.releases.model import Kind, Phase
from leitstand.releases.routers import RouterError
from leitstand.releases.runtime import Runtime
from leitstand.releases.store import ReleaseRow, TargetRow, routing_of

__all__ = ["Rollbacks"]


class Rollbacks:
    """Moves traffic back, verifies the restored version, measures how long it took."""

    def __init__(self, *, flow: Flow, policy: Policy, clock: Clock, aftermath: Aftermath) -> None:
        self.flow = flow
        self.policy = policy
        self.clock = clock
        self.aftermath = aftermath

    def roll_back_now(
        self,
        session: Session,
        row: ReleaseRow,
        target: TargetRow,
        runtime: Runtime,
        now: datetime,
        *,
        trigger: str,
        reason: str,
        actor: Actor = SYSTEM,
    ) -> None:
        """Decide the rollback, move the traffic back at once, then document and notify."""
        self.aftermath.decided(session, row, trigger=trigger, reason=reason, actor=actor)
        row.reason = reason
        row.rollback_started_at = self.clock.now()
        self.restore(session, row, target, runtime, now)
        self.aftermath.rolled_back(session, row, trigger=trigger, reason=reason, actor=actor)

    def measured(self, session: Session, row: ReleaseRow) -> dict[str, Any]:
        """Close the rollback's clock: seconds since the decision, against the policy's limit."""
        started = row.rollback_started_at or row.created_at
        seconds = max(0.0, (self.clock.now() - started).total_seconds())
        row.rollback_seconds = round(seconds, 4)
        limit = self.policy.deployment.blue_green.max_rollback_time.total_seconds()
        within = seconds <= limit
        alerting = self.aftermath.alerting
        if not within and alerting is not None:
            alerting.raise_alert(
                session,
                name="ReleaseRollbackSlow",
                severity="warning",
                summary=f"{row.service} {row.env}: rollback to {self._restored(row)} took "
                f"{seconds:.1f} s (the policy allows {limit:g} s)",
                labels={"env": row.env, "release": str(row.id)},
                service=row.service,
                source="leitstand.releases",
                actor=SYSTEM,
            )
        return {
            "rollback_seconds": row.rollback_seconds,
            "max_rollback_seconds": limit,
            "rollback_within_limit": within,
        }

    @staticmethod
    def _restored(row: ReleaseRow) -> str:
        return row.version if row.kind == Kind.ROLLBACK.value else (row.stable_version or "?")

    def restore(
        self, session: Session, row: ReleaseRow, target: TargetRow, runtime: Runtime, now: datetime
    ) -> None:
        """All traffic back on the stable slot (one router call); retried on router errors."""
        assert row.stable_slot is not None
        routing = routing_of(target).split(row.stable_slot, row.target_slot, 0)
        try:
            runtime.router.apply(routing)
        except RouterError as exc:
            self._blocked(session, row, runtime, now, exc)
            return
        target.routing = json.dumps(routing.as_dict())
        target.active_slot, target.active_version = row.stable_slot, row.stable_version
        # The rejected version is never the next rollback target: the last good one is.
        target.previous_slot = None
        target.previous_version = previous_good(
            session, row.service, row.env, exclude={row.stable_version, row.version}
        )
        target.previous_warm = False
        target.updated_at = now
        if row.rollback_started_at is None:
            row.rollback_started_at = row.updated_at
        self.flow.record(
            session, row, "release.traffic_restored", routing=routing.as_dict(),
            **self.measured(session, row),
        )  # fmt: skip
        self.flow.advance(session, row, Phase.VERIFYING, now=now)

    def _blocked(
        self, session: Session, row: ReleaseRow, runtime: Runtime, now: datetime, exc: RouterError
    ) -> None:
        row.attempts += 1
        if row.attempts <= 3:
            self.flow.record(
                session, row, "release.router_error", error=str(exc), attempt=row.attempts
            )
        alerting = self.aftermath.alerting
        if row.attempts == 1 and alerting is not None:
            alerting.raise_alert(
                session,
                name="ReleaseRollbackBlocked",
                severity="critical",
                summary=f"{row.service} {row.env}: traffic cannot be moved back: {exc}",
                labels={"env": row.env, "release": str(row.id)},
                service=row.service,
                source="leitstand.releases",
                actor=SYSTEM,
            )
        if row.phase != Phase.ROLLING_BACK.value:
            attempts = row.attempts
            self.flow.advance(session, row, Phase.ROLLING_BACK, now=now)
            row.attempts = attempts
        else:
            backoff = runtime.target.health.interval * min(row.attempts, 10)
            self.flow.retry(session, row, now + backoff)

    def verify(self, session: Session, row: ReleaseRow, runtime: Runtime, now: datetime) -> None:
        """Health check and smoke paths of the restored version (step 3 of the procedure)."""
        serving = row.target_slot if row.kind == Kind.ROLLBACK.value else row.stable_slot
        assert serving is not None
        health = runtime.target.health
        timeout = health.timeout.total_seconds()
        result = probe(runtime.health_url(serving), timeout=timeout)
        failures = smoke(runtime.base_url(serving), health.smoke, timeout=timeout)
        self.flow.record(
            session, row, "release.verified", slot=serving, health=result.detail,
            healthy=result.ok, smoke_paths=list(health.smoke), smoke_failures=failures,
        )  # fmt: skip
        alerting = self.aftermath.alerting
        if (failures or not result.ok) and alerting is not None:
            alerting.raise_alert(
                session,
                name="ReleaseVerificationFailed",
                severity="critical",
                summary=f"{row.service} {row.env} after rollback: health {result.detail}, "
                f"smoke failures: {', '.join(failures) or 'none'}",
                labels={"env": row.env, "release": str(row.id)},
                service=row.service,
                source="leitstand.releases",
                actor=SYSTEM,
            )
        if row.kind == Kind.ROLLBACK.value:
            self.flow.advance(session, row, Phase.RETIRING, now=now)
        else:
            row.outcome = Phase.ROLLED_BACK.value
            self.flow.advance(session, row, Phase.CLEANING_UP, now=now)
