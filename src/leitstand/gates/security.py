"""Stage 3, SECURITY: dependency vulnerabilities (OSV, CVSS) and licences of the environment."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable
from pathlib import Path

import httpx

from leitstand.gates.allow import apply_allowances
from leitstand.gates.checks import Check
from leitstand.gates.context import GateContext
from leitstand.gates.environment import Distribution
from leitstand.gates.licences import Verdict, declared_licence, judge_expression
from leitstand.gates.model import CheckResult, Finding, Severity, Tool
from leitstand.gates.osv import OsvDatabase, Vulnerability, query_api
from leitstand.gates.project import normalise
from leitstand.gates.tools import ToolFailure
from leitstand.policy.gates import AcceptedVulnerability, ReviewedLicence

__all__ = [
    "database_path",
    "licence_check",
    "vulnerability_check",
    "vulnerability_finding",
]


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _environment(ctx: GateContext, check_id: str) -> list[Distribution] | CheckResult:
    """The project's runtime dependency closure in its environment (pip's view: markers and
    extras evaluated there); every distribution when the project itself is not installed."""
    try:
        env = ctx.runtime_environment()
        closure = env.dependencies(ctx.name())
        return closure if closure is not None else env.distributions()
    except ToolFailure as exc:
        return CheckResult.judge(
            check_id,
            [Finding(rule="no-environment", message=f"no project environment: {exc}")],
            summary="the project environment could not be prepared",
        )


def database_path(ctx: GateContext) -> Path | None:
    """``--osv-db`` first, then ``gates.osv.path`` (relative paths from the project root)."""
    if ctx.osv_db is not None:
        return ctx.osv_db
    if not ctx.gates.osv.path:
        return None
    path = Path(ctx.gates.osv.path).expanduser()
    return path if path.is_absolute() else (ctx.project.root / path).resolve()


def _severity(base: float | None) -> Severity:
    if base is None:
        return Severity.MEDIUM
    if base >= 9.0:
        return Severity.CRITICAL
    if base >= 7.0:
        return Severity.HIGH
    if base >= 4.0:
        return Severity.MEDIUM
    return Severity.LOW


def vulnerability_finding(
    vuln: Vulnerability, threshold: float, *, unscored_blocks: bool
) -> Finding:
    """The finding for one advisory of a package: blocking at or above ``threshold`` (CVSS),
    or unscored if the policy blocks unscored ones."""
    best = vuln.best
    aliases = f" ({', '.join(vuln.aliases)})" if vuln.aliases else ""
    if best is None:
        scored = "severity unknown: no CVSS vector"
    else:
        scored = f"CVSS {best.version} {best.base:.1f} {best.vector}"
    fixed = f"; fixed in {', '.join(vuln.fixed)}" if vuln.fixed else "; no fix released"
    return Finding(
        rule=vuln.id,
        message=f"{vuln.package} {vuln.version}: {vuln.id}{aliases}, {scored}: "
        f"{vuln.summary}{fixed}",
        severity=_severity(best.base if best else None),
        blocking=best.base >= threshold if best is not None else unscored_blocks,
        package=f"{vuln.package}=={vuln.version}",
        data={
            "aliases": list(vuln.aliases),
            "severity": "unknown" if best is None else _severity(best.base).value,
            "cvss": None
            if best is None
            else {"version": best.version, "base": best.base, "vector": best.vector},
            "scores": [
                {"version": s.version, "base": s.base, "vector": s.vector} for s in vuln.scores
            ],
            "fixed": list(vuln.fixed),
        },
    )


def vulnerability_check(ctx: GateContext) -> CheckResult:
    """No installed distribution has a known vulnerability at or above the policy's CVSS."""
    threshold = float(ctx.pipeline.security.block_cvss_from)
    dists = _environment(ctx, "security.dependencies")
    if isinstance(dists, CheckResult):
        return dists
    packages = [(d.key, d.version) for d in dists]
    osv = ctx.gates.osv
    path = database_path(ctx)
    if path is not None:
        database = OsvDatabase.load(path)
        vulns = [v for name, version in packages for v in database.find(name, version)]
        source = f"local OSV data {ctx.rel(Path(database.source))} ({database.count} records)"
        if database.count == 0:
            source += "; the database is empty, so no vulnerability can be found"
    else:
        try:
            vulns = query_api(osv.url, packages, timeout=osv.timeout.total_seconds())
        except httpx.HTTPError as exc:
            return CheckResult.judge(
                "security.dependencies",
                [Finding(rule="osv-unreachable", message=f"OSV API {osv.url}: {exc}")],
                summary="the OSV API could not be asked",
            )
        source = f"OSV API {osv.url}"
    unscored_blocks = osv.unscored == "block"
    findings = [vulnerability_finding(v, threshold, unscored_blocks=unscored_blocks) for v in vulns]

    def matches(finding: Finding, entry: AcceptedVulnerability) -> bool:
        ids = {finding.rule, *finding.data.get("aliases", [])}
        package = (finding.package or "").split("==")[0]
        return entry.id in ids and (entry.package is None or normalise(entry.package) == package)

    outcome = apply_allowances(
        findings,
        ctx.gates.allow.vulnerabilities,
        matches=matches,
        today=ctx.today,
        describe=lambda e: e.id,
    )
    blocking = sum(1 for f in outcome.open if f.blocking)
    scored = [f.data["scores"] for f in findings if f.data.get("scores")]
    worst = max((s["base"] for group in scored for s in group), default=0.0)
    unknown = sum(1 for f in findings if f.data.get("severity") == "unknown")
    return CheckResult.judge(
        "security.dependencies",
        outcome.open,
        summary=f"{len(packages)} distributions checked against {source}: "
        f"{len(findings)} known vulnerabilities ({unknown} of unknown severity), "
        f"{blocking} blocking (CVSS >= {threshold:g}"
        f"{', or unscored' if unscored_blocks else ''}), {len(outcome.allowed)} allowed",
        measured=worst,
        threshold=threshold,
        allowed=outcome.allowed,
        tools=(Tool("osv", "local" if path else "api"), Tool("cvss", _version("cvss"))),
    )


def licence_check(ctx: GateContext) -> CheckResult:
    """No forbidden licence in the environment; unknown fails, weak copyleft is listed."""
    security = ctx.pipeline.security
    dists = _environment(ctx, "security.licences")
    if isinstance(dists, CheckResult):
        return dists
    own = normalise(ctx.name())
    findings: list[Finding] = []
    counts = dict.fromkeys(Verdict, 0)
    for dist in dists:
        licence = declared_licence(dist.license_expression, dist.classifiers, dist.license)
        verdict, decided = judge_expression(
            licence.expression,
            forbidden=list(security.forbidden_licences),
            review=list(security.review_licences),
        )
        counts[verdict] += 1
        if verdict is Verdict.ALLOWED:
            continue
        text = licence.expression or "none"
        if verdict is Verdict.FORBIDDEN:
            message = (
                f"{dist.name} {dist.version}: forbidden licence {decided} "
                f"(declared {text} in {licence.source})"
            )
        elif verdict is Verdict.REVIEW:
            message = (
                f"{dist.name} {dist.version}: {decided} needs review "
                f"(declared {text} in {licence.source})"
            )
        else:
            message = f"{dist.name} {dist.version}: licence unknown ({decided})"
        findings.append(
            Finding(
                rule=f"licence-{verdict.value}",
                message=message,
                severity=Severity.LOW if verdict is Verdict.REVIEW else Severity.HIGH,
                blocking=verdict in (Verdict.FORBIDDEN, Verdict.UNKNOWN) and dist.key != own,
                package=f"{dist.name}=={dist.version}",
                data={"licence": licence.expression, "source": licence.source},
            )
        )

    def matches(finding: Finding, entry: ReviewedLicence) -> bool:
        name = normalise((finding.package or "").split("==")[0])
        declared = finding.data.get("licence")
        return name == normalise(entry.package) and (
            entry.licence is None or entry.licence == declared
        )

    outcome = apply_allowances(
        findings,
        ctx.gates.allow.licences,
        matches=matches,
        today=ctx.today,
        describe=lambda e: e.package,
    )
    return CheckResult.judge(
        "security.licences",
        outcome.open,
        summary=f"{len(dists)} distributions: {counts[Verdict.ALLOWED]} allowed, "
        f"{counts[Verdict.REVIEW]} for review, {counts[Verdict.FORBIDDEN]} forbidden, "
        f"{counts[Verdict.UNKNOWN]} unknown",
        measured=counts[Verdict.FORBIDDEN] + counts[Verdict.UNKNOWN],
        threshold=0,
        allowed=outcome.allowed,
        tools=(Tool("license-expression", _version("license-expression")),),
    )


def _flag(name: str) -> Callable[[GateContext], str | None]:
    def disabled(ctx: GateContext) -> str | None:
        return (
            None if getattr(ctx.pipeline.security, name) else f"pipeline.security.{name} is false"
        )

    return disabled


def security_checks() -> tuple[Check, ...]:
    """The security stage: vulnerabilities, secrets, licences, containers, images (run in
    parallel)."""
    from leitstand.gates.containers import container_check
    from leitstand.gates.image_scan import image_check
    from leitstand.gates.secrets import secrets_check

    return (
        Check(
            "security.dependencies",
            ("Dependency-Scan (CVE, CVSS)", "Dependency scan (CVE, CVSS)"),
            vulnerability_check,
            _flag("dependency_scan"),
        ),
        Check(
            "security.secrets",
            ("Secret-Detection", "Secret detection"),
            secrets_check,
            _flag("secret_detection"),
        ),
        Check(
            "security.licences",
            ("Lizenz-Scan", "Licence scan"),
            licence_check,
            _flag("licence_scan"),
        ),
        container_check,
        image_check,
    )
