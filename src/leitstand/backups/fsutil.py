"""Files the backup domain writes: atomic, owner-only, owned by the engine's OS user."""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import stat
import tempfile
from pathlib import Path

from leitstand.errors import ConfigError

__all__ = ["blocking_ancestor", "ensure_dir", "owner_ids", "remove_tree", "write_private"]


def owner_ids(user: str | None) -> tuple[int, int] | None:
    """(uid, gid) of ``user`` when files must be handed to it, else None."""
    if user is None:
        return None
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise ConfigError(f"OS user {user!r} does not exist on this machine") from None
    if entry.pw_uid == os.geteuid():
        return None
    return entry.pw_uid, entry.pw_gid


def ensure_dir(path: Path, *, owner: tuple[int, int] | None = None, mode: int = 0o700) -> Path:
    """Create ``path`` (and parents) owner-only; hand the leaf to ``owner`` when given."""
    path.mkdir(parents=True, exist_ok=True, mode=mode)
    if owner is not None and os.geteuid() == 0:
        st = path.stat()
        if (st.st_uid, st.st_gid) != owner:
            os.chown(path, *owner)
    return path


def write_private(path: Path, text: str, *, owner: tuple[int, int] | None = None) -> None:
    """Write ``text`` atomically with mode 0600 (temp file in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        temp = Path(tmp)
        temp.chmod(0o600)
        if owner is not None and os.geteuid() == 0:
            os.chown(temp, *owner)
        temp.replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def blocking_ancestor(path: Path, user: str | None) -> Path | None:
    """The first folder on the way to ``path`` that ``user`` cannot enter (None: all fine)."""
    if user is None:
        return None
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return None
    if entry.pw_uid == 0:
        return None
    groups = {entry.pw_gid} | {g.gr_gid for g in grp.getgrall() if user in g.gr_mem}
    current = Path(path.anchor)
    for part in path.parts[1:]:
        current = current / part
        try:
            st = current.stat()
        except FileNotFoundError:
            return None
        if not stat.S_ISDIR(st.st_mode):
            return None
        if st.st_uid == entry.pw_uid:
            allowed = bool(st.st_mode & stat.S_IXUSR)
        elif st.st_gid in groups:
            allowed = bool(st.st_mode & stat.S_IXGRP)
        else:
            allowed = bool(st.st_mode & stat.S_IXOTH)
        if not allowed:
            return current
    return None


def remove_tree(path: Path) -> None:
    """Remove a scratch folder completely, whatever its files' permissions."""
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
        return
    if path.exists():
        shutil.rmtree(path, onerror=_force)


def _force(func: object, target: str, _exc: object) -> None:
    # A folder without write permission for us (e.g. handed to another user): open it up.
    path = Path(target)
    with contextlib.suppress(OSError):
        path.parent.chmod(0o700)
        path.chmod(0o700)
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink()
