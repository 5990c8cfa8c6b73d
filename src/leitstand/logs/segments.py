"""Log segments: the seal of a rotated segment is its SHA-256 and its size."""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["CHUNK", "seal_digest"]

#: Bytes read at a time: large enough for hashlib to run at full speed, small enough to stream.
CHUNK = 1 << 20


def seal_digest(path: Path) -> tuple[str, int]:
    """(SHA-256 as hex, size in bytes) of the file at ``path``, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    size = 0
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    with path.open("rb", buffering=0) as handle:
        while count := handle.readinto(view):
            digest.update(view[:count])
            size += count
    return digest.hexdigest(), size
