"""Stage 2, TEST: one pytest run under coverage; unit, coverage, integration, tenant isolation.

The run happens once; the four checks read its result. A probe plugin records each test's
markers and outcome, so "zero integration tests collected" is a clear failure.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leitstand.gates.checks import Check
from leitstand.gates.context import GateContext
from leitstand.gates.model import CheckResult, Finding, Severity, Tool
from leitstand.gates.tools import ToolFailure, run_tool, tail

__all__ = ["TEST_CHECKS", "PytestRun", "run_pytest"]

_PROBE_MODULE = "leitstand_gate_probe"
_RUNNER = "import sys, pytest, coverage; print(pytest.__version__, coverage.__version__)"


@dataclass(frozen=True, slots=True)
class PytestRun:
    """What the project's test run produced."""

    exitstatus: int
    tests: dict[str, dict[str, Any]]
    coverage_percent: float | None
    coverage_files: dict[str, float]
    tools: tuple[Tool, ...]
    output: str

    def with_marker(self, marker: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.tests.items() if marker in v["markers"]}


def run_pytest(ctx: GateContext) -> PytestRun:
    """Run the project's tests under coverage in its environment (once per gate run)."""
    env = ctx.test_environment()
    versions = run_tool([str(env.python), "-c", _RUNNER], timeout=120)
    if versions.returncode != 0:
        if env.given:
            raise ToolFailure(
                f"pytest and coverage must be installed in {env.python}: "
                "pip install pytest coverage"
            )
        env.install(["pytest", "coverage"])
        versions = run_tool([str(env.python), "-c", _RUNNER], timeout=120)
        if versions.returncode != 0:
            raise ToolFailure(f"pytest/coverage unusable:\n{tail(versions.stderr)}")
    pytest_version, coverage_version = versions.stdout.split()
    work = ctx.out / "test"
    if work.exists():
        shutil.rmtree(work)
    probe_dir = work / "probe"
    probe_dir.mkdir(parents=True)
    shutil.copyfile(Path(__file__).with_name("pytest_probe.py"), probe_dir / f"{_PROBE_MODULE}.py")
    probe_file = work / "probe.json"
    settings = ctx.gates.test
    sources = settings.source or [ctx.rel(p) for p in ctx.project.packages]
    run_env = {
        # A coverage run around leitstand itself (its own self-gate) must not reach into the
        # project's: coverage's subprocess hooks would start the outer measurement in there.
        # Nor may an outer pytest (xdist worker ids, the current test) leak into the project's.
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("COVERAGE_", "PYTEST_XDIST_", "PYTEST_CURRENT_TEST"))
        },
        **settings.env,
        "COVERAGE_FILE": str(work / ".coverage"),
        "LEITSTAND_GATE_PROBE": str(probe_file),
        "PYTHONPATH": os.pathsep.join(
            [str(probe_dir), str(ctx.project.import_root), os.environ.get("PYTHONPATH", "")]
        ).rstrip(os.pathsep),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    rcfile = _coverage_config(work, ctx.project.root, sources)
    run_env["COVERAGE_RCFILE"] = str(rcfile)
    command = [str(env.python), "-m", "coverage", "run", f"--rcfile={rcfile}"]
    command += ["-m", "pytest", "-p", _PROBE_MODULE, f"--junitxml={work / 'pytest-junit.xml'}"]
    command += list(settings.pytest_args)
    try:
        done = run_tool(
            command,
            cwd=ctx.project.root,
            env=run_env,
            timeout=settings.timeout.total_seconds(),
            on_line=ctx.test_output,
        )
    except ToolFailure as exc:
        # Stopped (a timeout): keep what pytest printed, and name the tests that had failed by
        # then (the probe appends each failure as it happens).
        (work / "pytest-output.txt").write_text(exc.output, encoding="utf-8")
        failed = _failed_so_far(probe_file)
        if failed:
            listed = "\n".join(f"  {nodeid}" for nodeid in failed)
            raise ToolFailure(f"{exc}; failed before it was stopped:\n{listed}") from exc
        raise
    (work / "pytest-output.txt").write_text(done.stdout + done.stderr, encoding="utf-8")
    if done.returncode not in (0, 1, 5) or not probe_file.is_file():
        raise ToolFailure(
            f"pytest could not run the tests (exit {done.returncode}):\n"
            f"{tail(done.stdout + done.stderr, 20)}"
        )
    probe = json.loads(probe_file.read_text(encoding="utf-8"))
    percent, files = _coverage(env.python, work, ctx.project.root, run_env)
    return PytestRun(
        exitstatus=done.returncode,
        tests=probe["tests"],
        coverage_percent=percent,
        coverage_files=files,
        tools=(Tool("pytest", pytest_version), Tool("coverage", coverage_version)),
        output=tail(done.stdout, 5),
    )


def _failed_so_far(probe_file: Path) -> list[str]:
    """The tests the probe saw fail while pytest ran (``<probe>-failures``, one JSON per line)."""
    log = probe_file.with_name(probe_file.name + "-failures")
    if not log.is_file():
        return []
    failed: list[str] = []
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line cut by the stop
        text = f"{entry.get('nodeid')} ({entry.get('phase')})"
        if text not in failed:
            failed.append(text)
    return failed


def _coverage_config(work: Path, root: Path, sources: list[str]) -> Path:
    """Write the coverage settings of the run.

    Subprocesses are measured too (``patch = subprocess``): pytest-xdist workers and the CLI or
    server processes a test suite starts are code under test as much as in-process calls.
    Each process writes its own data file (``parallel``); they are combined afterwards.
    """
    lines = [
        "[run]",
        f"data_file = {work / '.coverage'}",
        "parallel = true",
        "patch = subprocess",
    ]
    if sources:
        lines.append("source =")
        lines.extend(
            f"    {(root / s).resolve() if not Path(s).is_absolute() else s}" for s in sources
        )
    rcfile = work / "coveragerc"
    rcfile.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return rcfile


def _coverage(
    python: Path, work: Path, root: Path, env: dict[str, str]
) -> tuple[float | None, dict[str, float]]:
    if not any(work.glob(".coverage*")):
        return None, {}
    combined = run_tool(
        [str(python), "-m", "coverage", "combine", "-q"], cwd=root, env=env, timeout=300
    )
    if combined.returncode != 0 and not (work / ".coverage").exists():
        return 0.0, {}
    target = work / "coverage.json"
    done = run_tool(
        # -i: a measured file that is gone (a process of an earlier run that wrote its data
        # late) is skipped instead of failing the whole report.
        [str(python), "-m", "coverage", "json", "-q", "-i", "-o", str(target)],
        cwd=root,
        env=env,
        timeout=300,
    )
    if done.returncode != 0 or not target.is_file():
        # "No data to report": nothing of the measured source was imported.
        return 0.0, {}
    data = json.loads(target.read_text(encoding="utf-8"))
    files = {
        name: float(info["summary"]["percent_covered"]) for name, info in data["files"].items()
    }
    return float(data["totals"]["percent_covered"]), files


def _run(ctx: GateContext) -> PytestRun:
    return ctx.once("pytest", lambda: run_pytest(ctx))


def _failures(tests: dict[str, dict[str, Any]]) -> list[Finding]:
    return [
        Finding(
            rule="test-failed",
            message=f"{nodeid} failed in {info.get('phase', 'call')}",
            file=info.get("file"),
            line=info.get("line"),
            data={"detail": str(info.get("message", ""))[-1500:]},
        )
        for nodeid, info in sorted(tests.items())
        if info["outcome"] == "failed"
    ]


def _tool_failure(check_id: str, exc: ToolFailure) -> CheckResult:
    return CheckResult.judge(
        check_id, [Finding(rule="tests-not-run", message=str(exc))], summary="tests did not run"
    )


def unit_check(ctx: GateContext) -> CheckResult:
    """Every collected test passes (and there is at least one)."""
    try:
        run = _run(ctx)
    except ToolFailure as exc:
        return _tool_failure("test.unit", exc)
    findings = _failures(run.tests)
    if not run.tests:
        findings.append(Finding(rule="no-tests", message="pytest collected no tests"))
    counts = _counts(run.tests)
    return CheckResult.judge(
        "test.unit",
        findings,
        summary=_describe(counts),
        measured=counts["passed"],
        threshold=f"{counts['failed']} failed",
        tools=run.tools,
    )


def coverage_check(ctx: GateContext) -> CheckResult:
    """Line coverage of the project's code reaches the policy's minimum."""
    minimum = float(ctx.pipeline.test.min_coverage)
    try:
        run = _run(ctx)
    except ToolFailure as exc:
        return _tool_failure("test.coverage", exc)
    percent = run.coverage_percent or 0.0
    findings: list[Finding] = []
    if percent < minimum:
        findings.append(
            Finding(
                rule="coverage-below-minimum",
                message=f"line coverage {percent:.1f}% is below the minimum of {minimum:g}%",
            )
        )
        for name, value in sorted(run.coverage_files.items(), key=lambda kv: kv[1])[:10]:
            if value < minimum:
                findings.append(
                    Finding(
                        rule="file-coverage",
                        message=f"{name}: {value:.1f}% of lines covered",
                        severity=Severity.INFO,
                        blocking=False,
                        file=name,
                    )
                )
    return CheckResult.judge(
        "test.coverage",
        findings,
        summary=f"line coverage {percent:.1f}% (minimum {minimum:g}%)",
        measured=round(percent, 2),
        threshold=minimum,
        tools=run.tools,
    )


def _marker_check(ctx: GateContext, check_id: str, marker: str, label: str) -> CheckResult:
    try:
        run = _run(ctx)
    except ToolFailure as exc:
        return _tool_failure(check_id, exc)
    tests = run.with_marker(marker)
    findings = _failures(tests)
    if not tests:
        findings.append(
            Finding(
                rule=f"no-{marker.replace('_', '-')}-tests",
                message=f"no {label} tests were collected (no test is marked "
                f"@pytest.mark.{marker})",
            )
        )
    counts = _counts(tests)
    return CheckResult.judge(
        check_id,
        findings,
        summary=f"{label}: {_describe(counts)}",
        measured=len(tests),
        threshold=">= 1, all passed",
        tools=run.tools,
    )


def integration_check(ctx: GateContext) -> CheckResult:
    """Integration tests (marker ``integration``) exist and pass."""
    marker = ctx.gates.test.integration_marker
    return _marker_check(ctx, "test.integration", marker, "integration")


def tenant_isolation_check(ctx: GateContext) -> CheckResult:
    """Tenant-isolation tests (marker ``tenant_isolation``) exist and pass."""
    marker = ctx.gates.test.tenant_isolation_marker
    return _marker_check(ctx, "test.tenant_isolation", marker, "tenant isolation")


def _counts(tests: dict[str, dict[str, Any]]) -> dict[str, int]:
    counts = {"passed": 0, "failed": 0, "skipped": 0, "not run": 0}
    for info in tests.values():
        counts[info["outcome"]] = counts.get(info["outcome"], 0) + 1
    return counts


def _describe(counts: dict[str, int]) -> str:
    total = sum(counts.values())
    return (
        f"{total} tests: {counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['skipped']} skipped"
    )


def _flag(name: str, label: str) -> Any:
    def disabled(ctx: GateContext) -> str | None:
        return None if getattr(ctx.pipeline.test, name) else f"pipeline.test.{name} is false"

    return disabled


def _accessibility() -> Check:
    from leitstand.gates.accessibility import ACCESSIBILITY_CHECK

    return ACCESSIBILITY_CHECK


def _migrations() -> Check:
    from leitstand.gates.migrations_check import MIGRATIONS_CHECK

    return MIGRATIONS_CHECK


TEST_CHECKS: tuple[Check, ...] = (
    Check("test.unit", ("Unit-Tests", "Unit tests"), unit_check, _flag("unit_tests", "")),
    Check(
        "test.coverage",
        ("Testabdeckung", "Line coverage"),
        coverage_check,
        _flag("unit_tests", ""),
    ),
    Check(
        "test.integration",
        ("Integrationstests", "Integration tests"),
        integration_check,
        _flag("integration_tests", ""),
    ),
    Check(
        "test.tenant_isolation",
        ("Mandantenisolation-Tests", "Tenant isolation tests"),
        tenant_isolation_check,
        _flag("tenant_isolation_tests", ""),
    ),
    _accessibility(),
    _migrations(),
)
