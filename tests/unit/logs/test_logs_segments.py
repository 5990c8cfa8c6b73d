"""The seal of a log segment: SHA-256 and size, the same as hashlib and sha256sum."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from leitstand.logs.segments import CHUNK, seal_digest


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, 3 * CHUNK + 12345])
def test_seal_digest_equals_hashlib_and_sha256sum(tmp_path: Path, size: int) -> None:
    path = tmp_path / "application.log.1"
    block = b'{"event":"http_request","status":200}\n'
    path.write_bytes((block * (size // len(block) + 1))[:size])
    digest, length = seal_digest(path)
    assert length == size
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()
    sha256sum = shutil.which("sha256sum")
    assert sha256sum is not None
    done = subprocess.run([sha256sum, str(path)], capture_output=True, text=True, check=True)
    assert done.stdout.split()[0] == digest


def test_a_changed_or_truncated_segment_has_another_seal(tmp_path: Path) -> None:
    path = tmp_path / "audit.log.1"
    path.write_bytes(b"line one\nline two\n")
    sealed = seal_digest(path)
    path.write_bytes(b"line one\nline tw0\n")
    assert seal_digest(path)[0] != sealed[0]
    path.write_bytes(b"line one\n")
    assert seal_digest(path)[1] == len(b"line one\n")
