"""Keys come from the environment or owner-only files; tools run with timeouts, masked output."""

from __future__ import annotations

import stat
import sys
import time
from pathlib import Path

import pytest

from leitstand.backups.fsutil import write_private
from leitstand.backups.process import EngineError, MissingBinaryError, Runner
from leitstand.backups.targets import KeyStore
from leitstand.errors import ConfigError
from leitstand.policy.backup_targets import BackupKeys


def test_a_missing_key_file_is_generated_owner_only_on_set_up(tmp_path: Path) -> None:
    store = KeyStore(BackupKeys(), tmp_path)
    with pytest.raises(ConfigError, match="run `leitstand backup setup SYSTEM`"):
        store.get("restic")
    key = store.get("restic", create=True)
    path = tmp_path / "keys" / "restic.key"
    assert len(key) >= 48 and path.read_text().strip() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert KeyStore(BackupKeys(), tmp_path).get("restic") == key
    assert store.where("restic") == f"file {path}"


def test_a_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "k"
    path.write_text("secret\n")
    path.chmod(0o644)
    store = KeyStore(BackupKeys(restic=f"file:{path}"), tmp_path)
    with pytest.raises(ConfigError, match=r"backups.keys.restic: .* readable by others: chmod 600"):
        store.get("restic")


def test_keys_can_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = KeyStore(BackupKeys(pgbackrest="env:TEST_PGBR_KEY"), tmp_path)
    with pytest.raises(ConfigError, match="environment variable TEST_PGBR_KEY is not set"):
        store.get("pgbackrest")
    monkeypatch.setenv("TEST_PGBR_KEY", "from-the-environment")
    assert store.get("pgbackrest") == "from-the-environment"
    assert store.where("pgbackrest") == "environment variable TEST_PGBR_KEY"


def test_private_files_are_written_atomically_with_mode_600(tmp_path: Path) -> None:
    target = tmp_path / "conf" / "pgbackrest.conf"
    write_private(target, "first\n")
    write_private(target, "second\n")
    assert target.read_text() == "second\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in target.parent.iterdir()] == ["pgbackrest.conf"]


def test_a_missing_tool_names_the_debian_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    runner = Runner()
    with pytest.raises(MissingBinaryError, match=r"apt-get install pgbackrest"):
        runner.which("pgbackrest")
    with pytest.raises(MissingBinaryError, match=r"apt-get install postgresql-15"):
        runner.which("initdb", directory=str(tmp_path))


def test_known_secrets_are_masked_in_tool_output() -> None:
    runner = Runner(secrets=["hunter2"])
    with pytest.raises(EngineError) as caught:
        runner.run(
            [
                sys.executable,
                "-c",
                "import sys; sys.stderr.write('bad key hunter2\\n'); sys.exit(3)",
            ],
            timeout=30,
            what="tool",
        )
    assert caught.value.message == "tool failed (exit 3): bad key ***"


def test_a_tool_that_hangs_is_stopped_with_its_children(tmp_path: Path) -> None:
    marker = tmp_path / "child.pid"
    script = (
        "import subprocess, sys, time;"
        f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
        f"open({str(marker)!r}, 'w').write(str(p.pid)); time.sleep(60)"
    )
    started = time.monotonic()
    with pytest.raises(EngineError, match="did not finish within 1s and was stopped"):
        Runner().run([sys.executable, "-c", script], timeout=1, what="slow tool")
    assert time.monotonic() - started < 15
    child = int(marker.read_text())
    time.sleep(0.2)
    assert (
        not Path(f"/proc/{child}").exists()
        or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2]
    )
