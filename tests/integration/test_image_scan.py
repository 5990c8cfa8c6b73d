"""The image scan (check ``security.images``) on small OCI image layouts built here, with the
real syft and Trivy, offline: advisories of the Python packages in the image, Debian packages
reported as not checked, a secret baked into the image, a changed blob, the seed's
"0 Critical, 0 High", and the scanned digest recorded with the gate run."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from leitstand.auth.model import Actor
from leitstand.bootstrap import Container, build
from leitstand.gates.context import GateContext
from leitstand.gates.environment import PipOptions
from leitstand.gates.image_scan import find_layouts, image_scan, sbom_packages
from leitstand.gates.model import Finding, Severity, Stage, Status
from leitstand.gates.project import load_project
from leitstand.gates.schemas import GateRunOut
from leitstand.gates.service import GateRequest
from leitstand.images.config import Healthcheck, ImageConfig
from leitstand.images.oci import ImageRef, created_from_epoch, write_layout
from leitstand.policy import load_policy_text
from leitstand.settings import Settings
from support.gates_lab import osv_folder

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
    policy = load_policy_text(policy_yaml) if policy_yaml else load_policy_text("{}")
    return GateContext(
        project=load_project(project),
        policy=policy,
        out=project / "gate-report",
        today=date(2026, 12, 7),
        now=datetime(2026, 12, 7, 10, tzinfo=UTC),
        pip_options=PipOptions(),
    )


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
    assert debian.data["packages"] == ["openssl@3.0.11-1~deb12u1"]
    assert result.summary.startswith("1 image layout(s) (demo-app:1.0.0): 2 critical, 0 high")
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
