"""Accessibility: axe-core (from the npm registry) in headless Chromium, driven by Playwright.

axe-core is installed once into the user's cache (``~/.cache/leitstand/axe-core/<version>``),
never into the project. Chromium is Debian's (``executable_path``); Playwright downloads nothing.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from leitstand.errors import ConfigError
from leitstand.gates.checks import Check
from leitstand.gates.context import GateContext
from leitstand.gates.model import CheckResult, Finding, Severity, Status, Tool
from leitstand.gates.tools import ToolFailure, run_tool, tail
from leitstand.policy.gates import AccessibilitySettings

__all__ = ["ACCESSIBILITY_CHECK", "CHROMIUM_ARGS", "axe_script", "chromium_path"]

# Without these, Chromium keeps dialling Google's hosts (closed networks refuse them).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
_IMPACT = {
    "critical": Severity.CRITICAL,
    "serious": Severity.HIGH,
    "moderate": Severity.MEDIUM,
    "minor": Severity.LOW,
}


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "leitstand" / "axe-core"


def chromium_path(settings: AccessibilitySettings) -> str:
    """Debian's chromium (or the configured one); ConfigError naming the package if missing."""
    if settings.chromium:
        if not Path(settings.chromium).is_file():
            raise ConfigError(
                f"gates.accessibility.chromium: {settings.chromium} does not exist "
                "(install Debian's chromium: apt-get install chromium)"
            )
        return settings.chromium
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    raise ConfigError(
        "chromium is not installed (needed for the accessibility gate): "
        "apt-get install chromium, or set gates.accessibility.chromium"
    )


def axe_script(version: str, *, timeout: float = 300) -> Path:
    """The path of ``axe.min.js`` for ``version``, installed from npm into the cache once."""
    target = _cache_root() / version / "node_modules" / "axe-core" / "axe.min.js"
    if target.is_file():
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise ConfigError(
            f"axe-core {version} is not in {_cache_root()} and npm is missing to fetch it: "
            "apt-get install npm"
        )
    root = _cache_root()
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=root))
    try:
        done = run_tool(
            [
                npm,
                "install",
                "--prefix",
                str(staging),
                "--no-save",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                f"axe-core@{version}",
            ],
            timeout=timeout,
        )
        if done.returncode != 0:
            raise ConfigError(f"npm could not install axe-core@{version}: {tail(done.stderr, 3)}")
        # Atomic: a parallel run sees all or nothing; if another run was first, keep its copy.
        with contextlib.suppress(OSError):
            staging.rename(root / version)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    if not target.is_file():
        raise ConfigError(f"axe-core@{version} installed, but {target} is missing")
    return target


def _preflight(ctx: GateContext) -> None:
    settings = ctx.gates.accessibility
    if not ctx.pipeline.test.accessibility_tests or not settings.urls:
        return
    chromium_path(settings)
    if importlib.util.find_spec("playwright") is None:
        raise ConfigError(
            "playwright is not installed (accessibility gate): pip install playwright"
        )
    axe_script(settings.axe_version)


@contextmanager
def _served(ctx: GateContext) -> Iterator[str | None]:
    serve = ctx.gates.accessibility.serve
    if serve is None:
        yield None
        return
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="leitstand-a11y-") as tmp:

        def fill(text: str) -> str:
            values = {"{port}": str(port), "{tmp}": tmp, "{python}": sys.executable}
            for key, value in values.items():
                text = text.replace(key, value)
            return text

        env = {**os.environ, **{k: fill(v) for k, v in serve.env.items()}}
        log = Path(tmp) / "serve.log"
        with log.open("w") as out:
            proc = subprocess.Popen(  # noqa: S603 - the configured argument list, no shell
                [fill(part) for part in serve.command],
                cwd=ctx.project.root,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            base = f"http://127.0.0.1:{port}"
            try:
                _wait_ready(
                    proc, base + serve.ready_path, serve.startup_timeout.total_seconds(), log
                )
                yield base
            finally:
                _stop(proc)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(proc: subprocess.Popen[bytes], url: str, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ToolFailure(
                f"the serve command exited with {proc.returncode}:\n{tail(log.read_text())}"
            )
        try:
            if httpx.get(url, timeout=2.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise ToolFailure(f"the serve command did not answer {url} within {timeout:.0f}s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)


def _audit(chromium: str, axe: str, urls: list[str], timeout_ms: float) -> list[dict[str, Any]]:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    results: list[dict[str, Any]] = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=chromium, headless=True, args=CHROMIUM_ARGS
            )
            try:
                context = browser.new_context(bypass_csp=True)
                page = context.new_page()
                for url in urls:
                    page.goto(url, wait_until="load", timeout=timeout_ms)
                    page.evaluate(axe)
                    outcome = page.evaluate(
                        "async () => await axe.run(document, {resultTypes: ['violations']})"
                    )
                    results.append(
                        {
                            "url": url,
                            "violations": outcome["violations"],
                            "version": outcome.get("testEngine", {}).get("version"),
                        }
                    )
            finally:
                browser.close()
    except PlaywrightError as exc:
        raise ToolFailure(f"the browser audit failed: {str(exc).splitlines()[0]}") from exc
    return results


def accessibility_check(ctx: GateContext) -> CheckResult:
    """Every configured page has no more axe-core violations than the policy allows (0)."""
    settings = ctx.gates.accessibility
    if not settings.urls:
        return CheckResult.skipped(
            "test.accessibility", "no pages configured (gates.accessibility.urls)"
        )
    chromium = chromium_path(settings)
    axe = axe_script(settings.axe_version).read_text(encoding="utf-8")
    try:
        with _served(ctx) as base:
            urls = [
                u if u.startswith(("http://", "https://")) else f"{base}{u}" for u in settings.urls
            ]
            pages = _audit(chromium, axe, urls, settings.page_timeout.total_seconds() * 1000)
    except ToolFailure as exc:
        return CheckResult.judge(
            "test.accessibility",
            [Finding(rule="audit-failed", message=str(exc))],
            summary="the accessibility audit did not run",
        )
    findings: list[Finding] = []
    violations = 0
    for page in pages:
        shown = page["url"].replace(base or "\0", "") if base else page["url"]
        for rule in page["violations"]:
            violations += 1
            for node in rule["nodes"]:
                selector = " ".join(str(t) for t in node.get("target", []))
                findings.append(
                    Finding(
                        rule=rule["id"],
                        message=f"{shown}: {rule['help']} ({selector})",
                        severity=_IMPACT.get(str(rule.get("impact")), Severity.MEDIUM),
                        file=shown,
                        data={
                            "selector": selector,
                            "impact": rule.get("impact"),
                            "help_url": rule.get("helpUrl"),
                            "url": page["url"],
                        },
                    )
                )
    maximum = ctx.pipeline.test.max_accessibility_violations
    version = next((p["version"] for p in pages if p.get("version")), settings.axe_version)
    return CheckResult(
        id="test.accessibility",
        status=Status.PASS if violations <= maximum else Status.FAIL,
        summary=f"{len(pages)} page(s), {violations} axe-core violation(s)",
        measured=violations,
        threshold=maximum,
        findings=tuple(findings),
        tools=(Tool("axe-core", str(version)), Tool("chromium", Path(chromium).name)),
    )


def _disabled(ctx: GateContext) -> str | None:
    return (
        None
        if ctx.pipeline.test.accessibility_tests
        else "pipeline.test.accessibility_tests is false"
    )


ACCESSIBILITY_CHECK = Check(
    "test.accessibility",
    ("Barrierefreiheit (axe-core)", "Accessibility (axe-core)"),
    accessibility_check,
    disabled=_disabled,
    preflight=_preflight,
)
