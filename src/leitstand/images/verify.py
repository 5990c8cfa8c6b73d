"""Verifying an OCI image layout: every blob's digest and size, each layer's diff_id, the tag.

``check_layout`` reads ``index.json``, the manifest and the config once and returns the image
described by the bytes it hashed (so what is signed is what was verified); ``verify_layout``
returns every problem it finds instead of raising. Reading and writing layouts is ``oci``.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from leitstand.images.oci import (
    INDEX_FILE,
    LAYER_MEDIA_TYPE,
    READ_CHUNK,
    TAR_LAYER_MEDIA_TYPE,
    TITLE_ANNOTATION,
    VERSION_ANNOTATION,
    Descriptor,
    ImageError,
    ImageRef,
    Problem,
    json_blob,
    parse_config,
    parse_manifest,
    pick_manifest,
    read_index,
    read_layout_file,
    regular_handle,
    sha256_digest,
    validate_tag,
)

__all__ = ["LayoutCheck", "check_layout", "verify_layout"]


def _digest_of(data: bytes) -> tuple[str, int]:
    return sha256_digest(data), len(data)


def _file_digest(path: Path, where: str) -> tuple[str, int]:
    with regular_handle(path, where) as handle:
        digest = hashlib.file_digest(handle, "sha256")
        size = handle.tell()
    return f"sha256:{digest.hexdigest()}", size


def _changed(desc: Descriptor, role: str, actual: str, size: int) -> Problem | None:
    if actual != desc.digest or size != desc.size:
        return Problem(
            desc.path,
            f"{role} blob changed: expected {desc.digest} ({desc.size} bytes), "
            f"actual {actual} ({size} bytes)",
        )
    return None


def _problem(exc: ImageError, where: str) -> Problem:
    return Problem(where, str(exc).removeprefix(f"{where}: "))


def _blob_problem(exc: ImageError, desc: Descriptor, role: str) -> Problem:
    reason = str(exc).removeprefix(f"{desc.path}: ")
    return Problem(desc.path, f"{role} blob is missing" if reason == "missing" else reason)


def _uncompressed_digest(path: Path, media_type: str) -> str:
    hasher = hashlib.sha256()
    with regular_handle(path, str(path)) as raw:
        handle: io.BufferedIOBase | BinaryIO = (
            gzip.GzipFile(fileobj=raw, mode="rb") if media_type == LAYER_MEDIA_TYPE else raw
        )
        while chunk := handle.read(READ_CHUNK):
            hasher.update(chunk)
    return f"sha256:{hasher.hexdigest()}"


def _check_layer(
    directory: Path, layer: Descriptor, diff_id: str | None, problems: list[Problem]
) -> None:
    if layer.media_type not in (LAYER_MEDIA_TYPE, TAR_LAYER_MEDIA_TYPE):
        problems.append(Problem(layer.path, f"unsupported layer media type {layer.media_type}"))
        return
    try:
        problem = _changed(layer, "layer", *_file_digest(directory / layer.path, layer.path))
    except ImageError as exc:
        problem = _blob_problem(exc, layer, "layer")
    if problem is not None:
        problems.append(problem)
        return
    if diff_id is None:  # the config did not verify: no diff_id to compare with
        return
    try:
        actual = _uncompressed_digest(directory / layer.path, layer.media_type)
    except (ImageError, OSError, EOFError, zlib.error) as exc:
        problems.append(Problem(layer.path, f"layer is not a readable gzip stream ({exc})"))
        return
    if actual != diff_id:
        problems.append(
            Problem(layer.path, f"uncompressed layer is {actual}, rootfs.diff_ids says {diff_id}")
        )


def _check_image(
    directory: Path,
    manifest: Descriptor,
    ref_name: str,
    problems: list[Problem],
    *,
    require_version: bool = True,
) -> tuple[set[str], ImageRef | None]:
    """Check one image's blobs; the hex names of the blobs it references, and the image as the
    bytes that were hashed describe it (None if a manifest or config blob does not verify).

    The manifest and config are read once: the bytes whose digest is checked are the bytes
    parsed, so what verified is what the ref describes.
    """
    try:
        data = json_blob(directory, manifest)
    except ImageError as exc:
        problems.append(_blob_problem(exc, manifest, "manifest"))
        return {manifest.hex}, None
    problem = _changed(manifest, "manifest", *_digest_of(data))
    if problem is not None:
        problems.append(problem)
        return {manifest.hex}, None
    try:
        config, layers, annotations = parse_manifest(data, manifest)
    except ImageError as exc:
        problems.append(_problem(exc, manifest.path))
        return {manifest.hex}, None
    version = annotations.get(VERSION_ANNOTATION)
    if require_version and version != ref_name:
        problems.append(
            Problem(
                INDEX_FILE,
                f"{manifest.digest}: tag {ref_name!r} is not the manifest's {VERSION_ANNOTATION} "
                f"{version!r} (the signed manifest names the tag; index.json was changed)",
            )
        )
    diff_ids: tuple[str | None, ...] = tuple(None for _ in layers)
    created, config_ok = "", False
    try:
        config_data = json_blob(directory, config)
        problem = _changed(config, "config", *_digest_of(config_data))
    except ImageError as exc:
        config_data, problem = b"", _blob_problem(exc, config, "config")
    if problem is not None:
        problems.append(problem)
    else:
        try:
            diff_ids, created = parse_config(config_data, config)
            config_ok = True
        except ImageError as exc:
            problems.append(_problem(exc, config.path))
        if len(diff_ids) != len(layers):
            problems.append(
                Problem(
                    config.path,
                    f"rootfs.diff_ids lists {len(diff_ids)} layers, the manifest {len(layers)}",
                )
            )
            diff_ids = tuple(None for _ in layers)
            config_ok = False
    for layer, diff_id in zip(layers, diff_ids, strict=True):
        _check_layer(directory, layer, diff_id, problems)
    referenced = {manifest.hex, config.hex, *(layer.hex for layer in layers)}
    if not config_ok:
        return referenced, None
    ref = ImageRef(
        name=str(annotations.get(TITLE_ANNOTATION, "")),
        tag=ref_name,
        manifest=manifest,
        config=config,
        layers=layers,
        diff_ids=tuple(d for d in diff_ids if d is not None),
        created=created,
    )
    return referenced, ref


@dataclass(frozen=True, slots=True)
class LayoutCheck:
    """What ``check_layout`` found: every problem, and the image (``tag`` or the only one) as
    the verified bytes describe it; ``ref`` is None when it could not be read (``ref_error``)."""

    problems: list[Problem] = field(default_factory=list)
    ref: ImageRef | None = None
    ref_error: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems and self.ref is not None


def check_layout(
    directory: Path, *, tag: str | None = None, require_version: bool = True
) -> LayoutCheck:
    """Verify the layout in ``directory`` (``verify_layout``) and return, from the same reads,
    the image named by ``tag`` (or the only one): index.json and every manifest and config are
    read once, so a signer signs the digest of the bytes it verified.

    ``require_version``: each tag must equal its manifest's version annotation (leitstand's
    signing rule); the image scan turns it off for layouts other builders wrote."""
    problems: list[Problem] = []
    try:
        read_layout_file(directory)
    except ImageError as exc:
        problems.append(_problem(exc, "oci-layout"))
    try:
        index = read_index(directory)
    except ImageError as exc:
        problems.append(_problem(exc, INDEX_FILE))
        return LayoutCheck(problems, None, str(exc))
    referenced: set[str] = set()
    refs: dict[str, ImageRef | None] = {}
    for manifest, ref_name in index:
        try:
            validate_tag(ref_name)
        except ValueError as exc:
            problems.append(Problem(INDEX_FILE, f"{manifest.digest}: {exc}"))
        names, ref = _check_image(
            directory, manifest, ref_name, problems, require_version=require_version
        )
        referenced |= names
        refs.setdefault(manifest.digest, ref)
    _check_unreferenced(directory, referenced, problems)
    try:
        picked, _ = pick_manifest(index, tag)
    except ImageError as exc:
        return LayoutCheck(problems, None, str(exc))
    ref = refs.get(picked.digest)
    return LayoutCheck(problems, ref, None if ref is not None else f"{picked.path}: not readable")


def _check_unreferenced(directory: Path, referenced: set[str], problems: list[Problem]) -> None:
    blobs = directory / "blobs" / "sha256"
    if blobs.is_symlink() or not blobs.is_dir():
        if blobs.is_symlink():
            problems.append(Problem("blobs/sha256", "is a symbolic link, not a folder"))
        return
    for path in sorted(blobs.iterdir()):
        if path.name in referenced:
            continue
        where = f"blobs/sha256/{path.name}"
        try:
            actual, _ = _file_digest(path, where)
        except ImageError as exc:
            problems.append(_problem(exc, where))
            continue
        if actual != f"sha256:{path.name}":
            problems.append(Problem(where, f"unreferenced blob changed: its content is {actual}"))


def verify_layout(directory: Path) -> list[Problem]:
    """Every problem of the layout in ``directory``; an empty list means it verifies.

    Checks the oci-layout file and the index (every image tagged with an exact version: no
    ``latest``, no empty tag, and the tag is the signed manifest's
    ``org.opencontainers.image.version``), then recomputes the sha256 and size of every
    manifest, config and layer blob against its descriptor (and each layer's diff_id), and
    finally checks that every other file under ``blobs/sha256`` is named by its own digest.
    Every file is opened without following symbolic links (``open_regular``): a symlink, FIFO
    or device in their place is a problem. A changed byte is reported with the blob's path, the
    expected and the actual digest.
    """
    return check_layout(directory).problems
