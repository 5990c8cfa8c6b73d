"""The folder copy of kept checkpoints (the "second location", within leitstand's reach).

Rewriting the whole database cannot hide tampering as long as one earlier checkpoint survives
elsewhere: ``audit verify`` checks every checkpoint found here against the recomputed tree, and
the database's record of what was copied against what the folder still holds. A folder the same
operator can write does not stop a rollback by itself: the remote witnesses (``witness_server``)
do.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import structlog

__all__ = ["CheckpointCopy", "atomic_write"]

log = structlog.get_logger(__name__)
_NAME = re.compile(r"^(\d{20})\.note$")


def atomic_write(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` via a temp file in the same folder, fsync, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).chmod(mode)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class CheckpointCopy:
    """A directory holding copies of kept checkpoints, one file per size, plus the public key."""

    def __init__(self, directory: Path, *, verifier_key: str) -> None:
        self.directory = directory
        self.verifier_key = verifier_key

    def path_for(self, size: int) -> Path:
        return self.directory / "checkpoints" / f"{size:020d}.note"

    def write(self, size: int, note: str) -> None:
        """Store the checkpoint for ``size``; idempotent for the same note."""
        target = self.path_for(size)
        data = note.encode("utf-8")
        if target.exists() and target.read_bytes() == data:
            return
        atomic_write(target, data)
        atomic_write(self.directory / "latest.note", data)
        key_file = self.directory / "key.vkey"
        if not key_file.exists():
            atomic_write(key_file, (self.verifier_key + "\n").encode("utf-8"))

    def write_quietly(self, size: int, note: str) -> bool:
        """Like ``write``, but a failure is logged for the periodic copy job to retry."""
        try:
            self.write(size, note)
        except OSError as exc:
            log.warning("witness_copy_failed", size=size, error=str(exc))
            return False
        return True

    def notes(self) -> list[tuple[int, str]]:
        """Every stored checkpoint as (size, note), ordered by size."""
        folder = self.directory / "checkpoints"
        if not folder.is_dir():
            return []
        found = []
        for item in folder.iterdir():
            match = _NAME.match(item.name)
            if match:
                found.append((int(match.group(1)), item.read_text(encoding="utf-8")))
        return sorted(found)
