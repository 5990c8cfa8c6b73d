"""Reproducible OCI image layouts: write one, read it back, and verify every blob.

The layout follows the OCI image-spec (image-layout.md, manifest.md, config.md, descriptor.md):

```
DIR/oci-layout                     {"imageLayoutVersion":"1.0.0"}
DIR/index.json                     image index; the manifest descriptor carries the annotation
                                   org.opencontainers.image.ref.name = the tag (an exact version)
DIR/blobs/sha256/<hex>             manifest, image config and one tar+gzip layer
DIR/attestations/<hex>.dsse.json   the signed attestation (written by ``images.attest``)
```

Reproducible: the same inputs and the same ``created`` time (SOURCE_DATE_EPOCH) give the same
bytes and so the same manifest digest. The layer comes from ``images.tarball`` (sorted PAX tar,
clamped mtimes, fixed owners, gzip without time or name); the image config's runtime fields
from ``images.config``. JSON documents are compact with sorted keys (UTF-8).
``rootfs.diff_ids`` holds the sha256 of the uncompressed layer.

The tag must be an exact version: ``latest`` and the empty tag are refused (ValueError), in line
with the container lint's LS-IMAGE-TAG rule.

Errors: a layout that cannot be read raises ``ImageError`` (exit code 1: the evidence did not
verify); ``images.verify.verify_layout`` returns every problem it finds instead of raising.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import re
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from leitstand.errors import ExitCode, LeitstandError
from leitstand.images.config import Healthcheck, ImageConfig
from leitstand.images.tarball import ROOT, Owner, gzip_layer, normalize_tar, tar_tree

__all__ = [
    "CONFIG_MEDIA_TYPE",
    "INDEX_FILE",
    "INDEX_MEDIA_TYPE",
    "LAYER_MEDIA_TYPE",
    "LAYOUT_VERSION",
    "MANIFEST_MEDIA_TYPE",
    "READ_CHUNK",
    "REF_NAME_ANNOTATION",
    "ROOT",
    "Descriptor",
    "Healthcheck",
    "ImageConfig",
    "ImageError",
    "ImageRef",
    "Owner",
    "Problem",
    "canonical_json",
    "created_from_epoch",
    "gzip_layer",
    "json_blob",
    "normalize_tar",
    "open_regular",
    "parse_config",
    "parse_json",
    "parse_manifest",
    "pick_manifest",
    "read_index",
    "read_layout",
    "read_layout_file",
    "read_regular",
    "regular_handle",
    "sha256_digest",
    "tar_tree",
    "validate_tag",
    "write_layout",
]

LAYOUT_VERSION = "1.0.0"
INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
TAR_LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar"
REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"
CREATED_ANNOTATION = "org.opencontainers.image.created"
TITLE_ANNOTATION = "org.opencontainers.image.title"
VERSION_ANNOTATION = "org.opencontainers.image.version"

# Registries cap manifests at 4 MiB; every JSON document of a layout stays below that.
_MAX_JSON_BYTES = 4 * 1024 * 1024
READ_CHUNK = 1024 * 1024
_DIGEST = re.compile(r"sha256:([0-9a-f]{64})")
INDEX_FILE = "index.json"
# The tag grammar of the distribution spec (and Docker): at most 128 characters.
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


class ImageError(LeitstandError):
    """An image layout is missing, malformed, or does not verify.

    Exit code 1 (not 2): the directory was named correctly, but the evidence did not verify.
    """

    exit_code = ExitCode.FAILED
    http_status = 422


@dataclass(frozen=True, slots=True)
class Problem:
    """One verification problem: where (a path inside the layout) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass(frozen=True, slots=True)
class Descriptor:
    """An OCI content descriptor: media type, ``sha256:<hex>`` digest and size in bytes."""

    media_type: str
    digest: str
    size: int

    @property
    def hex(self) -> str:
        """The digest's hex part (the blob's file name)."""
        return self.digest.removeprefix("sha256:")

    @property
    def path(self) -> str:
        """The blob's path inside the layout."""
        return f"blobs/sha256/{self.hex}"

    def as_dict(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}

    @classmethod
    def of(cls, media_type: str, data: bytes) -> Descriptor:
        return cls(media_type, sha256_digest(data), len(data))


@dataclass(frozen=True, slots=True)
class ImageRef:
    """An image in a layout: name, tag, and the descriptors of its manifest, config and layers."""

    name: str
    tag: str
    manifest: Descriptor
    config: Descriptor
    layers: tuple[Descriptor, ...]
    diff_ids: tuple[str, ...]
    created: str

    @property
    def digest(self) -> str:
        """The image's digest: the manifest's ``sha256:<hex>``."""
        return self.manifest.digest


def canonical_json(value: Any) -> bytes:
    """Compact JSON with sorted keys in UTF-8: one document, one byte string."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def created_from_epoch(value: str | int) -> datetime:
    """The build time from a SOURCE_DATE_EPOCH value (decimal seconds since 1970, UTC)."""
    text = str(value).strip()
    if not text.isdecimal() or not text.isascii():
        raise ValueError(f"SOURCE_DATE_EPOCH must be a non-negative integer (got {value!r})")
    return datetime.fromtimestamp(int(text), UTC)


def validate_tag(tag: str) -> str:
    """Return ``tag`` if it names an exact version; raise ValueError for ``latest`` or empty."""
    if not tag:
        raise ValueError("image tag is empty: tag the image with its exact version, e.g. 1.4.2")
    if tag.lower() == "latest":
        raise ValueError(
            f"image tag {tag!r} is refused: tag the image with its exact version, e.g. 1.4.2 "
            "(latest names no particular build)"
        )
    if not _TAG.fullmatch(tag):
        raise ValueError(
            f"image tag {tag!r}: expected [A-Za-z0-9_][A-Za-z0-9_.-]*, at most 128 characters"
        )
    return tag


# --- writing -----------------------------------------------------------------------------------


def sha256_digest(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Default(Enum):
    """The owner ``write_layout`` uses when none is named: root for a tree, the tar's own."""

    OWNER = "default"


def _layer_tar(rootfs: Path | bytes, epoch: int, owner: Owner | _Default | None) -> bytes:
    if isinstance(rootfs, bytes):
        return normalize_tar(rootfs, epoch=epoch, owner=None if owner is _Default.OWNER else owner)
    if rootfs.is_dir():
        if owner is _Default.OWNER:
            owner = ROOT
        if owner is None:
            raise ValueError(
                f"{rootfs}: a directory tree needs an owner (the builder's ids are not "
                "reproducible)"
            )
        return tar_tree(rootfs, epoch=epoch, owner=owner)
    return normalize_tar(
        rootfs.read_bytes(), epoch=epoch, owner=None if owner is _Default.OWNER else owner
    )


def write_layout(
    out: Path,
    *,
    rootfs_tar: Path | bytes,
    config: ImageConfig,
    tag: str,
    created: datetime,
    owner: Owner | _Default | None = _Default.OWNER,
) -> ImageRef:
    """Write an OCI image layout of one layer to ``out`` (absent or empty) and return its ref.

    ``rootfs_tar`` is a directory tree (packed by ``tar_tree``), a tar file, or tar bytes
    (re-packed by ``normalize_tar``). ``created`` is the build time from SOURCE_DATE_EPOCH
    (``created_from_epoch``): aware, whole seconds; it is the image's ``created`` time and the
    clamp for every mtime. ``owner`` owns every entry (None keeps a tar's own owners); by
    default a directory tree is owned by root and a tar keeps its own owners (a root file system
    needs them, and setuid/setgid bits are dropped wherever the owner is replaced).
    """
    validate_tag(tag)
    if created.tzinfo is None:
        raise ValueError("created must be timezone-aware (use created_from_epoch)")
    if created.microsecond:
        raise ValueError("created must be whole seconds (SOURCE_DATE_EPOCH)")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"{out}: exists and is not an empty directory")
    epoch = int(created.timestamp())
    when = _rfc3339(created)

    tar = _layer_tar(rootfs_tar, epoch, owner)
    diff_id = sha256_digest(tar)
    layer_bytes = gzip_layer(tar)
    layer = Descriptor.of(LAYER_MEDIA_TYPE, layer_bytes)

    config_bytes = canonical_json(
        {
            "created": when,
            "architecture": config.architecture,
            "os": config.os,
            "config": config.as_dict(),
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created": when, "created_by": "leitstand image build"}],
        }
    )
    config_desc = Descriptor.of(CONFIG_MEDIA_TYPE, config_bytes)
    manifest_bytes = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": config_desc.as_dict(),
            "layers": [layer.as_dict()],
            "annotations": {
                CREATED_ANNOTATION: when,
                TITLE_ANNOTATION: config.name,
                VERSION_ANNOTATION: tag,
            },
        }
    )
    manifest = Descriptor.of(MANIFEST_MEDIA_TYPE, manifest_bytes)
    index_bytes = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": INDEX_MEDIA_TYPE,
            "manifests": [
                {
                    **manifest.as_dict(),
                    "platform": {"architecture": config.architecture, "os": config.os},
                    "annotations": {REF_NAME_ANNOTATION: tag},
                }
            ],
        }
    )

    blobs = out / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    for desc, data in (
        (layer, layer_bytes),
        (config_desc, config_bytes),
        (manifest, manifest_bytes),
    ):
        (out / desc.path).write_bytes(data)
    (out / "oci-layout").write_bytes(canonical_json({"imageLayoutVersion": LAYOUT_VERSION}))
    (out / "index.json").write_bytes(index_bytes)
    return ImageRef(
        name=config.name,
        tag=tag,
        manifest=manifest,
        config=config_desc,
        layers=(layer,),
        diff_ids=(diff_id,),
        created=when,
    )


# --- reading -----------------------------------------------------------------------------------


def open_regular(path: Path, where: str) -> int:
    """A read-only descriptor of the regular file at ``path``; ImageError naming ``where`` if it
    is missing, a symbolic link, a FIFO, a device or unreadable.

    O_NOFOLLOW refuses a symbolic link; O_NONBLOCK keeps a FIFO from hanging the open; the
    checks apply to what was opened (fstat), not to the path (``ledger.checkpoint``'s pattern).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise ImageError(f"{where}: missing") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ImageError(f"{where}: is a symbolic link, not a regular file") from None
        raise ImageError(f"{where}: cannot read ({exc.strerror})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ImageError(f"{where}: not a regular file (a FIFO, device or folder)")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def regular_handle(path: Path, where: str) -> io.BufferedReader:
    return open(open_regular(path, where), "rb")


def read_regular(path: Path, where: str, limit: int) -> bytes:
    """At most ``limit`` bytes of the regular file at ``path`` (``open_regular``'s checks)."""
    with regular_handle(path, where) as handle:
        try:
            return handle.read(limit)
        except OSError as exc:
            raise ImageError(f"{where}: cannot read ({exc.strerror})") from None


def parse_json(data: bytes, where: str) -> Any:
    """``data`` as JSON; ImageError for anything else (bad UTF-8, a 5000-digit number, a
    nesting too deep for the parser)."""
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError: ValueError
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise ImageError(f"{where}: not valid JSON ({reason})") from None


def _read_json(path: Path, where: str) -> Any:
    data = read_regular(path, where, _MAX_JSON_BYTES + 1)
    if len(data) > _MAX_JSON_BYTES:
        raise ImageError(f"{where}: larger than {_MAX_JSON_BYTES} bytes")
    return parse_json(data, where)


def _descriptor(value: Any, where: str) -> Descriptor:
    if not isinstance(value, dict):
        raise ImageError(f"{where}: not a descriptor object")
    media_type, digest, size = value.get("mediaType"), value.get("digest"), value.get("size")
    if not isinstance(media_type, str) or not media_type:
        raise ImageError(f"{where}: descriptor has no mediaType")
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise ImageError(f"{where}: descriptor digest {digest!r} is not sha256:<64 hex>")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ImageError(f"{where}: descriptor size {size!r} is not a non-negative integer")
    return Descriptor(media_type, digest, size)


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ImageError(f"{where}: not a JSON object")
    return value


def read_layout_file(directory: Path) -> None:
    layout = _object(_read_json(directory / "oci-layout", "oci-layout"), "oci-layout")
    if layout.get("imageLayoutVersion") != LAYOUT_VERSION:
        raise ImageError(
            f"oci-layout: imageLayoutVersion {layout.get('imageLayoutVersion')!r} "
            f"is not {LAYOUT_VERSION}"
        )


def read_index(directory: Path) -> list[tuple[Descriptor, str]]:
    """The index's manifest descriptors with their ``ref.name`` annotation ('' if none)."""
    index = _object(_read_json(directory / INDEX_FILE, INDEX_FILE), INDEX_FILE)
    entries = index.get("manifests")
    if not isinstance(entries, list) or not entries:
        raise ImageError("index.json: no manifests")
    found: list[tuple[Descriptor, str]] = []
    for number, entry in enumerate(entries):
        desc = _descriptor(entry, f"index.json: manifests[{number}]")
        annotations = entry.get("annotations") or {}
        ref_name = annotations.get(REF_NAME_ANNOTATION) if isinstance(annotations, dict) else None
        found.append((desc, ref_name if isinstance(ref_name, str) else ""))
    return found


def parse_manifest(
    data: bytes, desc: Descriptor
) -> tuple[Descriptor, tuple[Descriptor, ...], dict[str, Any]]:
    """The config descriptor, layer descriptors and annotations of a manifest blob's bytes."""
    if desc.media_type != MANIFEST_MEDIA_TYPE:
        raise ImageError(f"{desc.path}: a {desc.media_type}, expected {MANIFEST_MEDIA_TYPE}")
    manifest = _object(parse_json(data, desc.path), desc.path)
    config = _descriptor(manifest.get("config"), f"{desc.path}: config")
    if config.media_type != CONFIG_MEDIA_TYPE:
        raise ImageError(
            f"{desc.path}: config is a {config.media_type}, expected {CONFIG_MEDIA_TYPE}"
        )
    raw_layers = manifest.get("layers")
    if not isinstance(raw_layers, list):
        raise ImageError(f"{desc.path}: layers is not a list")
    layers = tuple(
        _descriptor(layer, f"{desc.path}: layers[{n}]") for n, layer in enumerate(raw_layers)
    )
    annotations = manifest.get("annotations")
    return config, layers, annotations if isinstance(annotations, dict) else {}


def parse_config(data: bytes, desc: Descriptor) -> tuple[tuple[str, ...], str]:
    """The ``rootfs.diff_ids`` and ``created`` time of an image config blob's bytes."""
    image_config = _object(parse_json(data, desc.path), desc.path)
    rootfs = image_config.get("rootfs")
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if (
        not isinstance(rootfs, dict)
        or rootfs.get("type") != "layers"
        or not isinstance(diff_ids, list)
        or not all(isinstance(d, str) and _DIGEST.fullmatch(d) for d in diff_ids)
    ):
        raise ImageError(f"{desc.path}: rootfs is not {{type: layers, diff_ids: [sha256:...]}}")
    created = image_config.get("created")
    return tuple(diff_ids), created if isinstance(created, str) else ""


def json_blob(directory: Path, desc: Descriptor) -> bytes:
    """The bytes of a JSON blob (manifest or config), read once."""
    data = read_regular(directory / desc.path, desc.path, _MAX_JSON_BYTES + 1)
    if len(data) > _MAX_JSON_BYTES:
        raise ImageError(f"{desc.path}: larger than {_MAX_JSON_BYTES} bytes")
    return data


def pick_manifest(
    candidates: list[tuple[Descriptor, str]], tag: str | None
) -> tuple[Descriptor, str]:
    if tag is not None:
        candidates = [c for c in candidates if c[1] == tag]
        if not candidates:
            raise ImageError(f"index.json: no image is tagged {tag!r}")
    if len(candidates) != 1:
        raise ImageError(f"index.json: {len(candidates)} images; name the tag to read")
    return candidates[0]


def read_layout(directory: Path, *, tag: str | None = None) -> ImageRef:
    """Read the image (``tag``, or the layout's only image) of the layout in ``directory``.

    Reads, does not verify: ``images.verify`` (``verify_layout``, ``check_layout``)
    recomputes the digests.
    """
    read_layout_file(directory)
    manifest, ref_name = pick_manifest(read_index(directory), tag)
    config, layers, annotations = parse_manifest(json_blob(directory, manifest), manifest)
    diff_ids, created = parse_config(json_blob(directory, config), config)
    return ImageRef(
        name=str(annotations.get(TITLE_ANNOTATION, "")),
        tag=ref_name,
        manifest=manifest,
        config=config,
        layers=layers,
        diff_ids=diff_ids,
        created=created,
    )


# --- verifying ---------------------------------------------------------------------------------
