"""The image's layer: a reproducible tar of a root file system, gzipped reproducibly.

The layer is one tar in PAX format with its entries sorted by name, every mtime clamped to
SOURCE_DATE_EPOCH, owner ids and names set as given (root by default), atime/ctime and every
other PAX record dropped except ``SCHILY.xattr.*`` (file capabilities survive a re-pack); it is
gzipped with mtime 0 and no file name in the header. The same tree (or tar) and the same epoch
give the same bytes. The whole layer is held in memory while it is built (about twice the size
of the uncompressed root file system). ``leitstand.images.oci`` writes it into a layout.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

__all__ = ["ROOT", "SET_ID_BITS", "Owner", "gzip_layer", "normalize_tar", "tar_tree"]

_KEPT_PAX_PREFIX = "SCHILY.xattr."


@dataclass(frozen=True, slots=True)
class Owner:
    """The owner every tar entry gets: numeric ids and names."""

    uid: int = 0
    gid: int = 0
    uname: str = "root"
    gname: str = "root"

    def __post_init__(self) -> None:
        if self.uid < 0 or self.gid < 0:
            raise ValueError(f"owner ids must be >= 0 (got {self.uid}:{self.gid})")


ROOT = Owner()

#: setuid and setgid: dropped wherever the owner is replaced (a set-id bit of the builder's
#: file must not become a set-id-root program in the image).
SET_ID_BITS = 0o6000


def _entry(name: str, kind: bytes, *, mode: int, mtime: int, owner: Owner) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = mtime
    info.uid, info.gid, info.uname, info.gname = owner.uid, owner.gid, owner.uname, owner.gname
    return info


def _walk(root: Path) -> Iterator[tuple[str, Path]]:
    stack = [(root, "")]
    while stack:
        directory, prefix = stack.pop()
        with os.scandir(directory) as it:
            children = sorted(it, key=lambda e: e.name)
        for child in children:
            name = f"{prefix}{child.name}"
            yield name, Path(child.path)
            if child.is_dir(follow_symlinks=False):
                stack.append((Path(child.path), f"{name}/"))


def tar_tree(root: Path, *, epoch: int, owner: Owner = ROOT) -> bytes:
    """Return the uncompressed PAX tar of the tree under ``root`` (``root`` itself not included).

    Entries are sorted by name; mtimes are clamped to ``epoch``; every entry is owned by
    ``owner``; permission bits are kept as they are (the sticky bit too) except setuid and setgid,
    which are dropped (the owner is replaced), so the tree's modes must not depend on the
    builder's umask. Directories, regular files and symbolic links are packed; hard links become
    separate files; extended attributes are not read. Any other file type (device, FIFO,
    socket) is refused with a ValueError.
    """
    if not root.is_dir():
        raise ValueError(f"{root}: not a directory")
    members: list[tuple[tarfile.TarInfo, bytes | None]] = []
    for name, path in _walk(root):
        st = path.lstat()
        mtime = min(int(st.st_mtime), epoch)
        mode = stat.S_IMODE(st.st_mode) & ~SET_ID_BITS
        if stat.S_ISDIR(st.st_mode):
            members.append(
                (_entry(name, tarfile.DIRTYPE, mode=mode, mtime=mtime, owner=owner), None)
            )
        elif stat.S_ISREG(st.st_mode):
            info = _entry(name, tarfile.REGTYPE, mode=mode, mtime=mtime, owner=owner)
            data = path.read_bytes()
            info.size = len(data)
            members.append((info, data))
        elif stat.S_ISLNK(st.st_mode):
            info = _entry(name, tarfile.SYMTYPE, mode=0o777, mtime=mtime, owner=owner)
            info.linkname = str(path.readlink())
            members.append((info, None))
        else:
            raise ValueError(f"{path}: not a directory, regular file or symbolic link")
    return _write_tar(sorted(members, key=lambda m: m[0].name))


def _member_name(name: str) -> str:
    parts = [p for p in PurePosixPath(name).parts if p not in ("/", ".")]
    if not parts or ".." in parts:
        raise ValueError(f"tar entry {name!r}: empty or escapes the root file system")
    return "/".join(parts)


_REPACKED = {
    tarfile.REGTYPE,
    tarfile.AREGTYPE,
    tarfile.DIRTYPE,
    tarfile.SYMTYPE,
    tarfile.LNKTYPE,
}
_SPECIAL = {
    tarfile.CHRTYPE: "character device",
    tarfile.BLKTYPE: "block device",
    tarfile.FIFOTYPE: "FIFO",
}


def normalize_tar(data: bytes, *, epoch: int, owner: Owner | None = None) -> bytes:
    """Re-pack a tar (plain, gzip, bzip2 or xz) so that the same content gives the same bytes.

    Entries are sorted by name (hard links after every other entry, so their targets come
    first); leading ``/`` and ``./`` are dropped, and so is the root directory's own entry;
    mtimes are clamped to ``epoch``; ``owner`` replaces every entry's owner and then drops the
    setuid and setgid bits (None keeps owners and modes, as a root file system needs); only
    ``SCHILY.xattr.*`` PAX records are kept. Entries outside the root (``..``), duplicates,
    devices, FIFOs, hard links whose target is not an earlier regular file entry and any other
    type than files, directories and links raise ValueError (a container runtime makes its
    own /dev).
    """
    members: list[tuple[tarfile.TarInfo, bytes | None]] = []
    seen: set[str] = set()
    files: set[str] = set()  # the regular file entries so far: what a hard link may name
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as source:
            for member in source:
                if member.type in _SPECIAL:
                    raise ValueError(
                        f"tar entry {member.name!r}: a {_SPECIAL[member.type]} is refused "
                        "(the container runtime provides /dev)"
                    )
                if member.type not in _REPACKED:
                    raise ValueError(f"tar entry {member.name!r}: unsupported type {member.type!r}")
                if member.isdir() and member.name.strip("./") == "":
                    continue  # the root directory itself ("./", as mmdebstrap writes it)
                name = _member_name(member.name)
                if name in seen:
                    raise ValueError(f"tar entry {name!r} appears more than once")
                seen.add(name)
                kind = tarfile.REGTYPE if member.type == tarfile.AREGTYPE else member.type
                mode = member.mode & 0o7777
                info = _entry(
                    name,
                    kind,
                    mode=mode if owner is None else mode & ~SET_ID_BITS,
                    mtime=min(int(member.mtime), epoch),
                    owner=Owner(member.uid, member.gid, member.uname, member.gname)
                    if owner is None
                    else owner,
                )
                if kind == tarfile.SYMTYPE:
                    info.linkname = member.linkname
                elif kind == tarfile.LNKTYPE:
                    info.linkname = _member_name(member.linkname)
                    if info.linkname not in files:
                        raise ValueError(
                            f"tar entry {name!r}: hard link to {info.linkname!r}, which is not "
                            "an earlier regular file entry"
                        )
                elif kind == tarfile.REGTYPE:
                    files.add(name)
                info.pax_headers = {
                    k: member.pax_headers[k]
                    for k in sorted(member.pax_headers)
                    if k.startswith(_KEPT_PAX_PREFIX)
                }
                content: bytes | None = None
                if kind == tarfile.REGTYPE:
                    handle = source.extractfile(member)
                    content = handle.read() if handle is not None else b""
                    info.size = len(content)
                members.append((info, content))
    except (tarfile.TarError, EOFError, OSError, zlib.error, RecursionError) as exc:
        raise ValueError(f"not a readable tar archive: {exc}") from None
    members.sort(key=lambda m: (m[0].type == tarfile.LNKTYPE, m[0].name))
    return _write_tar(members)


def _write_tar(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, content in members:
            tar.addfile(info, io.BytesIO(content) if content is not None else None)
    return buffer.getvalue()


def gzip_layer(tar: bytes) -> bytes:
    """Gzip ``tar`` reproducibly: header mtime 0, no file name, compression level 9."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=buffer, mtime=0) as gz:
        gz.write(tar)
    return buffer.getvalue()
