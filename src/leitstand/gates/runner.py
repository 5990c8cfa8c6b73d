"""Run the selected stages in order; the checks of one stage run in parallel threads.

A failed stage stops the run (the seed's "Fail = Stop") unless ``keep_going`` is set or the
policy's ``stop_on_failure`` for that stage is false. Tools every selected check needs are
looked up before anything runs, so a missing tool is exit 2 at once, not after a long build.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from leitstand.gates.build import BUILD_CHECKS
from leitstand.gates.checks import Check
from leitstand.gates.compliance import COMPLIANCE_CHECKS
from leitstand.gates.context import GateContext
from leitstand.gates.model import CheckResult, Finding, Stage, StageResult, Status, stage_status
from leitstand.gates.security import security_checks
from leitstand.gates.testrun import TEST_CHECKS
from leitstand.gates.tools import ToolFailure

__all__ = ["Progress", "run_stages", "stage_checks"]

Progress = Callable[[str, str], None]  # (event, text): "stage", "check", "done", "output"


def stage_checks(stage: Stage) -> tuple[Check, ...]:
    """The checks of a stage, in report order."""
    if stage is Stage.BUILD:
        return BUILD_CHECKS
    if stage is Stage.TEST:
        return TEST_CHECKS
    if stage is Stage.SECURITY:
        return security_checks()
    return COMPLIANCE_CHECKS


def _stops(ctx: GateContext, stage: Stage) -> bool:
    policy = getattr(ctx.pipeline, stage.value)
    return bool(policy.stop_on_failure)


def preflight(ctx: GateContext, stages: Sequence[Stage]) -> None:
    """Raise ConfigError (exit 2) when a tool an enabled check needs is missing."""
    for stage in stages:
        for check in stage_checks(stage):
            if check.disabled(ctx) is None:
                check.preflight(ctx)


def _run_one(ctx: GateContext, check: Check) -> CheckResult:
    why = check.disabled(ctx)
    if why is not None:
        return CheckResult.skipped(check.id, f"disabled: {why}")
    started = time.monotonic()
    try:
        result = check.run(ctx)
    except ToolFailure as exc:
        result = CheckResult.judge(
            check.id, [Finding(rule="tool-failure", message=str(exc))], summary="a tool failed"
        )
    return result.timed(time.monotonic() - started)


def run_stages(
    ctx: GateContext,
    stages: Sequence[Stage],
    *,
    keep_going: bool,
    progress: Progress | None = None,
    workers: int = 4,
) -> tuple[list[StageResult], list[Stage]]:
    """Run ``stages``; return their results and the stages not run after a stop."""
    notify = progress or (lambda _event, _text: None)
    preflight(ctx, stages)
    results: list[StageResult] = []
    for index, stage in enumerate(stages):
        notify("stage", stage.value)
        started = time.monotonic()
        checks = stage_checks(stage)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"gate-{stage}") as pool:
            futures = [pool.submit(_run_one, ctx, check) for check in checks]
            outcomes = []
            for future in futures:
                outcome = future.result()
                notify("check", f"{outcome.id}: {outcome.status.value}")
                outcomes.append(outcome)
        result = StageResult(
            stage=stage,
            status=stage_status(outcomes),
            checks=tuple(outcomes),
            duration_s=round(time.monotonic() - started, 3),
        )
        results.append(result)
        notify("done", f"{stage.value}: {result.status.value}")
        if result.status is Status.FAIL and not keep_going and _stops(ctx, stage):
            return results, list(stages[index + 1 :])
    return results, []
