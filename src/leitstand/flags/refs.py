"""Code references: find flag keys in a code tree (LaunchDarkly's ld-find-code-refs, locally).

Two ways to find a reference: the policy's patterns (OpenFeature evaluation calls; each has a
``key`` group), and, for known flags, the key between quotes anywhere (a constant, a config
file). A flag with no reference left is safe to archive; a call naming an unknown or archived
flag gets the caller's default at run time and is reported.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from leitstand.errors import Issue, ValidationError
from leitstand.flags.model import FlagRecord
from leitstand.policy.delivery import FlagReferencePolicy

__all__ = ["Reference", "ReferenceReport", "scan_references"]


@dataclass(frozen=True, slots=True)
class Reference:
    """One place in the code that names a flag key."""

    key: str
    path: str  # relative to the scanned root, with forward slashes
    line: int
    text: str

    def as_dict(self) -> dict[str, object]:
        return {"key": self.key, "path": self.path, "line": self.line, "text": self.text}


@dataclass(slots=True)
class ReferenceReport:
    """What a scan found, judged against the stored flags."""

    root: str
    files_scanned: int = 0
    references: dict[str, list[Reference]] = field(default_factory=dict)
    unreferenced: list[str] = field(default_factory=list)  # active flags: safe to archive
    unknown: list[Reference] = field(default_factory=list)
    archived: list[Reference] = field(default_factory=list)

    @property
    def problems(self) -> bool:
        """References that will silently get the caller's default."""
        return bool(self.unknown or self.archived)

    def as_dict(self) -> dict[str, object]:
        return {
            "root": self.root,
            "files_scanned": self.files_scanned,
            "references": {
                key: [r.as_dict() for r in refs] for key, refs in sorted(self.references.items())
            },
            "unreferenced": self.unreferenced,
            "unknown": [r.as_dict() for r in self.unknown],
            "archived": [r.as_dict() for r in self.archived],
        }


def _excluded(name: str, relative: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(relative, p) for p in patterns)


def _files(root: Path, policy: FlagReferencePolicy) -> Iterable[tuple[Path, str]]:
    for directory, dirs, files in os.walk(root):
        base = Path(directory)
        rel_dir = base.relative_to(root).as_posix()
        dirs[:] = sorted(
            d
            for d in dirs
            if not _excluded(d, d if rel_dir == "." else f"{rel_dir}/{d}", policy.exclude)
        )
        for name in sorted(files):
            relative = f"{rel_dir}/{name}" if rel_dir != "." else name
            if _excluded(name, relative, policy.exclude):
                continue
            yield base / name, relative


def _read_text(path: Path, limit: int) -> str | None:
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > limit:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    if b"\0" in data[:8192]:
        return None  # binary
    return data.decode("utf-8", errors="replace")


def scan_references(
    root: Path, *, flags: Sequence[FlagRecord], policy: FlagReferencePolicy
) -> ReferenceReport:
    """Scan ``root`` for references to flags and judge them against ``flags``."""
    if not root.exists():
        raise ValidationError([Issue("path", f"no such file or directory (got {str(root)!r})")])
    active = {f.key for f in flags if not f.archived}
    archived = {f.key for f in flags if f.archived}
    known = active | archived
    calls = [re.compile(p) for p in policy.patterns]
    quoted = (
        re.compile(
            r"""(?<![A-Za-z0-9._-])["'`](?P<key>"""
            + "|".join(re.escape(k) for k in sorted(known, key=len, reverse=True))
            + r""")["'`]"""
        )
        if known and policy.quoted_keys
        else None
    )
    report = ReferenceReport(root=str(root))
    seen: set[tuple[str, str, int]] = set()
    files = [(root, root.name)] if root.is_file() else _files(root, policy)
    for path, relative in files:
        text = _read_text(path, policy.max_file_bytes)
        if text is None:
            continue
        report.files_scanned += 1
        for number, line in enumerate(text.splitlines(), start=1):
            for pattern in calls:
                for match in pattern.finditer(line):
                    _found(report, seen, match.group("key"), relative, number, line, known)
            if quoted is not None:
                for match in quoted.finditer(line):
                    _found(report, seen, match.group("key"), relative, number, line, known)
    for key in sorted(active):
        if key not in report.references:
            report.unreferenced.append(key)
    for key in sorted(archived):
        report.archived.extend(report.references.get(key, []))
    return report


def _found(
    report: ReferenceReport,
    seen: set[tuple[str, str, int]],
    key: str,
    path: str,
    line: int,
    text: str,
    known: set[str],
) -> None:
    if (key, path, line) in seen:
        return
    seen.add((key, path, line))
    reference = Reference(key=key, path=path, line=line, text=text.strip()[:200])
    if key in known:
        report.references.setdefault(key, []).append(reference)
    else:
        report.unknown.append(reference)
