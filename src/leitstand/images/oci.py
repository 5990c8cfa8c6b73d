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
verify); ``verify_layout`` returns every problem it finds instead of raising.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from leitstand.errors import ExitCode, LeitstandError
from leitstand.images.config import Healthcheck, ImageConfig
from leitstand.images.tarball import ROOT, Owner, gzip_layer, normalize_tar, tar_tree

__all__ = [
    "CONFIG_MEDIA_TYPE",
    "INDEX_MEDIA_TYPE",
    "LAYER_MEDIA_TYPE",
    "LAYOUT_VERSION",
    "MANIFEST_MEDIA_TYPE",
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
    "normalize_tar",
    "read_layout",
    "tar_tree",
    "validate_tag",
    "verify_layout",
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
_CHUNK = 1024 * 1024
_DIGEST = re.compile(r"sha256:([0-9a-f]{64})")
_INDEX_FILE = "index.json"
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
        return cls(media_type, _sha256(data), len(data))


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


def _sha256(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _layer_tar(rootfs: Path | bytes, epoch: int, owner: Owner | None) -> bytes:
    if isinstance(rootfs, bytes):
        return normalize_tar(rootfs, epoch=epoch, owner=owner)
    if rootfs.is_dir():
        if owner is None:
            raise ValueError(
                f"{rootfs}: a directory tree needs an owner (the builder's ids are not "
                "reproducible)"
            )
        return tar_tree(rootfs, epoch=epoch, owner=owner)
    return normalize_tar(rootfs.read_bytes(), epoch=epoch, owner=owner)


def write_layout(
    out: Path,
    *,
    rootfs_tar: Path | bytes,
    config: ImageConfig,
    tag: str,
    created: datetime,
    owner: Owner | None = ROOT,
) -> ImageRef:
    """Write an OCI image layout of one layer to ``out`` (absent or empty) and return its ref.

    ``rootfs_tar`` is a directory tree (packed by ``tar_tree``), a tar file, or tar bytes
    (re-packed by ``normalize_tar``). ``created`` is the build time from SOURCE_DATE_EPOCH
    (``created_from_epoch``): aware, whole seconds; it is the image's ``created`` time and the
    clamp for every mtime. ``owner`` owns every entry (None keeps a tar's own owners).
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
    diff_id = _sha256(tar)
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


def _read_json(path: Path, where: str) -> Any:
    try:
        with path.open("rb") as handle:
            data = handle.read(_MAX_JSON_BYTES + 1)
    except FileNotFoundError:
        raise ImageError(f"{where}: missing") from None
    except OSError as exc:
        raise ImageError(f"{where}: cannot read ({exc.strerror})") from None
    if len(data) > _MAX_JSON_BYTES:
        raise ImageError(f"{where}: larger than {_MAX_JSON_BYTES} bytes")
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImageError(f"{where}: not valid JSON ({exc})") from None


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


def _read_layout_file(directory: Path) -> None:
    layout = _object(_read_json(directory / "oci-layout", "oci-layout"), "oci-layout")
    if layout.get("imageLayoutVersion") != LAYOUT_VERSION:
        raise ImageError(
            f"oci-layout: imageLayoutVersion {layout.get('imageLayoutVersion')!r} "
            f"is not {LAYOUT_VERSION}"
        )


def _read_index(directory: Path) -> list[tuple[Descriptor, str]]:
    """The index's manifest descriptors with their ``ref.name`` annotation ('' if none)."""
    index = _object(_read_json(directory / "index.json", "index.json"), "index.json")
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


def _read_manifest(
    directory: Path, desc: Descriptor
) -> tuple[Descriptor, tuple[Descriptor, ...], dict[str, Any]]:
    """The config descriptor, layer descriptors and annotations of a manifest blob."""
    if desc.media_type != MANIFEST_MEDIA_TYPE:
        raise ImageError(f"{desc.path}: a {desc.media_type}, expected {MANIFEST_MEDIA_TYPE}")
    manifest = _object(_read_json(directory / desc.path, desc.path), desc.path)
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


def _read_config(directory: Path, desc: Descriptor) -> tuple[tuple[str, ...], str]:
    """The ``rootfs.diff_ids`` and ``created`` time of an image config blob."""
    image_config = _object(_read_json(directory / desc.path, desc.path), desc.path)
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


def read_layout(directory: Path, *, tag: str | None = None) -> ImageRef:
    """Read the image (``tag``, or the layout's only image) of the layout in ``directory``.

    Reads, does not verify: ``verify_layout`` recomputes the digests.
    """
    _read_layout_file(directory)
    candidates = _read_index(directory)
    if tag is not None:
        candidates = [c for c in candidates if c[1] == tag]
        if not candidates:
            raise ImageError(f"index.json: no image is tagged {tag!r}")
    if len(candidates) != 1:
        raise ImageError(f"index.json: {len(candidates)} images; name the tag to read")
    manifest, ref_name = candidates[0]
    config, layers, annotations = _read_manifest(directory, manifest)
    diff_ids, created = _read_config(directory, config)
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


def _file_digest(path: Path) -> tuple[str, int]:
    with path.open("rb") as handle:
        digest = hashlib.file_digest(handle, "sha256")
        size = handle.tell()
    return f"sha256:{digest.hexdigest()}", size


def _check_blob(directory: Path, desc: Descriptor, role: str) -> Problem | None:
    path = directory / desc.path
    if not path.is_file():
        return Problem(desc.path, f"{role} blob is missing")
    try:
        actual, size = _file_digest(path)
    except OSError as exc:
        return Problem(desc.path, f"{role} blob cannot be read ({exc.strerror})")
    if actual != desc.digest or size != desc.size:
        return Problem(
            desc.path,
            f"{role} blob changed: expected {desc.digest} ({desc.size} bytes), "
            f"actual {actual} ({size} bytes)",
        )
    return None


def _uncompressed_digest(path: Path, media_type: str) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as raw:
        handle: io.BufferedIOBase = (
            gzip.GzipFile(fileobj=raw, mode="rb") if media_type == LAYER_MEDIA_TYPE else raw
        )
        while chunk := handle.read(_CHUNK):
            hasher.update(chunk)
    return f"sha256:{hasher.hexdigest()}"


def _check_layer(
    directory: Path, layer: Descriptor, diff_id: str | None, problems: list[Problem]
) -> None:
    if layer.media_type not in (LAYER_MEDIA_TYPE, TAR_LAYER_MEDIA_TYPE):
        problems.append(Problem(layer.path, f"unsupported layer media type {layer.media_type}"))
        return
    problem = _check_blob(directory, layer, "layer")
    if problem is not None:
        problems.append(problem)
        return
    if diff_id is None:  # the config did not verify: no diff_id to compare with
        return
    try:
        actual = _uncompressed_digest(directory / layer.path, layer.media_type)
    except (OSError, EOFError, zlib.error) as exc:
        problems.append(Problem(layer.path, f"layer is not a readable gzip stream ({exc})"))
        return
    if actual != diff_id:
        problems.append(
            Problem(layer.path, f"uncompressed layer is {actual}, rootfs.diff_ids says {diff_id}")
        )


def _check_image(directory: Path, manifest: Descriptor, problems: list[Problem]) -> set[str]:
    """Check one image's blobs; return the hex names of the blobs it references."""
    problem = _check_blob(directory, manifest, "manifest")
    if problem is not None:
        problems.append(problem)
        return {manifest.hex}
    try:
        config, layers, _ = _read_manifest(directory, manifest)
    except ImageError as exc:
        problems.append(Problem(manifest.path, str(exc).removeprefix(f"{manifest.path}: ")))
        return {manifest.hex}
    diff_ids: tuple[str | None, ...] = tuple(None for _ in layers)
    problem = _check_blob(directory, config, "config")
    if problem is not None:
        problems.append(problem)
    else:
        try:
            diff_ids = _read_config(directory, config)[0]
        except ImageError as exc:
            problems.append(Problem(config.path, str(exc).removeprefix(f"{config.path}: ")))
        if len(diff_ids) != len(layers):
            problems.append(
                Problem(
                    config.path,
                    f"rootfs.diff_ids lists {len(diff_ids)} layers, the manifest {len(layers)}",
                )
            )
            diff_ids = tuple(None for _ in layers)
    for layer, diff_id in zip(layers, diff_ids, strict=True):
        _check_layer(directory, layer, diff_id, problems)
    return {manifest.hex, config.hex, *(layer.hex for layer in layers)}


def verify_layout(directory: Path) -> list[Problem]:
    """Every problem of the layout in ``directory``; an empty list means it verifies.

    Checks the oci-layout file and the index (every image tagged with an exact version: no
    ``latest``, no empty tag), then recomputes the sha256 and size of every manifest, config and
    layer blob against its descriptor (and each layer's diff_id), and finally checks that every
    other file under ``blobs/sha256`` is named by its own digest. A changed byte is reported
    with the blob's path, the expected and the actual digest.
    """
    problems: list[Problem] = []
    try:
        _read_layout_file(directory)
    except ImageError as exc:
        problems.append(Problem("oci-layout", str(exc).removeprefix("oci-layout: ")))
    try:
        index = _read_index(directory)
    except ImageError as exc:
        return [*problems, Problem("index.json", str(exc).removeprefix("index.json: "))]
    referenced: set[str] = set()
    for manifest, ref_name in index:
        try:
            validate_tag(ref_name)
        except ValueError as exc:
            problems.append(Problem(_INDEX_FILE, f"{manifest.digest}: {exc}"))
        referenced |= _check_image(directory, manifest, problems)
    blobs = directory / "blobs" / "sha256"
    if not blobs.is_dir():
        return problems
    for path in sorted(blobs.iterdir()):
        if path.name in referenced:
            continue
        where = f"blobs/sha256/{path.name}"
        if not path.is_file():
            problems.append(Problem(where, "not a regular file"))
            continue
        actual, _ = _file_digest(path)
        if actual != f"sha256:{path.name}":
            problems.append(Problem(where, f"unreferenced blob changed: its content is {actual}"))
    return problems
