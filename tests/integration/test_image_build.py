"""leitstand's own image, built on this machine from Debian packages (mmdebstrap) and its wheel
(pip), with no registry and no container engine: reproducible, non-root, with a health check and
labels, the Debian packages visible to scanners, no device nodes and no set-id programs; it
starts (``leitstand --version`` and ``leitstand up`` answering /healthz inside a chroot), its
scan and signature verify, and a changed byte fails the verification."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import leitstand
from leitstand.images.build import Built, build_image, dpkg_status
from leitstand.images.oci import read_layout
from leitstand.policy import load_policy_text
from leitstand.testing import free_port, wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("mmdebstrap") is None, reason="mmdebstrap is not installed"),
]

ROOT = Path(__file__).resolve().parents[2]
EPOCH = 1_764_547_200  # 2025-12-01


def test_the_dpkg_status_lists_each_package_as_installed_sorted_by_name() -> None:
    status = dpkg_status(
        [
            "Package: zlib1g\nVersion: 1:1.2.13\nArchitecture: amd64\n",
            "Package: libc6\nStatus: deinstall ok config-files\nVersion: 2.36-9\n"
            "Description: GNU C Library\n shared libraries\n",
            "no package line\n",
        ]
    ).decode()
    paragraphs = status.strip().split("\n\n")
    assert [p.splitlines()[0] for p in paragraphs] == ["Package: libc6", "Package: zlib1g"]
    assert paragraphs[0].splitlines()[1] == "Status: install ok installed"
    assert "deinstall" not in status and " shared libraries" in paragraphs[0]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (found,) = out.glob("leitstand-*.whl")
    return found


@pytest.fixture(scope="module")
def built(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Built:
    settings = load_policy_text("{}").gates.containers.build
    return build_image(
        wheel, tmp_path_factory.mktemp("image") / "layout", settings=settings, epoch=EPOCH
    )


def _layer(built: Built) -> tarfile.TarFile:
    blob = built.out / "blobs/sha256" / built.ref.layers[0].hex
    return tarfile.open(fileobj=io.BytesIO(blob.read_bytes()), mode="r:gz")


def test_the_image_is_tagged_with_the_wheels_version_and_runs_as_a_user(built: Built) -> None:
    ref = read_layout(built.out)
    assert ref.tag == leitstand.__version__ and ref.name == "leitstand"
    config = json.loads((built.out / "blobs/sha256" / ref.config.hex).read_bytes())
    assert config["config"]["User"] == "10001:10001"
    assert config["config"]["Entrypoint"] == ["/usr/local/bin/leitstand"]
    assert config["config"]["Cmd"] == ["up"]
    assert config["config"]["Healthcheck"]["Test"][0] == "CMD"
    labels = config["config"]["Labels"]
    assert labels["org.opencontainers.image.version"] == leitstand.__version__
    assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"
    assert config["created"].startswith("2025-12-01T00:00:00")


def test_the_root_file_system_has_what_scanners_and_the_runtime_need(built: Built) -> None:
    with _layer(built) as layer:
        members = {m.name: m for m in layer.getmembers()}
        status = layer.extractfile(members["var/lib/dpkg/status"])
        assert status is not None
        text = status.read().decode()
        passwd = layer.extractfile(members["etc/passwd"])
        assert passwd is not None
        users = passwd.read().decode()
    assert "Package: python3.11-minimal\nStatus: install ok installed" in text
    assert {n for n, _ in built.debian_packages} >= {"python3.11-minimal", "libssl3", "tzdata"}
    assert "leitstand:x:10001:10001:" in users
    assert members["usr/local/bin/leitstand"].mode == 0o755
    assert members["var/lib/leitstand"].uid == 10001
    assert members["etc/ssl/certs/ca-certificates.crt"].size > 100_000
    assert not [n for n in members if n.startswith(("dev/", "var/cache/apt/archives/"))]
    assert not [m.name for m in members.values() if m.isfile() and m.mode & 0o6000]  # set-id
    assert not [m.name for m in members.values() if m.ischr() or m.isblk() or m.isfifo()]
    assert any(n.startswith("opt/leitstand/lib/leitstand/") for n in members)
    assert not [n for n in members if "__pycache__" in n or n.endswith("direct_url.json")]


def test_the_same_inputs_give_the_same_digest(built: Built, wheel: Path, tmp_path: Path) -> None:
    settings = load_policy_text("{}").gates.containers.build
    again = build_image(wheel, tmp_path / "again", settings=settings, epoch=EPOCH)
    assert again.ref.manifest.digest == built.ref.manifest.digest
    later = build_image(wheel, tmp_path / "later", settings=settings, epoch=EPOCH + 86_400)
    assert later.ref.manifest.digest != built.ref.manifest.digest


@pytest.fixture(scope="module")
def rootfs(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("rootfs")
    with _layer(built) as layer:
        layer.extractall(root, filter="tar")
    for folder in ("proc", "dev"):
        (root / folder).mkdir(exist_ok=True)
    root.chmod(0o755)  # "/" of the image (pytest makes its folders owner-only)
    (root / "tmp").chmod(0o1777)  # the "tar" extraction filter drops the sticky bit
    yield root


CHROOT = shutil.which("chroot") or "/usr/sbin/chroot"
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chroot needs root")


def _env(root: Path, built: Built) -> dict[str, str]:
    config = json.loads((built.out / "blobs/sha256" / built.ref.config.hex).read_bytes())
    return dict(entry.split("=", 1) for entry in config["config"]["Env"])


@needs_root
def test_the_image_starts_leitstand_as_its_user(rootfs: Path, built: Built) -> None:
    done = subprocess.run(
        [CHROOT, "--userspec=10001:10001", str(rootfs), "/usr/local/bin/leitstand", "--version"],
        env=_env(rootfs, built),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(leitstand.__version__)


@needs_root
def test_leitstand_up_in_the_image_answers_its_health_check(rootfs: Path, built: Built) -> None:
    port = free_port()
    env = {
        **_env(rootfs, built),
        "LEITSTAND_HOST": "127.0.0.1",
        "LEITSTAND_PORT": str(port),
        "LEITSTAND_HOME": "/tmp/home",
        "LEITSTAND_MANAGED_STACK": "off",
    }
    proc = subprocess.Popen(
        [CHROOT, "--userspec=10001:10001", str(rootfs), "/usr/local/bin/leitstand", "up"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        wait_for(
            "leitstand up inside the image",
            lambda: proc.poll() is not None or httpx.get(url, timeout=5).status_code == 200,
            timeout=180,
            ignore=(httpx.HTTPError,),
        )
        if proc.poll() is not None:
            output = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            pytest.fail(f"leitstand up ended before it answered: {output[-2000:]}")
        assert httpx.get(url, timeout=5).json()["status"] == "ok"
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode in (0, -15), output


def test_leitstands_image_passes_its_own_scan_and_verifies_once_signed(
    built: Built, tmp_path: Path
) -> None:
    from datetime import UTC, datetime

    from leitstand.gates.image_scan import image_scan
    from leitstand.gates.model import Status
    from leitstand.images.attest import ImagePredicate, Statement, sign_envelope
    from leitstand.images.keys import create_signing_key
    from leitstand.images.service import check_image
    from support.gates_lab import PYPA_SNAPSHOT, gate_context

    project = tmp_path / "project"
    project.mkdir()
    (project / "requirements.txt").write_text("", encoding="utf-8")
    shutil.copytree(built.out, project / "image")
    policy = load_policy_text(f"gates:\n  osv:\n    path: {PYPA_SNAPSHOT}\n")
    ctx = gate_context(project, policy, out=tmp_path / "report")
    result = image_scan(ctx)
    blocking = [f.message for f in result.findings if f.blocking]
    assert result.status is Status.PASS and blocking == [], blocking
    (scanned,) = ctx.scanned_images
    assert scanned.manifest_digest == built.ref.manifest.digest
    assert scanned.packages > 100  # Debian and Python packages in the SBOM
    # Signed (as `image sign` does, without a store) it verifies; a changed byte does not.
    key = create_signing_key(tmp_path / "key.pem")
    layout = project / "image"
    predicate = ImagePredicate(scanned.sbom_digest, 1, datetime(2025, 12, 1, tzinfo=UTC))
    statement = Statement.for_image(built.ref, predicate).to_json()
    (layout / "attestations").mkdir()
    envelope = sign_envelope(statement, key)
    (layout / "attestations" / f"{built.ref.manifest.hex}.dsse.json").write_bytes(
        envelope.to_json()
    )
    assert check_image(layout, [key.public_key()]).ok
    config = layout / "blobs/sha256" / built.ref.config.hex
    data = bytearray(config.read_bytes())
    data[-2] ^= 0x01
    config.write_bytes(bytes(data))
    problems = check_image(layout, [key.public_key()]).problems
    assert [p.path for p in problems][:1] == [f"blobs/sha256/{built.ref.config.hex}"]
