"""Short release steps, fired in the transaction of their timer: poll, route, analyse, verify.

Each step is idempotent and belongs to one phase (its ``seq``); a timer of an earlier phase does
nothing. A routing change and the phase it leads to commit together; a crash before the commit
re-runs the step, which sets the same routing again. Long duties live in ``duties``.
"""

from __future__ import annotations

import json
from datetime import datetime

from leitstand.clock import Clock
from leitstand.db import Database, Session
from leitstand.policy.delivery import InconclusiveAction
from leitstand.policy.model import Policy
from leitstand.releases.aftermath import Aftermath
from leitstand.releases.analysis import analyse, measurement_dict
from leitstand.releases.flow import STEP, SYSTEM, Flow
from leitstand.releases.health import probe
from leitstand.releases.history import previous_good
from leitstand.releases.model import (
    Kind,
    Phase,
    Routing,
    Strategy,
    Verdict,
)
from leitstand.releases.rollbacks import Rollbacks
from leitstand.releases.routers import RouterError
from leitstand.releases.runtime import Runtime, RuntimeFactory
from leitstand.releases.store import (
    AnalysisRow,
    ReleaseRow,
    TargetRow,
    add_analysis,
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
        self.rollbacks = Rollbacks(flow=flow, policy=policy, clock=clock, aftermath=aftermath)
        self.roll_back_now = self.rollbacks.roll_back_now

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
        elif phase is Phase.PAUSED:
            self._pause_over(session, row, target, runtime, ctx.now)
        elif phase is Phase.ROLLING_BACK:
            self.rollbacks.restore(session, row, target, runtime, ctx.now)
        elif phase is Phase.VERIFYING:
            self.rollbacks.verify(session, row, runtime, ctx.now)

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
            if phase is Phase.PAUSED and ended:
                self._pause_over(session, row, target, runtime, now)
                return
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
        rollback = row.kind == Kind.ROLLBACK.value
        if rollback:  # the version rolled away from is no target any more: the last good one is
            target.previous_slot = None
            target.previous_version = previous_good(
                session, row.service, row.env, exclude={row.version, row.stable_version}
            )
        else:
            target.previous_slot, target.previous_version = stable, row.stable_version
        target.previous_warm = stable is not None and not rollback
        self.flow.record(
            session, row, "release.switched", slot=new, previous_slot=target.previous_slot,
            previous_version=target.previous_version, routing=routing.as_dict(),
            **(self.rollbacks.measured(session, row) if rollback else {}),
        )  # fmt: skip
        self._deployed(session, row, now)
        if rollback:
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
        add_analysis(
            session,
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
            ),
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
            wait = self.policy.deployment.canary.inconclusive_max_wait
            self.flow.advance(session, row, Phase.PAUSED, now=now, deadline=now + wait)
            self._ask_humans(session, row, judgement.reasons)

    def _ask_humans(self, session: Session, row: ReleaseRow, reasons: tuple[str, ...]) -> None:
        alerting = self.aftermath.alerting
        if alerting is None:
            return
        canary = self.policy.deployment.canary
        minutes = canary.inconclusive_max_wait.total_seconds() / 60
        then = (
            "wird er automatisch zurückgerollt"
            if canary.inconclusive_action is InconclusiveAction.ROLLBACK
            else "geht er automatisch zum nächsten Schritt"
        )
        alerting.notify(
            session,
            roles=self.policy.deployment.manual_rollback.deciders,
            subject=f"Canary {row.service} {row.version} ({row.env}): Entscheidung nötig",
            body="Die Canary-Analyse ist nicht eindeutig: "
            + "; ".join(reasons)
            + f"\n`leitstand release promote {row.id}` oder `leitstand release abort {row.id}`."
            + f"\nOhne Entscheidung binnen {minutes:g} min {then}.",
            actor=SYSTEM,
        )

    def _pause_over(
        self, session: Session, row: ReleaseRow, target: TargetRow, runtime: Runtime, now: datetime
    ) -> None:
        """Nobody decided on the paused canary in time: the policy's default action, never stuck."""
        if row.deadline is None or now < row.deadline:
            return
        canary = self.policy.deployment.canary
        waited = canary.inconclusive_max_wait.total_seconds()
        if canary.inconclusive_action is InconclusiveAction.PROMOTE or row.stable_slot is None:
            row.step += 1
            self.flow.record(
                session, row, "release.promoted", step=row.step, automatic=True,
                reason=f"no decision within {waited:g} s of an inconclusive analysis",
            )  # fmt: skip
            self.flow.advance(session, row, Phase.SWITCHING, now=now)
            return
        self.rollbacks.roll_back_now(
            session, row, target, runtime, now, trigger="inconclusive",
            reason=f"the canary analysis was inconclusive and nobody decided within {waited:g} s "
            f"(deployment.canary.inconclusive_max_wait): {canary.inconclusive_action.value}",
        )  # fmt: skip
