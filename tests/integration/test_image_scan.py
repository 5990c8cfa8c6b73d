"""The image scan (check ``security.images``) on small OCI image layouts built here, with the
real syft and Trivy, offline: advisories of the Python packages in the image, Debian packages
reported as not checked, a secret baked into the image, a changed blob, the seed's
"0 Critical, 0 High", and the scanned digest recorded with the gate run."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from leitstand.auth.model import Actor
from leitstand.bootstrap import Container, build
from leitstand.gates.context import GateContext
from leitstand.gates.image_scan import find_images, find_layouts, image_scan, sbom_packages
from leitstand.gates.model import (
    CheckResult,
    Finding,
    RunResult,
    Severity,
    Stage,
    StageResult,
    Status,
)
from leitstand.gates.reports import gitlab_report
from leitstand.gates.schemas import GateRunOut
from leitstand.gates.service import GateRequest
from leitstand.images.config import Healthcheck, ImageConfig
from leitstand.images.oci import ImageRef, created_from_epoch, write_layout
from leitstand.images.verify import check_layout
from leitstand.policy import load_policy_text
from leitstand.settings import Settings
from support.gates_lab import gate_context, osv_folder

EPOCH = created_from_epoch(1_764_547_200)  # 2025-12-01
GITHUB_TOKEN = "ghp_" + "R3aLt0k3nV4lu3Xq9Zp2Lm8Nb7Vc6Xz5Aa1Bb"  # not a real token
DPKG_STATUS = """\
Package: openssl
Status: install ok installed
Priority: optional
Section: utils
Installed-Size: 2000
Maintainer: Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.debian.net>
Architecture: amd64
Version: 3.0.11-1~deb12u1
Description: Secure Sockets Layer toolkit

"""


def _rootfs(root: Path, *, python: dict[str, str], secret: bool) -> Path:
    (root / "etc").mkdir(parents=True)
    (root / "etc/os-release").write_text(
        'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n',
        encoding="utf-8",
    )
    (root / "etc/debian_version").write_text("12.8\n", encoding="utf-8")
    (root / "var/lib/dpkg").mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text(DPKG_STATUS, encoding="utf-8")
    site = root / "usr/lib/python3/dist-packages"
    for name, version in python.items():
        info = site / f"{name}-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8"
        )
    (root / "app").mkdir()
    if secret:
        (root / "app/.env").write_text(f"GITHUB_TOKEN={GITHUB_TOKEN}\n", encoding="utf-8")
    return root


def _image(
    out: Path, work: Path, *, python: dict[str, str], secret: bool = False, tag: str = "1.0.0"
) -> ImageRef:
    config = ImageConfig(
        name="demo-app",
        user="10001",
        healthcheck=Healthcheck(("CMD", "/app/health")),
    )
    return write_layout(
        out,
        rootfs_tar=_rootfs(work, python=python, secret=secret),
        config=config,
        tag=tag,
        created=EPOCH,
    )


def _ctx(project: Path, policy_yaml: str = "") -> GateContext:
    (project / "requirements.txt").write_text("", encoding="utf-8")
    return gate_context(project, load_policy_text(policy_yaml or "{}"))


def _osv_policy(osv: Path, extra: str = "") -> str:
    return f"gates:\n  osv:\n    path: {osv}\n{extra}"


@pytest.fixture(scope="module")
def osv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return osv_folder(tmp_path_factory.mktemp("osv"))


def _by_rule(findings: tuple[Finding, ...]) -> dict[str, Finding]:
    return {f.rule: f for f in findings}


def test_a_vulnerable_package_and_a_baked_in_secret_fail_the_scan(
    tmp_path: Path, osv: Path
) -> None:
    ref = _image(
        tmp_path / "project/dist/image",
        tmp_path / "rootfs",
        python={"vulnlib": "1.0", "goodlib": "1.0"},
        secret=True,
    )
    ctx = _ctx(tmp_path / "project", _osv_policy(osv))
    result = image_scan(ctx)
    assert result.status is Status.FAIL
    found = _by_rule(result.findings)
    vuln = found["GHSA-test-0001"]
    assert vuln.blocking and vuln.severity is Severity.CRITICAL
    assert vuln.message.startswith("dist/image: vulnlib 1.0: GHSA-test-0001")
    assert "GHSA-test-0003" not in found  # goodlib 1.0 is past the fix (0.5)
    secret = found["trivy:github-pat"]
    assert secret.blocking and secret.severity is Severity.CRITICAL
    assert "/app/.env:1" in secret.message and GITHUB_TOKEN not in secret.message
    debian = found["LS-IMAGE-NOT-CHECKED"]
    assert not debian.blocking and "(deb) not checked" in debian.message
    assert "no OSV Debian feed (gates.osv.debian_path)" in debian.message
    assert debian.data["packages"] == ["openssl@3.0.11-1~deb12u1"]
    assert result.summary.startswith("1 image(s) (demo-app:1.0.0): 2 critical, 0 high")
    assert {t.name for t in result.tools} == {"syft", "trivy"}
    # The scan is recorded on the context with the SBOM it wrote into the report.
    (image,) = ctx.scanned_images
    assert image.manifest_digest == ref.manifest.digest and image.tag == "1.0.0"
    sbom_file = ctx.out / "images" / ref.manifest.hex[:16] / "sbom.cdx.json"
    assert image.sbom_digest == "sha256:" + hashlib.sha256(sbom_file.read_bytes()).hexdigest()
    names = {
        (p.ecosystem, p.name, p.version) for p in sbom_packages(json.loads(sbom_file.read_text()))
    }
    assert {("pypi", "vulnlib", "1.0"), ("deb", "openssl", "3.0.11-1~deb12u1")} <= names


def test_a_clean_image_passes_and_lists_what_it_could_not_check(tmp_path: Path, osv: Path) -> None:
    _image(tmp_path / "project/image", tmp_path / "rootfs", python={"goodlib": "1.0"})
    result = image_scan(_ctx(tmp_path / "project", _osv_policy(osv)))
    assert result.status is Status.PASS, [f.message for f in result.findings if f.blocking]
    assert not [f for f in result.findings if f.blocking]
    assert "LS-IMAGE-NOT-CHECKED" in _by_rule(result.findings)


def test_without_osv_data_no_package_is_reported_clean(tmp_path: Path) -> None:
    _image(tmp_path / "project/image", tmp_path / "rootfs", python={"vulnlib": "1.0"})
    result = image_scan(_ctx(tmp_path / "project"))
    unchecked = _by_rule(result.findings)["LS-IMAGE-NOT-CHECKED"]
    assert "2 package(s) (deb, pypi) not checked" in unchecked.message
    assert "no OSV data" in unchecked.message


def test_the_policy_may_allow_high_findings_but_not_more_than_it_says(
    tmp_path: Path, osv: Path
) -> None:
    _image(tmp_path / "project/image", tmp_path / "rootfs", python={"vulnlib": "1.0"})
    allowing = "  containers:\n    scan: {max_critical: 1, max_high: 0}\n"
    result = image_scan(_ctx(tmp_path / "project", _osv_policy(osv, allowing)))
    assert result.status is Status.PASS
    vuln = _by_rule(result.findings)["GHSA-test-0001"]
    assert not vuln.blocking and vuln.data["within"] == "gates.containers.scan"
    assert "1 critical, 0 high (at most 1 and 0)" in result.summary


def test_a_changed_blob_fails_before_any_scanner_runs(tmp_path: Path, osv: Path) -> None:
    ref = _image(tmp_path / "project/image", tmp_path / "rootfs", python={"goodlib": "1.0"})
    layer = ref.layers[0]
    blob = tmp_path / "project/image/blobs/sha256" / layer.hex
    data = bytearray(blob.read_bytes())
    data[-1] ^= 0x01
    blob.write_bytes(bytes(data))
    ctx = _ctx(tmp_path / "project", _osv_policy(osv))
    result = image_scan(ctx)
    assert result.status is Status.FAIL
    (problem,) = result.findings
    assert problem.rule == "LS-IMAGE-LAYOUT" and f"blobs/sha256/{layer.hex}" in problem.message
    assert ctx.scanned_images == []
    assert not (ctx.out / "images").exists()


def test_layouts_are_found_below_the_project_or_where_the_policy_says(tmp_path: Path) -> None:
    project = tmp_path / "project"
    _image(project / "a/image", tmp_path / "r1", python={})
    _image(project / "b/nested/image", tmp_path / "r2", python={})
    (project / ".venv/image").mkdir(parents=True)
    (project / ".venv/image/oci-layout").write_text("{}", encoding="utf-8")
    ctx = _ctx(project)
    assert [p.relative_to(project).as_posix() for p in find_layouts(ctx)] == [
        "a/image",
        "b/nested/image",
    ]
    only_a = _ctx(project, "gates:\n  containers:\n    scan: {images: [a/*]}\n")
    assert [p.relative_to(project).as_posix() for p in find_layouts(only_a)] == ["a/image"]


@pytest.fixture()
def container(tmp_path: Path) -> Iterator[Container]:
    c = build(Settings(home=tmp_path / "home"))
    try:
        yield c
    finally:
        c.close()


def test_the_gate_run_records_the_digest_it_scanned(
    tmp_path: Path, osv: Path, container: Container
) -> None:
    project = tmp_path / "project"
    ref = _image(project / "image", tmp_path / "rootfs", python={"goodlib": "1.0"})
    (project / "requirements.txt").write_text("", encoding="utf-8")
    # Only the image scan: the other security checks would build the project's environment.
    only_images = (
        "pipeline:\n  security:\n    dependency_scan: false\n    secret_detection: false\n"
        "    licence_scan: false\n"
    )
    (project / "leitstand.yaml").write_text(only_images + _osv_policy(osv), encoding="utf-8")
    request = GateRequest(
        path=project,
        stages=(Stage.SECURITY,),
        out=tmp_path / "report",
        version="1.0.0",
        config=project / "leitstand.yaml",
    )
    result, out, record = container.gates.run(request, actor=Actor(name="dana", role="developer"))
    images = next(c for c in result.checks if c.id == "security.images")
    assert images.status is Status.PASS
    assert ref.manifest.digest in record.artifact_digests
    listing = json.loads((out / "artifacts.json").read_text())
    assert listing["images"][0]["manifest_digest"] == ref.manifest.digest
    (entry,) = [e for e, run_id in container.gates.runs() if run_id == record.id]
    evidence = GateRunOut.of(entry, record.id)
    assert [i.manifest_digest for i in evidence.images] == [ref.manifest.digest]
    assert evidence.images[0].sbom_digest.startswith("sha256:")


# -- Debian packages against an OSV Debian feed ----------------------------------------------

CRITICAL_VECTOR = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"


def _debian_feed(folder: Path, records: dict[str, tuple[str, str]]) -> Path:
    """OSV records in the Debian ecosystem: id -> (ecosystem, fixed version) for openssl."""
    folder.mkdir(parents=True)
    for vid, (ecosystem, fixed) in records.items():
        record = {
            "id": vid,
            "summary": f"openssl advisory {vid}",
            "aliases": [f"CVE-2026-{len(vid):04d}"],
            "severity": [{"type": "CVSS_V3", "score": CRITICAL_VECTOR}],
            "affected": [
                {
                    "package": {"ecosystem": ecosystem, "name": "openssl"},
                    "ranges": [
                        {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}
                    ],
                }
            ],
        }
        (folder / f"{vid}.json").write_text(json.dumps(record), encoding="utf-8")
    return folder


def test_debian_packages_are_matched_against_a_debian_feed_in_dpkg_order(
    tmp_path: Path, osv: Path
) -> None:
    """The image holds openssl 3.0.11-1~deb12u1. In dpkg's ordering "~" sorts before the end
    of the string: a fix in 3.0.11-1 is later (vulnerable); a fix in 3.0.11-1~deb12u1 is this
    version (fixed); an advisory of Debian 11 is not this image's release."""
    feed = _debian_feed(
        tmp_path / "debian-osv",
        {
            "DEBIAN-CVE-2026-0001": ("Debian:12", "3.0.11-1"),
            "DEBIAN-CVE-2026-0002": ("Debian:12", "3.0.11-1~deb12u1"),
            "DLA-2026-0003": ("Debian:11", "9.9.9-1"),
        },
    )
    ref = _image(tmp_path / "project/image", tmp_path / "rootfs", python={"goodlib": "1.0"})
    policy = _osv_policy(osv).replace("  osv:\n", f"  osv:\n    debian_path: {feed}\n")
    ctx = _ctx(tmp_path / "project", policy)
    result = image_scan(ctx)
    assert result.status is Status.FAIL
    found = _by_rule(result.findings)
    hit = found["DEBIAN-CVE-2026-0001"]
    assert hit.blocking and hit.severity is Severity.CRITICAL
    assert hit.message.startswith("image: openssl 3.0.11-1~deb12u1: DEBIAN-CVE-2026-0001")
    assert hit.data["ecosystem"] == "Debian:12" and hit.data["binaries"] == ["openssl"]
    assert hit.data["os"] == "debian:12"
    assert "DEBIAN-CVE-2026-0002" not in found and "DLA-2026-0003" not in found
    # Every package had a feed: nothing is left "not checked".
    assert "LS-IMAGE-NOT-CHECKED" not in found
    # GitLab's container-scanning report names the package, the OS and the image.
    run = _run_result(result)
    report = gitlab_report(
        run, result, kind="container_scanning", scanner=("syft_trivy", "syft and Trivy", "x")
    )
    (entry,) = [v for v in report["vulnerabilities"] if v["name"] == "DEBIAN-CVE-2026-0001"]
    assert entry["location"] == {
        "dependency": {"package": {"name": "openssl"}, "version": "3.0.11-1~deb12u1"},
        "operating_system": "debian:12",
        "image": "image",
    }
    assert entry["severity"] == "Critical"
    assert {"type": "cve", "name": "CVE-2026-0020", "value": "CVE-2026-0020"} in entry[
        "identifiers"
    ]
    assert report["scan"]["type"] == "container_scanning"
    assert ctx.scanned_images[0].manifest_digest == ref.manifest.digest


def _run_result(check: CheckResult) -> RunResult:
    stage = StageResult(Stage.SECURITY, check.status, (check,), 1.0)
    return RunResult(
        project="demo-app",
        version="1.0.0",
        commit=None,
        path=".",
        started_at="2026-12-07T10:00:00+00:00",
        duration_s=1.0,
        stages=(stage,),
    )


# -- images that are not OCI layouts: docker-archive and podman storage ------------------------


def _skopeo(*args: str) -> None:
    skopeo = shutil.which("skopeo")
    assert skopeo is not None, "skopeo is installed by scripts/test"
    subprocess.run([skopeo, "copy", "--quiet", *args], check=True, timeout=120)


def test_a_docker_archive_is_copied_into_a_layout_and_scanned(tmp_path: Path, osv: Path) -> None:
    _image(tmp_path / "build/image", tmp_path / "rootfs", python={"vulnlib": "1.0"})
    project = tmp_path / "project"
    (project / "dist").mkdir(parents=True)
    archive = project / "dist/demo-app.tar"
    _skopeo(f"oci:{tmp_path / 'build/image'}:1.0.0", f"docker-archive:{archive}:demo-app:1.0.0")
    policy = _osv_policy(osv, "  containers:\n    scan: {images: [dist/*.tar]}\n")
    ctx = _ctx(project, policy)
    assert [(s.kind, s.where) for s in find_images(ctx)] == [
        ("docker-archive", "dist/demo-app.tar")
    ]
    result = image_scan(ctx)
    assert result.status is Status.FAIL
    vuln = _by_rule(result.findings)["GHSA-test-0001"]
    assert vuln.message.startswith("dist/demo-app.tar: vulnlib 1.0")
    (image,) = ctx.scanned_images
    assert image.source == "docker-archive" and image.tag == "1.0.0"
    # The copy skopeo made is in the report, and it is what was scanned.
    copies = list((ctx.out / "images/sources").iterdir())
    assert len(copies) == 1 and (copies[0] / "oci-layout").is_file()
    index = json.loads((copies[0] / "index.json").read_text())
    assert index["manifests"][0]["digest"] == image.manifest_digest


def test_a_broken_archive_fails_the_scan_naming_it(tmp_path: Path, osv: Path) -> None:
    project = tmp_path / "project"
    (project / "dist").mkdir(parents=True)
    with tarfile.open(project / "dist/broken.tar", "w") as archive:
        data = b'[{"Config": "missing.json", "RepoTags": ["x:1"], "Layers": ["nope.tar"]}]'
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    policy = _osv_policy(osv, "  containers:\n    scan: {images: [dist/*.tar]}\n")
    result = image_scan(_ctx(project, policy))
    assert result.status is Status.FAIL
    (problem,) = result.findings
    assert problem.rule == "LS-IMAGE-LAYOUT" and problem.blocking
    assert problem.message.startswith("dist/broken.tar: not copied into an OCI layout: skopeo")


def test_an_image_in_podman_storage_is_scanned_by_reference(tmp_path: Path, osv: Path) -> None:
    podman = shutil.which("podman")
    assert podman is not None, "podman is installed by scripts/test"
    _image(tmp_path / "build/image", tmp_path / "rootfs", python={"vulnlib": "1.0"})
    archive = tmp_path / "demo-app.tar"
    _skopeo(f"oci:{tmp_path / 'build/image'}:1.0.0", f"docker-archive:{archive}:demo-app:1.0.0")
    # podman refuses a run root longer than 50 characters: a short one under /tmp.
    run = Path(tempfile.mkdtemp(prefix="ls-podman-", dir="/tmp"))
    graph = tmp_path / "storage"
    storage = ["--root", str(graph), "--runroot", str(run), "--storage-driver", "vfs"]
    try:
        subprocess.run(
            [podman, *storage, "load", "--quiet", "--input", str(archive)],
            check=True,
            timeout=120,
            capture_output=True,
        )
        _scan_stored(tmp_path, osv, graph, run)
    finally:
        shutil.rmtree(run, ignore_errors=True)


def _scan_stored(tmp_path: Path, osv: Path, graph: Path, run: Path) -> None:
    (tmp_path / "project").mkdir()
    reference = f"[vfs@{graph}+{run}]docker.io/library/demo-app:1.0.0"
    policy = _osv_policy(osv, f"  containers:\n    scan:\n      storage: ['{reference}']\n")
    ctx = _ctx(tmp_path / "project", policy)
    result = image_scan(ctx)
    assert result.status is Status.FAIL
    assert "GHSA-test-0001" in _by_rule(result.findings)
    (image,) = ctx.scanned_images
    assert image.source == "containers-storage" and image.layout == reference
    assert image.name == "docker.io/library/demo-app" and image.tag == "1.0.0"


def test_a_layout_written_by_another_tool_is_scanned_without_leitstands_tag_rule(
    tmp_path: Path, osv: Path
) -> None:
    """A tag that is not the manifest's version annotation (here skopeo tagged a copy 2.0):
    leitstand refuses that for the images it signs, but it is no reason not to scan an image
    another tool wrote."""
    _image(tmp_path / "build/image", tmp_path / "rootfs", python={"goodlib": "1.0"})
    (tmp_path / "project").mkdir()
    _skopeo(f"oci:{tmp_path / 'build/image'}:1.0.0", f"oci:{tmp_path / 'project/image'}:2.0")
    strict = check_layout(tmp_path / "project/image")
    assert [p.path for p in strict.problems] == ["index.json"]
    assert "is not the manifest's" in strict.problems[0].message
    result = image_scan(_ctx(tmp_path / "project", _osv_policy(osv)))
    assert result.status is Status.PASS, [f.message for f in result.findings if f.blocking]
