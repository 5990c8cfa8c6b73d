"""``leitstand image build``: leitstand's own OCI image, from Debian packages and a wheel, with no
registry and no container engine.

1. **mmdebstrap** (``--variant=extract``) downloads the policy's Debian packages
   (``gates.containers.build.packages``, with their hard dependencies) from the policy's mirror
   and extracts them into a tar; nothing is configured and no maintainer script runs. The
   package files are kept in the tar (``--skip=cleanup/apt/cache``) for the next step.
2. The tar is trimmed to a root file system: the package files become ``/var/lib/dpkg/status``
   (read with ``dpkg-deb``, so that syft and Trivy see the Debian packages), and what a build
   host leaves behind goes (``/dev`` nodes, apt lists and cache, ``resolv.conf``,
   ``hostname``). A CA bundle is assembled from the ``ca-certificates`` files (its maintainer
   script would do that), ``/etc/passwd`` and ``/etc/group`` name the non-root user, and
   ``/var/lib/leitstand`` (the home) belongs to it.
3. **pip** installs the wheel and its dependencies as binary wheels for the image's Python
   (``--target /opt/leitstand/lib``, ``--platform``, no byte code); ``/usr/local/bin/leitstand``
   starts it.
4. ``images.oci.write_layout`` writes one reproducible layer (sorted, mtimes clamped to
   SOURCE_DATE_EPOCH, fixed gzip header), the config (non-root user, health check, labels)
   and the layout, tagged with the wheel's version, never ``latest``.

The same packages from the mirror, the same wheels and the same epoch give the same digest.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.parser import HeaderParser
from pathlib import Path, PurePosixPath

from leitstand.images.config import Healthcheck, ImageConfig
from leitstand.images.oci import ImageError, ImageRef, created_from_epoch, write_layout
from leitstand.images.tarball import SET_ID_BITS
from leitstand.policy.gates import ImageBuildSettings

__all__ = ["BuildError", "Built", "build_image", "dpkg_status", "trim_base", "wheel_metadata"]

_HOME = "var/lib/leitstand"
_LIB = "opt/leitstand/lib"
_LAUNCHER = "usr/local/bin/leitstand"
_ARCHIVES = "var/cache/apt/archives/"
_DROPPED_PREFIXES = ("dev/", "var/lib/apt/lists/", "var/cache/apt/", "var/log/", "run/")
_DROPPED_FILES = {"etc/resolv.conf", "etc/hostname", "etc/machine-id"}
_CA_DIR = "usr/share/ca-certificates/"
_CA_BUNDLE = "etc/ssl/certs/ca-certificates.crt"
_HEALTH = (
    "CMD",
    "/usr/bin/python3",
    "-c",
    "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=3)",
)


class BuildError(ImageError):
    """A build step failed (exit code 1): the tool's own message is kept."""


@dataclass(frozen=True, slots=True)
class Built:
    """A built image: where its layout is, what it holds, how long it took."""

    ref: ImageRef
    out: Path
    layer_bytes: int
    debian_packages: list[tuple[str, str]] = field(default_factory=list)
    python_packages: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "layout": str(self.out),
            "name": self.ref.name,
            "tag": self.ref.tag,
            "manifest_digest": self.ref.manifest.digest,
            "layer_bytes": self.layer_bytes,
            "debian_packages": [f"{n}={v}" for n, v in self.debian_packages],
            "python_packages": self.python_packages,
            "seconds": round(self.seconds, 1),
        }


@dataclass(frozen=True, slots=True)
class WheelInfo:
    name: str
    version: str
    licence: str
    source: str


def wheel_metadata(wheel: Path) -> WheelInfo:
    """Name, version, licence and source URL from a wheel's METADATA."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            meta = next((n for n in archive.namelist() if n.endswith(".dist-info/METADATA")), None)
            if meta is None:
                raise BuildError(f"{wheel}: a wheel without .dist-info/METADATA")
            text = archive.read(meta).decode("utf-8", errors="replace")
    except (OSError, zipfile.BadZipFile) as exc:
        raise BuildError(f"{wheel}: not a readable wheel ({exc})") from None
    headers = HeaderParser().parsestr(text)
    urls = headers.get_all("Project-URL") or []
    source = next((u.split(",", 1)[1].strip() for u in urls if "," in u), "")
    return WheelInfo(
        name=str(headers.get("Name", "")),
        version=str(headers.get("Version", "")),
        licence=str(headers.get("License-Expression") or headers.get("License") or ""),
        source=source,
    )


def _run(args: list[str], *, timeout: float, what: str, env: dict[str, str] | None = None) -> str:
    try:
        done = subprocess.run(  # noqa: S603 - an argument list built here, no shell
            args, capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        raise BuildError(f"{what} did not finish within {timeout:.0f} s") from None
    except OSError as exc:
        raise BuildError(f"{what}: cannot run {args[0]} ({exc.strerror})") from None
    if done.returncode != 0:
        lines = [line for line in (done.stderr or done.stdout).strip().splitlines() if line]
        raise BuildError(f"{what} failed (exit {done.returncode}): {' / '.join(lines[-6:])}")
    return done.stdout


def dpkg_status(controls: Iterable[str]) -> bytes:
    """``/var/lib/dpkg/status`` for extracted packages: each control paragraph (``dpkg-deb
    -f``) with ``Status: install ok installed`` after its ``Package`` line, sorted by name."""
    paragraphs: list[tuple[str, str]] = []
    for control in controls:
        lines = [line for line in control.strip().splitlines() if line]
        name = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("Package:")), "")
        if not name:
            continue
        out: list[str] = []
        for line in lines:
            if line.startswith("Status:"):
                continue
            out.append(line)
            if line.startswith("Package:"):
                out.append("Status: install ok installed")
        paragraphs.append((name, "\n".join(out)))
    paragraphs.sort()
    return ("\n\n".join(text for _, text in paragraphs) + "\n").encode("utf-8")


def _control(deb: bytes, timeout: float) -> str:
    with tempfile.NamedTemporaryFile(suffix=".deb") as handle:
        handle.write(deb)
        handle.flush()
        return _run(["dpkg-deb", "-f", handle.name], timeout=timeout, what="dpkg-deb -f")


def _plain(name: str) -> str:
    """A tar entry's name without a leading ``./`` or ``/``."""
    return "/".join(p for p in PurePosixPath(name).parts if p not in ("/", "."))


def _info(
    name: str, data: bytes | None, *, mode: int, uid: int = 0, kind: bytes = tarfile.REGTYPE
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.uid = info.gid = uid
    info.uname = info.gname = "root" if uid == 0 else "leitstand"
    info.size = len(data) if data is not None else 0
    return info


def trim_base(
    base: Path, *, settings: ImageBuildSettings, timeout: float
) -> tuple[list[tuple[tarfile.TarInfo, bytes | None]], list[tuple[str, str]]]:
    """The trimmed members of mmdebstrap's tar, and the Debian packages (name, version)."""
    members: list[tuple[tarfile.TarInfo, bytes | None]] = []
    controls: list[str] = []
    certificates: list[tuple[str, bytes]] = []
    with tarfile.open(base) as source:
        for member in source:
            name = _plain(member.name)
            if name.startswith(_ARCHIVES) and name.endswith(".deb") and member.isfile():
                handle = source.extractfile(member)
                controls.append(_control(handle.read() if handle else b"", timeout))
                continue
            if name in _DROPPED_FILES or name.startswith(_DROPPED_PREFIXES):
                continue
            if member.type in (tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE):
                continue
            content: bytes | None = None
            if member.isfile():
                handle = source.extractfile(member)
                content = handle.read() if handle else b""
                member.mode &= ~SET_ID_BITS  # no set-id program in the image (CIS-DI-0008)
                if name.startswith(_CA_DIR) and name.endswith(".crt"):
                    certificates.append((name, content))
            members.append((member, content))
    status = dpkg_status(controls)
    packages = []
    for paragraph in status.decode().split("\n\n"):
        fields = dict(
            line.split(":", 1) for line in paragraph.splitlines() if ":" in line and line[0] != " "
        )
        if "Package" in fields:
            packages.append((fields["Package"].strip(), fields.get("Version", "").strip()))
    extra: list[tuple[tarfile.TarInfo, bytes | None]] = [
        (_info("var/lib/dpkg/status", status, mode=0o644), status),
    ]
    if certificates:
        bundle = b"".join(c if c.endswith(b"\n") else c + b"\n" for _, c in sorted(certificates))
        extra.append((_info(_CA_BUNDLE, bundle, mode=0o644), bundle))
    uid = settings.uid
    passwd = (
        "root:x:0:0:root:/root:/usr/sbin/nologin\n"
        f"leitstand:x:{uid}:{uid}:leitstand:/{_HOME}:/usr/sbin/nologin\n"
    ).encode()
    group = f"root:x:0:\nleitstand:x:{uid}:\n".encode()
    extra += [
        (_info("etc/passwd", passwd, mode=0o644), passwd),
        (_info("etc/group", group, mode=0o644), group),
        (_info("tmp", None, mode=0o1777, kind=tarfile.DIRTYPE), None),
        (_info(_HOME, None, mode=0o700, uid=uid, kind=tarfile.DIRTYPE), None),
    ]
    replaced = {info.name for info, _ in extra}
    kept = [(m, c) for m, c in members if _plain(m.name) not in replaced]
    return kept + extra, packages


def _python_tree(
    wheel: Path, settings: ImageBuildSettings, *, timeout: float, pip: list[str]
) -> tuple[list[tuple[tarfile.TarInfo, bytes | None]], int]:
    """``pip install --target`` of the wheel for the image's Python, as tar members."""
    with tempfile.TemporaryDirectory(prefix="leitstand-image-pip-") as tmp:
        target = Path(tmp) / "lib"
        platforms = [a for p in settings.python_platforms for a in ("--platform", p)]
        _run(
            [
                *pip,
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-compile",
                "--only-binary=:all:",
                "--target",
                str(target),
                "--python-version",
                settings.python_version,
                "--implementation",
                "cp",
                *platforms,
                str(wheel),
            ],
            timeout=timeout,
            what="pip install of the wheel for the image's Python",
        )
        members: list[tuple[tarfile.TarInfo, bytes | None]] = []
        distributions = 0
        for path in sorted(target.rglob("*")):
            rel = path.relative_to(target)
            parts = rel.parts
            if parts[0] == "bin" or path.name in ("direct_url.json", "REQUESTED"):
                continue  # launchers with the build host's interpreter; where pip got it from
            if "__pycache__" in parts:
                continue
            name = str(PurePosixPath(_LIB, *parts))
            if path.is_symlink():
                info = _info(name, None, mode=0o777, kind=tarfile.SYMTYPE)
                info.linkname = str(path.readlink())
                members.append((info, None))
            elif path.is_dir():
                members.append((_info(name, None, mode=0o755, kind=tarfile.DIRTYPE), None))
                if len(parts) == 1 and path.name.endswith(".dist-info"):
                    distributions += 1
            else:
                data = path.read_bytes()
                mode = 0o755 if os.access(path, os.X_OK) else 0o644
                members.append((_info(name, data, mode=mode), data))
    launcher = b"#!/usr/bin/python3\nfrom leitstand.cli import main\n\nmain()\n"
    members.append((_info(_LAUNCHER, launcher, mode=0o755), launcher))
    return members, distributions


def _tar(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, content in members:
            tar.addfile(info, io.BytesIO(content) if content is not None else None)
    return buffer.getvalue()


def build_image(
    wheel: Path,
    out: Path,
    *,
    settings: ImageBuildSettings,
    epoch: int,
    revision: str = "",
    progress: Callable[[str], None] | None = None,
    pip: list[str] | None = None,
) -> Built:
    """Build the image of ``wheel`` into the empty folder ``out``; see the module docstring."""
    started = time.monotonic()
    say = progress or (lambda _: None)
    meta = wheel_metadata(wheel)
    if not meta.name or not meta.version:
        raise BuildError(f"{wheel}: the wheel's METADATA names no Name or Version")
    timeout = settings.timeout.total_seconds()
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(epoch)}
    with tempfile.TemporaryDirectory(prefix="leitstand-image-") as tmp:
        base = Path(tmp) / "base.tar"
        say(f"mmdebstrap: {len(settings.packages)} package(s) from {settings.mirror}")
        _run(
            [
                "mmdebstrap",
                "--variant=extract",
                "--format=tar",
                "--quiet",
                f"--include={','.join(settings.packages)}",
                "--skip=cleanup/apt/cache",
                '--aptopt=Acquire::Languages "none"',
                settings.suite,
                str(base),
                settings.mirror,
            ],
            timeout=timeout,
            what="mmdebstrap",
            env=env,
        )
        say("root file system: dpkg status, users, CA bundle")
        members, debian = trim_base(base, settings=settings, timeout=timeout)
    say("pip: the wheel and its dependencies for the image's Python")
    python, distributions = _python_tree(
        wheel, settings, timeout=timeout, pip=pip or [sys.executable, "-m", "pip"]
    )
    rootfs = _tar(members + python)
    labels = {
        "org.opencontainers.image.title": settings.name,
        "org.opencontainers.image.version": meta.version,
        "org.opencontainers.image.licenses": meta.licence,
    }
    if meta.source:
        labels["org.opencontainers.image.source"] = meta.source
    if revision:
        labels["org.opencontainers.image.revision"] = revision
    config = ImageConfig(
        name=settings.name,
        user=f"{settings.uid}:{settings.uid}",
        env=(
            "PATH=/usr/local/bin:/usr/bin:/bin",
            f"PYTHONPATH=/{_LIB}",
            "PYTHONDONTWRITEBYTECODE=1",
            f"LEITSTAND_HOME=/{_HOME}",
            "LEITSTAND_HOST=0.0.0.0",
        ),
        entrypoint=("/usr/local/bin/leitstand",),
        cmd=("up",),
        working_dir=f"/{_HOME}",
        exposed_ports=("8080/tcp",),
        labels=labels,
        healthcheck=Healthcheck(
            _HEALTH, interval_s=30.0, timeout_s=5.0, start_period_s=60.0, retries=3
        ),
    )
    say(f"OCI layout: {settings.name}:{meta.version}")
    ref = write_layout(
        out,
        rootfs_tar=rootfs,
        config=config,
        tag=meta.version,
        created=created_from_epoch(epoch),
        owner=None,
    )
    return Built(
        ref=ref,
        out=out,
        layer_bytes=ref.layers[0].size,
        debian_packages=debian,
        python_packages=distributions,
        seconds=time.monotonic() - started,
    )
