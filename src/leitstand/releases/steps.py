"""Short release steps, fired in the transaction of their timer: poll, route, analyse, verify.

Each step is idempotent and belongs to one phase (its ``seq``); a timer of an earlier phase does
nothing. A routing change and the phase it leads to commit together; a crash before the commit
re-runs the step, which sets the same routing again. Long duties live in ``duties``.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy.orm import Session

from leitstand.auth.model import Actor
from leitstand.clock import Clock
from leitstand.db import Database
from leitstand.policy.model import Policy
from leitstand.releases.aftermath import Aftermath
from leitstand.releases.analysis import analyse, measurement_dict
from leitstand.releases.flow import STEP, SYSTEM, Flow
from leitstand.releases.health import probe, smoke
from leitstand.releases.model import (
    Kind,
    Phase,
    Routing,
    Strategy,
    Verdict,
)
from leitstand.releases.routers import RouterError
from leitstand.releases.runtime import Runtime, RuntimeFactory
from leitstand.releases.store import (
    AnalysisRow,
    ReleaseRow,
    TargetRow,
    lock_release,
    lock_target,
    routing_of,
)
from leitstand.scheduler.service import JobContext, Scheduler

__all__ = ["Steps"]


class Steps:
    """The short steps of the release state machine."""

    def __init__(
        self,
        *,
        db: Database,
        flow: Flow,
        factory: RuntimeFactory,
        policy: Policy,
        clock: Clock,
        aftermath: Aftermath,
    ) -> None:
        self.db = db
        self.flow = flow
        self.factory = factory
        self.policy = policy
        self.clock = clock
        self.aftermath = aftermath

    def register(self, scheduler: Scheduler) -> None:
        scheduler.register(STEP, self.step)

    # -- short steps ---------------------------------------------------------------------------

    def step(self, ctx: JobContext) -> None:
        session, pg = ctx.session, self.db.is_postgres
        row = lock_release(session, int(ctx.payload["release_id"]), postgres=pg)
        if row is None or row.seq != int(ctx.payload["seq"]):
            return  # a timer of an earlier phase: that phase is over
        target = lock_target(session, row.service, row.env, postgres=pg)
        runtime = self.factory.get(row.service, row.env)
        phase = Phase(row.phase)
        if ctx.payload["what"] == "poll":
            self._poll(session, row, target, runtime, ctx.now, int(ctx.payload["n"]))
        elif phase is Phase.SWITCHING:
            self._switch(session, row, target, runtime, ctx.now)
        elif phase is Phase.ANALYSING:
            self._analyse(session, row, target, runtime, ctx.now)
        elif phase is Phase.ROLLING_BACK:
            self._restore(session, row, target, runtime, ctx.now)
        elif phase is Phase.VERIFYING:
            self._verify(session, row, runtime, ctx.now)

    def _poll(
        self,
        session: Session,
        row: ReleaseRow,
        target: TargetRow,
        runtime: Runtime,
        now: datetime,
        n: int,
    ) -> None:
        health = runtime.target.health
        phase = Phase(row.phase)
        result = probe(runtime.health_url(row.target_slot), timeout=health.timeout.total_seconds())
        row.last_check = result.detail
        if phase is Phase.HEALTH_CHECK:
            row.passes = row.passes + 1 if result.ok else 0
            if row.passes >= health.passes and self._router_ready(runtime, row.target_slot):
                self.flow.record(
                    session, row, "release.healthy", slot=row.target_slot, passes=row.passes
                )
                self.flow.advance(session, row, Phase.SWITCHING, now=now)
                return
            if row.deadline is not None and now >= row.deadline:
                within = health.within.total_seconds()
                self.flow.abandon(
                    session,
                    row,
                    reason=f"{row.version} did not become healthy within {within:g} s "
                    f"({health.passes} passes in a row needed); last check of "
                    f"{runtime.health_url(row.target_slot)}: {result.detail}",
                    now=now,
                )
                return
        elif phase in (Phase.ANALYSING, Phase.PAUSED, Phase.OBSERVING):
            row.failures = 0 if result.ok else row.failures + 1
            router_down = result.ok and not self._router_serving(runtime, row.target_slot)
            if row.failures == health.failures or router_down:
                reason = (
                    f"health check {runtime.health_url(row.target_slot)} failed "
                    f"{row.failures} times in a row after traffic moved: {result.detail}"
                    if not router_down
                    else f"{runtime.router.describe()} took {row.target_slot} out of service "
                    "(its own health check failed) after traffic moved"
                )
                row.failures = max(row.failures, health.failures)
                automatic = (
                    self.policy.deployment.automatic_rollback.on_health_check_failure
                    and self.policy.pipeline.deployment.rollback_on_health_check_failure
                )
                if automatic and row.stable_slot is not None:
                    self.roll_back_now(
                        session, row, target, runtime, now, trigger="health", reason=reason
                    )
                    return
                if row.attempts == 0:  # once per phase: a human is told, not flooded
                    row.attempts = 1
                    self.flow.record(session, row, "release.health_failed", reason=reason)
            # The window ends on a passing check only: a failing one keeps counting (after a
            # long outage of leitstand, say) until it rolls back or passes again.
            ended = row.deadline is not None and now >= row.deadline
            if phase is Phase.OBSERVING and ended and result.ok:
                self.flow.advance(session, row, Phase.RETIRING, now=now)
                return
        else:
            return
        row.updated_at = now
        self.flow.poll(session, row, n + 1, now + health.interval)

    @staticmethod
    def _router_ready(runtime: Runtime, slot: str) -> bool:
        try:
            return runtime.router.ready(slot)
        except RouterError:
            return False

    @staticmethod
    def _router_serving(runtime: Runtime, slot: str) -> bool:
        """Whether the router still serves ``slot``; a router that cannot be asked is no
        evidence against the slot (leitstand's own check still runs)."""
        try:
            return runtime.router.serving(slot)
        except RouterError:
            return True

    def _switch(
        self, session: Session, row: ReleaseRow, target: TargetRow, runtime: Runtime, now: datetime
    ) -> None:
        committed = routing_of(target)
        new, stable = row.target_slot, row.stable_slot
        steps = self.policy.deployment.canary.steps
        percent = 100 if row.strategy == Strategy.BLUE_GREEN.value else int(steps[row.step])
        if stable is None:
            routing = Routing({new: 100, runtime.other(new): 0}, frozenset({runtime.other(new)}))
        else:
            routing = committed.split(stable, new, percent)
        try:
            runtime.router.apply(routing)
        except RouterError as exc:
            row.attempts += 1
            self.flow.record(
                session, row, "release.router_error", error=str(exc), attempt=row.attempts
            )
            if row.attempts < 3:
                self.flow.retry(session, row, now + runtime.target.health.interval)
            elif committed.weight(new) > 0:
                self.roll_back_now(
                    session, row, target, runtime, now, trigger="router", reason=str(exc)
                )
            else:
                self.flow.abandon(
                    session, row, reason=f"traffic could not be switched: {exc}", now=now
                )
            return
        target.routing = json.dumps(routing.as_dict())
        target.updated_at = now
        if percent < 100:
            self.flow.record(
                session, row, "release.weight_set", step=row.step, percent=percent,
                routing=routing.as_dict(),
            )  # fmt: skip
            window = self.policy.deployment.canary.analysis_window
            self.flow.advance(session, row, Phase.ANALYSING, now=now, deadline=now + window)
            return
        row.switched_at = now
        target.active_slot, target.active_version = new, row.version
        target.previous_slot, target.previous_version = stable, row.stable_version
        target.previous_warm = stable is not None
        self.flow.record(
            session, row, "release.switched", slot=new, previous_slot=stable,
            previous_version=row.stable_version, routing=routing.as_dict(),
        )  # fmt: skip
        self._deployed(session, row, now)
        if row.kind == Kind.ROLLBACK.value:
            self.flow.advance(session, row, Phase.VERIFYING, now=now)
            return
        blue_green = self.policy.deployment.blue_green
        if stable is None or not blue_green.keep_previous_for_rollback:
            self.flow.advance(session, row, Phase.RETIRING, now=now)
            return
        self.flow.advance(
            session, row, Phase.OBSERVING, now=now, deadline=now + blue_green.rollback_window
        )

    def _deployed(self, session: Session, row: ReleaseRow, now: datetime) -> None:
        changes = self.aftermath.changes
        if changes is None or row.change_id is None:
            return
        env = self.policy.environments.get(row.env)
        changes.mark_deployed(
            session,
            change_id=row.change_id,
            env=row.env,
            release_id=row.id,
            at=now,
            production=bool(env and env.production),
            actor=SYSTEM,
        )

    def _analyse(
        self, session: Session, row: ReleaseRow, target: TargetRow, runtime: Runtime, now: datetime
    ) -> None:
        if row.deadline is not None and now < row.deadline:
            return  # the window has not ended (a timer fired early)
        window = self.policy.deployment.canary.analysis_window
        stable_slot = row.stable_slot or runtime.other(row.target_slot)
        canary, stable, judgement = analyse(
            runtime, self.policy, row.target_slot, stable_slot, now=now, home=self.factory.home
        )
        percent = routing_of(target).weight(row.target_slot)
        session.add(
            AnalysisRow(
                release_id=row.id,
                step=row.step,
                weight=percent,
                started_at=now - window,
                ended_at=now,
                verdict=judgement.verdict.value,
                canary=json.dumps(measurement_dict(canary)),
                stable=json.dumps(measurement_dict(stable)),
                reasons=json.dumps(list(judgement.reasons)),
            )
        )
        self.flow.record(
            session, row, "release.analysed", step=row.step, percent=percent,
            verdict=judgement.verdict.value, reasons=list(judgement.reasons),
            canary=measurement_dict(canary), stable=measurement_dict(stable),
        )  # fmt: skip
        if judgement.verdict is Verdict.PASS:
            row.step += 1
            self.flow.advance(session, row, Phase.SWITCHING, now=now)
        elif (
            judgement.verdict is Verdict.FAIL and self.policy.deployment.canary.rollback_on_anomaly
        ):
            self.roll_back_now(
                session, row, target, runtime, now, trigger="analysis",
                reason="canary analysis failed: " + "; ".join(judgement.reasons),
            )  # fmt: skip
        else:
            self.flow.advance(session, row, Phase.PAUSED, now=now)
            self._ask_humans(session, row, judgement.reasons)

    def _ask_humans(self, session: Session, row: ReleaseRow, reasons: tuple[str, ...]) -> None:
        alerting = self.aftermath.alerting
        if alerting is None:
            return
        roles = self.policy.deployment.manual_rollback.deciders
        alerting.notify(
            session,
            roles=roles,
            subject=f"Canary {row.service} {row.version} ({row.env}): Entscheidung nötig",
            body="Die Canary-Analyse ist nicht eindeutig: "
            + "; ".join(reasons)
            + f"\n`leitstand release promote {row.id}` oder `leitstand release abort {row.id}`.",
            actor=SYSTEM,
        )

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
        self._restore(session, row, target, runtime, now)
        self.aftermath.rolled_back(session, row, trigger=trigger, reason=reason, actor=actor)

    def _restore(
        self, session: Session, row: ReleaseRow, target: TargetRow, runtime: Runtime, now: datetime
    ) -> None:
        assert row.stable_slot is not None
        routing = routing_of(target).split(row.stable_slot, row.target_slot, 0)
        try:
            runtime.router.apply(routing)
        except RouterError as exc:
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
            return
        target.routing = json.dumps(routing.as_dict())
        target.active_slot, target.active_version = row.stable_slot, row.stable_version
        target.previous_slot, target.previous_version = row.target_slot, row.version
        target.previous_warm = False
        target.updated_at = now
        self.flow.record(session, row, "release.traffic_restored", routing=routing.as_dict())
        self.flow.advance(session, row, Phase.VERIFYING, now=now)

    def _verify(self, session: Session, row: ReleaseRow, runtime: Runtime, now: datetime) -> None:
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
