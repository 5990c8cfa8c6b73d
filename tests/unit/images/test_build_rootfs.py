"""The root file system step of ``image build`` (``trim_base``) on a tar shaped like
mmdebstrap's output, with real .deb files made by ``dpkg-deb --build``: the packages become the
dpkg status, the build host's traces go, the user, its home and the CA bundle appear."""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from leitstand.images.build import trim_base
from leitstand.policy import load_policy_text

pytestmark = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")


def _deb(work: Path, name: str, version: str) -> bytes:
    root = work / f"{name}-pkg"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {name}\nVersion: {version}\nArchitecture: all\n"
        "Maintainer: Test <test@example.org>\nDescription: a test package\n test only\n",
        encoding="utf-8",
    )
    (root / "usr/share/doc" / name).mkdir(parents=True)
    out = work / f"{name}.deb"
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "--build", str(root), str(out)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return out.read_bytes()


def _base(work: Path) -> Path:
    entries: list[tuple[str, bytes | None, bytes]] = [
        ("./", None, tarfile.DIRTYPE),
        ("./dev/", None, tarfile.DIRTYPE),
        ("./dev/null", None, tarfile.CHRTYPE),
        ("./etc/", None, tarfile.DIRTYPE),
        ("./etc/resolv.conf", b"nameserver 10.0.0.1\n", tarfile.REGTYPE),
        ("./etc/hostname", b"build-host\n", tarfile.REGTYPE),
        ("./etc/.hidden", b"kept\n", tarfile.REGTYPE),
        ("./usr/share/ca-certificates/mozilla/B.crt", b"-----B-----", tarfile.REGTYPE),
        ("./usr/share/ca-certificates/mozilla/A.crt", b"-----A-----\n", tarfile.REGTYPE),
        ("./var/lib/apt/lists/deb.debian.org_Packages", b"Package: x\n", tarfile.REGTYPE),
        ("./var/cache/apt/archives/zlib1g.deb", _deb(work, "zlib1g", "1:1.2.13"), tarfile.REGTYPE),
        ("./var/cache/apt/archives/libc6.deb", _deb(work, "libc6", "2.36-9"), tarfile.REGTYPE),
        ("./var/lib/dpkg/status", b"", tarfile.REGTYPE),
        ("./usr/bin/python3.11", b"\x7fELF", tarfile.REGTYPE),
    ]
    path = work / "base.tar"
    with tarfile.open(path, "w") as tar:
        for name, data, kind in entries:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
            info.size = len(data) if data is not None else 0
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def test_the_base_becomes_a_root_file_system_with_a_dpkg_status(tmp_path: Path) -> None:
    settings = load_policy_text("{}").gates.containers.build
    members, packages = trim_base(_base(tmp_path), settings=settings, timeout=60)
    by_name = {
        m.name.lstrip("./") if m.name.startswith("./") else m.name: (m, d) for m, d in members
    }
    assert packages == [("libc6", "2.36-9"), ("zlib1g", "1:1.2.13")]
    status = by_name["var/lib/dpkg/status"][1]
    assert status is not None
    paragraphs = status.decode().strip().split("\n\n")
    assert [p.splitlines()[:2] for p in paragraphs] == [
        ["Package: libc6", "Status: install ok installed"],
        ["Package: zlib1g", "Status: install ok installed"],
    ]
    names = set(by_name)
    # The build host's traces are gone; the package files too (their contents are extracted).
    assert not {"dev/null", "etc/resolv.conf", "etc/hostname"} & names
    assert not [n for n in names if n.startswith(("var/cache/apt/", "var/lib/apt/lists/"))]
    assert "etc/.hidden" in names and "usr/bin/python3.11" in names
    bundle = by_name["etc/ssl/certs/ca-certificates.crt"][1]
    assert bundle == b"-----A-----\n-----B-----\n"  # sorted, each ending in a newline
    passwd = by_name["etc/passwd"][1]
    assert passwd is not None and b"leitstand:x:10001:10001:" in passwd
    home, _ = by_name["var/lib/leitstand"]
    assert home.isdir() and home.uid == 10001 and home.mode == 0o700
    tmp, _ = by_name["tmp"]
    assert tmp.mode == 0o1777
    # Exactly one dpkg status: the generated one replaced the empty one of the base.
    assert sum(1 for m, _ in members if m.name.endswith("var/lib/dpkg/status")) == 1
