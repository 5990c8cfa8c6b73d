"""Debian version ordering (deb-version(7)), as ``dpkg --compare-versions`` orders versions.

``[epoch:]upstream_version[-debian_revision]``: epochs compare as integers; the upstream version
and the revision compare part by part, alternating a non-digit run (letters sort before other
characters, ``~`` before everything, even the end of the string) and a digit run (as an
integer). The tests compare this ordering with dpkg's own on the same pairs.

Used by the image scan to match Debian packages against an OSV Debian feed, whose ranges are
in the ``Debian:<release>`` ecosystem's ordering.
"""

from __future__ import annotations

import functools
import re

__all__ = ["DebianVersion", "compare"]

# Characters dpkg accepts (its parseversion): in the upstream version letters, digits and
# . + ~ - : (a hyphen only where a revision follows, a colon only after an epoch); in the
# revision letters, digits and . + ~.
_UPSTREAM = re.compile(r"[0-9][A-Za-z0-9.+~:-]*")
_REVISION = re.compile(r"[A-Za-z0-9.+~]+")


def _split(text: str) -> tuple[int, str, str]:
    epoch, colon, rest = text.partition(":")
    if not colon:
        epoch, rest = "0", text
    elif not epoch.isdigit():
        raise ValueError(f"not a Debian version: {text!r} (the epoch is not a number)")
    upstream, hyphen, revision = rest.rpartition("-")
    if not hyphen:
        upstream, revision = rest, ""
    elif not _REVISION.fullmatch(revision):
        raise ValueError(f"not a Debian version: {text!r} (empty or invalid revision)")
    if not _UPSTREAM.fullmatch(upstream) or (not colon and ":" in upstream):
        raise ValueError(
            f"not a Debian version: {text!r} (the upstream version must start "
            "with a digit and hold only letters, digits and . + ~ - :)"
        )
    return int(epoch), upstream, revision


def _order(char: str) -> int:
    if char == "":
        return 0
    if char.isdigit():
        return 0
    if char.isascii() and char.isalpha():
        return ord(char)
    if char == "~":
        return -1
    return ord(char) + 256


def _verrevcmp(a: str, b: str) -> int:
    """dpkg's verrevcmp: alternating non-digit and digit runs."""
    i = j = 0
    while i < len(a) or j < len(b):
        while (i < len(a) and not a[i].isdigit()) or (j < len(b) and not b[j].isdigit()):
            ac = _order(a[i] if i < len(a) else "")
            bc = _order(b[j] if j < len(b) else "")
            if ac != bc:
                return ac - bc
            i += 1
            j += 1
        while i < len(a) and a[i] == "0":
            i += 1
        while j < len(b) and b[j] == "0":
            j += 1
        first_diff = 0
        while i < len(a) and a[i].isdigit() and j < len(b) and b[j].isdigit():
            if not first_diff:
                first_diff = ord(a[i]) - ord(b[j])
            i += 1
            j += 1
        if i < len(a) and a[i].isdigit():
            return 1
        if j < len(b) and b[j].isdigit():
            return -1
        if first_diff:
            return first_diff
    return 0


@functools.total_ordering
class DebianVersion:
    """A parsed Debian version; ordered as dpkg orders it."""

    __slots__ = ("epoch", "revision", "text", "upstream")

    def __init__(self, text: str) -> None:
        self.text = text.strip()
        self.epoch, self.upstream, self.revision = _split(self.text)

    @classmethod
    def parse(cls, text: str) -> DebianVersion | None:
        """The version, or None when ``text`` is not a Debian version."""
        try:
            return cls(text)
        except ValueError:
            return None

    def _cmp(self, other: DebianVersion) -> int:
        if self.epoch != other.epoch:
            return -1 if self.epoch < other.epoch else 1
        return _verrevcmp(self.upstream, other.upstream) or _verrevcmp(
            self.revision, other.revision
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DebianVersion) and self._cmp(other) == 0

    def __lt__(self, other: DebianVersion) -> bool:
        return self._cmp(other) < 0

    def __hash__(self) -> int:
        # Equal versions (1.0 and 0:1.0, 1.0-0 and 1.0) may differ in text: no useful hash.
        return hash(self.epoch)

    def __repr__(self) -> str:
        return f"DebianVersion({self.text!r})"


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 as ``a`` is lower than, equal to or higher than ``b``."""
    left, right = DebianVersion(a), DebianVersion(b)
    return (left > right) - (left < right)
