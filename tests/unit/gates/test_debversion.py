"""Debian version ordering against dpkg's own (``dpkg --compare-versions``) on the same pairs:
epochs, revisions, "~" before everything (even the end), letters before other characters,
leading zeros, and a generated corpus of versions built from those pieces."""

from __future__ import annotations

import itertools
import random
import shutil
import subprocess

import pytest

from leitstand.gates.debversion import DebianVersion, compare

PAIRS = [
    ("1.0", "1.0"),
    ("1.0", "1.0-0"),
    ("0:1.0", "1.0"),
    ("1:0.1", "2.0"),
    ("1.0~rc1", "1.0"),
    ("1.0~~", "1.0~"),
    ("1.0~", "1.0"),
    ("1.0", "1.0a"),
    ("1.0a", "1.0+"),
    ("1.0+", "1.0."),
    ("1.0-1", "1.0-1~deb12u1"),
    ("3.0.11-1~deb12u1", "3.0.11-1~deb12u2"),
    ("3.0.11-1~deb12u2", "3.0.11-1"),
    ("2.36-9+deb12u4", "2.36-9+deb12u10"),
    ("1.01", "1.1"),
    ("1.001", "1.1"),
    ("10", "9"),
    ("1.2-3-4", "1.2-3"),
    ("7.88.1-10+deb12u8", "7.88.1-10+deb12u12"),
    ("1:2.38.1-5+deb12u3", "2.38.1-5+deb12u4"),
    ("252.33-1~deb12u1", "252.36-1~deb12u1"),
]


def _dpkg(a: str, op: str, b: str) -> bool:
    dpkg = shutil.which("dpkg")
    assert dpkg is not None
    done = subprocess.run([dpkg, "--compare-versions", a, op, b], timeout=10, check=False)
    return done.returncode == 0


def _dpkg_cmp(a: str, b: str) -> int:
    if _dpkg(a, "lt", b):
        return -1
    return 1 if _dpkg(a, "gt", b) else 0


@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_pairs_order_as_dpkg_orders_them(a: str, b: str) -> None:
    expected = _dpkg_cmp(a, b)
    assert compare(a, b) == expected
    assert compare(b, a) == -expected
    assert (DebianVersion(a) == DebianVersion(b)) is (expected == 0)


def test_a_generated_corpus_sorts_as_dpkg_sorts_it() -> None:
    """Versions made of epochs, digits with leading zeros, letters, ~ + . and revisions: each
    adjacent pair of the sorted corpus is checked with dpkg (one process per pair)."""
    rng = random.Random(20261207)  # noqa: S311 - a reproducible corpus, not a secret
    pieces = ["0", "1", "01", "2", "10", "a", "b", "~", "~~", "+", ".", "rc", "~rc"]
    versions = set()
    for _ in range(120):
        upstream = str(rng.randint(0, 3)) + "".join(rng.choice(pieces) for _ in range(3))
        epoch = rng.choice(["", "", "1:"])
        revision = rng.choice(["", "-1", "-1~deb12u1", "-0", "-2+b1"])
        versions.add(f"{epoch}{upstream}{revision}")
    ordered = sorted(versions, key=DebianVersion)
    for a, b in itertools.pairwise(ordered):
        assert _dpkg_cmp(a, b) <= 0, (a, b)


@pytest.mark.parametrize("text", ["", "abc", "1.0 2", "1:", "-1", "1.0-", "1.0_1"])
def test_text_that_is_no_debian_version_is_refused(text: str) -> None:
    assert DebianVersion.parse(text) is None
    with pytest.raises(ValueError, match="not a Debian version"):
        DebianVersion(text)
