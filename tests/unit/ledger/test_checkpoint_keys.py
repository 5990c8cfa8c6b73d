"""The checkpoint signing key file: creation with mode 0600, loading, one-line config errors."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from leitstand.errors import ConfigError
from leitstand.ledger.checkpoint import load_or_create_signing_key, load_signing_key

pytestmark = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
running_as_root = os.name == "posix" and os.geteuid() == 0


def _raw(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes_raw()


def _write(path: Path, data: bytes, mode: int = 0o600) -> Path:
    path.write_bytes(data)
    path.chmod(mode)
    return path


def _one_line_config_error(path: Path, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        load_signing_key(path)
    assert "\n" not in str(info.value)
    assert str(path) in str(info.value)


def test_created_key_file_is_mode_0600_in_a_new_directory(tmp_path: Path) -> None:
    path = tmp_path / "state" / "keys" / "checkpoint.pem"
    key = load_or_create_signing_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert _raw(load_signing_key(path)) == _raw(key)
    assert [p.name for p in path.parent.iterdir()] == ["checkpoint.pem"]  # no temp files left


def test_created_key_is_0600_even_under_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        path = tmp_path / "checkpoint.pem"
        load_or_create_signing_key(path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_existing_key_is_loaded_not_replaced(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.pem"
    first = load_or_create_signing_key(path)
    second = load_or_create_signing_key(path)
    assert _raw(first) == _raw(second)


def test_concurrent_creators_end_up_with_the_same_key(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.pem"
    keys: list[bytes] = []
    start = threading.Barrier(8)

    def create() -> None:
        start.wait()
        keys.append(_raw(load_or_create_signing_key(path)))

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(keys)) == 1
    assert _raw(load_signing_key(path)) == keys[0]


def test_missing_key_file_is_a_config_error(tmp_path: Path) -> None:
    _one_line_config_error(tmp_path / "absent.pem", "file not found")


@pytest.mark.skipif(running_as_root, reason="root reads any file")
def test_unreadable_key_file_is_a_config_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "checkpoint.pem", b"x", mode=0o000)
    _one_line_config_error(path, "permission denied")


def test_permission_denied_is_a_config_error_even_when_tests_run_as_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path / "checkpoint.pem", b"x")
    real_open = os.open

    def deny(file: str | os.PathLike[str], flags: int, mode: int = 0o777) -> int:
        if Path(file) == path:
            raise PermissionError(13, "Permission denied")
        return real_open(file, flags, mode)

    monkeypatch.setattr(os, "open", deny)
    _one_line_config_error(path, "permission denied")


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o610])
def test_group_or_world_accessible_key_is_refused_with_chmod_advice(
    tmp_path: Path, mode: int
) -> None:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path = _write(tmp_path / "checkpoint.pem", pem, mode=mode)
    _one_line_config_error(path, f"mode {mode:04o} .*chmod 600")


def test_stricter_mode_0400_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.pem"
    key = load_or_create_signing_key(path)
    path.chmod(0o400)
    assert _raw(load_signing_key(path)) == _raw(key)


@pytest.mark.parametrize(
    "data",
    [b"", b"not a key\n", b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"],
    ids=["empty", "text", "bad-der"],
)
def test_malformed_key_file_is_a_config_error(tmp_path: Path, data: bytes) -> None:
    path = _write(tmp_path / "checkpoint.pem", data)
    _one_line_config_error(path, "not a PEM-encoded PKCS#8 private key")


def test_key_of_another_type_is_a_config_error(tmp_path: Path) -> None:
    pem = generate_private_key(SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path = _write(tmp_path / "checkpoint.pem", pem)
    _one_line_config_error(path, "expected an Ed25519 key")


def test_encrypted_key_is_a_config_error(tmp_path: Path) -> None:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    path = _write(tmp_path / "checkpoint.pem", pem)
    _one_line_config_error(path, "encrypted keys are not supported")


def test_directory_or_fifo_at_the_key_path_is_a_config_error(tmp_path: Path) -> None:
    directory = tmp_path / "dir.pem"
    directory.mkdir(mode=0o700)
    _one_line_config_error(directory, "not a regular file")
    fifo = tmp_path / "fifo.pem"
    os.mkfifo(fifo, 0o600)
    _one_line_config_error(fifo, "not a regular file")


def test_key_path_below_a_file_is_a_config_error(tmp_path: Path) -> None:
    blocker = _write(tmp_path / "blocker", b"")
    with pytest.raises(ConfigError, match="Not a directory") as info:
        load_or_create_signing_key(blocker / "checkpoint.pem")
    assert "\n" not in str(info.value)


def test_failure_to_create_the_key_is_a_one_line_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(ConfigError, match="cannot create it \\(Permission denied\\)") as info:
        load_or_create_signing_key(tmp_path / "keys" / "checkpoint.pem")
    assert "\n" not in str(info.value)


def test_filesystems_without_hard_links_still_get_a_0600_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(*args: object, **kwargs: object) -> None:
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    path = tmp_path / "keys" / "checkpoint.pem"
    key = load_or_create_signing_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert _raw(load_signing_key(path)) == _raw(key)
    assert [p.name for p in path.parent.iterdir()] == ["checkpoint.pem"]
