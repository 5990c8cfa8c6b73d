"""Stage 1, BUILD: sdist and wheel in isolation, dependencies without conflict, a CycloneDX SBOM."""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from leitstand.gates.checks import Check
from leitstand.gates.context import GateContext
from leitstand.gates.model import CheckResult, Finding, Severity, Tool
from leitstand.gates.tools import ToolFailure, find_tool, run_tool, tail

__all__ = ["BUILD_CHECKS", "SBOM_FILE"]

SBOM_FILE = "sbom.cdx.json"


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


# Backends that need a toolchain beyond Python: (backend prefix, executable, what it is).
_TOOLCHAINS = (
    ("maturin", "cargo", "a Rust toolchain (cargo)"),
    ("setuptools_rust", "cargo", "a Rust toolchain (cargo)"),
    ("scikit_build_core", "cmake", "CMake"),
    ("mesonpy", "meson", "Meson"),
)


def _build_artifacts(ctx: GateContext) -> list[Path]:
    """sdist and wheel from the source tree with the project's declared backend (isolated)."""
    dist = ctx.out / "dist"
    if dist.exists():
        shutil.rmtree(dist)
    dist.mkdir(parents=True)
    backend = ctx.project.backend or ""
    for prefix, tool, what in _TOOLCHAINS:
        if backend.startswith(prefix) and shutil.which(tool) is None:
            raise ToolFailure(
                f"the build backend {backend} needs {what}, and {tool} is not on PATH: "
                "install it on the machine that runs the gate"
            )
    env = {**os.environ, **ctx.pip_options.env(), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    done = run_tool(
        [sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", str(dist), "."],
        cwd=ctx.project.root,
        env=env,
        timeout=ctx.build_timeout,
    )
    if done.returncode != 0:
        raise ToolFailure(
            f"the build with {backend} failed ({_reason(done.stdout + done.stderr)}):\n"
            f"{tail(done.stdout + done.stderr, 20)}"
        )
    return sorted(dist.iterdir())


def _reason(output: str) -> str:
    """The likeliest cause in a failed build's output, in one phrase."""
    text = output.lower()
    if "could not find a version that satisfies the requirement" in text or (
        "no matching distribution found" in text
    ):
        return "a build requirement could not be installed (offline? add --find-links)"
    if "backendunavailable" in text or ("cannot import" in text and "backend" in text):
        return "the build backend could not be imported"
    if ("error: command" in text and "gcc" in text) or "python.h" in text:
        return "a C extension did not compile (compiler or Python headers missing)"
    if ("setuptools-scm" in text or "setuptools_scm" in text) and "version" in text:
        return "the version could not be determined from version control"
    return "see the backend's last lines"


def compile_check(ctx: GateContext) -> CheckResult:
    """The project builds as sdist and wheel in an isolated build environment."""
    tools = (Tool("build", _version("build")),)
    if not ctx.project.buildable:
        return CheckResult.skipped(
            "build.compile", "a requirements-only project: no build backend, nothing to build"
        )
    try:
        artifacts = ctx.once("build.artifacts", lambda: _build_artifacts(ctx))
    except ToolFailure as exc:
        where = "pyproject.toml" if ctx.project.pyproject else "setup.py"
        finding = Finding(rule="build-failed", message=str(exc), file=where)
        return CheckResult.judge(
            "build.compile", [finding], summary="the project does not build", tools=tools
        )
    names = [p.name for p in artifacts]
    kinds = {
        "sdist": any(n.endswith(".tar.gz") for n in names),
        "wheel": any(n.endswith(".whl") for n in names),
    }
    missing = [
        Finding(rule="build-artifact-missing", message=f"no {k} was built")
        for k, ok in kinds.items()
        if not ok
    ]
    meta = ctx.metadata()
    return CheckResult.judge(
        "build.compile",
        missing,
        summary=f"built {', '.join(names)} with {ctx.project.backend} "
        f"({meta.name} {meta.version or '?'} from the built metadata)",
        measured=", ".join(names),
        threshold="sdist + wheel",
        tools=tools,
    )


def dependencies_check(ctx: GateContext) -> CheckResult:
    """The dependencies install into a fresh environment and ``pip check`` finds no conflict."""
    tools = (Tool("pip", _version("pip")),)
    try:
        env = ctx.runtime_environment()
    except ToolFailure as exc:
        finding = Finding(rule="dependencies-unresolvable", message=str(exc), file="pyproject.toml")
        return CheckResult.judge(
            "build.dependencies", [finding], summary="the dependencies do not resolve", tools=tools
        )
    ok, message = env.check()
    findings = (
        []
        if ok
        else [
            Finding(rule="dependency-conflict", message=line.strip())
            for line in message.splitlines()
            if line.strip()
        ]
    )
    count = len(env.distributions())
    where = "the given environment" if env.given else "a fresh environment"
    summary = (
        f"{count} distributions in {where}, no conflicts" if ok else f"{len(findings)} conflict(s)"
    )
    return CheckResult.judge(
        "build.dependencies",
        findings,
        summary=summary,
        measured=len(findings),
        threshold=0,
        tools=tools,
    )


def sbom_check(ctx: GateContext) -> CheckResult:
    """A CycloneDX SBOM of the resolved environment is written to the output folder."""
    cyclonedx = find_tool("cyclonedx-py", install="pip install cyclonedx-bom")
    tools = (Tool("cyclonedx-py", _version("cyclonedx-bom")),)
    try:
        env = ctx.runtime_environment()
    except ToolFailure as exc:
        finding = Finding(rule="sbom-no-environment", message=str(exc))
        return CheckResult.judge("build.sbom", [finding], summary="no environment", tools=tools)
    target = ctx.out / SBOM_FILE
    done = run_tool(
        [
            cyclonedx,
            "environment",
            str(env.python),
            "--of",
            "JSON",
            "--output-reproducible",
            "-o",
            str(target),
        ],
        timeout=ctx.build_timeout,
        env={**os.environ, "SOURCE_DATE_EPOCH": "0"},
    )
    if done.returncode != 0 or not target.is_file():
        finding = Finding(rule="sbom-failed", message=f"cyclonedx-py failed:\n{tail(done.stderr)}")
        return CheckResult.judge("build.sbom", [finding], summary="no SBOM", tools=tools)
    data = json.loads(target.read_text(encoding="utf-8"))
    components = data.get("components", [])
    findings = (
        []
        if components
        else [
            Finding(
                rule="sbom-empty", message="the SBOM lists no components", severity=Severity.HIGH
            )
        ]
    )
    return CheckResult.judge(
        "build.sbom",
        findings,
        summary=f"CycloneDX {data.get('specVersion', '?')} SBOM with {len(components)} components",
        measured=len(components),
        tools=tools,
    )


def _sbom_tool(_ctx: GateContext) -> None:
    find_tool("cyclonedx-py", install="pip install cyclonedx-bom")


def _flag(name: str) -> Callable[[GateContext], str | None]:
    def disabled(ctx: GateContext) -> str | None:
        return None if getattr(ctx.pipeline.build, name) else f"pipeline.build.{name} is false"

    return disabled


BUILD_CHECKS: tuple[Check, ...] = (
    Check(
        "build.compile",
        ("Build (sdist und wheel)", "Build (sdist and wheel)"),
        compile_check,
        disabled=_flag("compile"),
    ),
    Check(
        "build.dependencies",
        ("Abhängigkeiten ohne Konflikte", "Dependencies without conflicts"),
        dependencies_check,
        disabled=_flag("resolve_dependencies"),
    ),
    Check(
        "build.sbom",
        ("SBOM (CycloneDX)", "SBOM (CycloneDX)"),
        sbom_check,
        disabled=_flag("generate_sbom"),
        preflight=_sbom_tool,
    ),
)
