"""`leitstand backup` and `leitstand drill` as users run them, including the scratch PITR demo."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from leitstand.backups.demo import STEPS_LOG
from leitstand.testing.cli import cli_token, run_cli

pytestmark = pytest.mark.integration


def _env(home: Path, tmp: Path, *, acting: bool = True) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEITSTAND_")}
    env.update({"LEITSTAND_HOME": str(home), "COLUMNS": "200", "TMPDIR": str(tmp)})
    if acting:
        env["LEITSTAND_TOKEN"] = cli_token(home)  # a devops user acts
    return env


def _run(home: Path, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # The scratch demonstration keeps its own store: no user (and no home) is created for it.
    env = _env(home, tmp, acting="--scratch" not in args)
    return run_cli(args, env=env)  # TMPDIR of env applies, as in a child


def _error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def _leftovers(tmp: Path) -> list[str]:
    return sorted(p.name for p in tmp.iterdir())


def _postgres_of(tmp: Path) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if "postgres" in cmdline and str(tmp) in cmdline:
                found.append(int(entry.name))
    return found


@pytest.fixture
def tmp() -> Iterator[Path]:
    """A TMPDIR the postgres OS user can enter (pytest's own folders are owner-only)."""
    folder = Path(tempfile.mkdtemp(prefix="lst-cli-", dir="/tmp"))
    folder.chmod(0o711)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_bad_requests_are_one_line_errors(tmp_path: Path, tmp: Path) -> None:
    home = tmp_path / "home"
    assert "has no backup configuration" in _error(
        _run(home, tmp, "backup", "run", "internal-tools", "--row", "database_full")
    )
    assert "unknown system 'crm'" in _error(_run(home, tmp, "backup", "setup", "crm"))
    assert "--system: required" in _error(_run(home, tmp, "drill", "run", "pitr"))
    assert "only for pitr" in _error(_run(home, tmp, "drill", "run", "failover", "--scratch"))
    assert "--lang: de or en" in _error(_run(home, tmp, "drill", "show", "1", "--lang", "fr"))
    status = _run(home, tmp, "backup", "status", "--json")
    assert status.returncode == 0, status.stderr
    assert {o["rpo_status"] for o in json.loads(status.stdout)} == {"not_configured"}


def test_the_scratch_pitr_demo_restores_exactly_and_removes_everything(
    tmp_path: Path, tmp: Path
) -> None:
    home = tmp_path / "home"
    sockets = set(Path("/tmp").glob("lst-pg-*"))
    result = _run(home, tmp, "drill", "run", "pitr", "--scratch", "--json")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["status"] == "passed" and body["cleaned_up"] is True
    assert body["markers_before_target"] == [1, 2, 3]
    assert body["markers_after_target"] == [4, 5, 6]
    checks = {c["name"]: c for c in body["protocol"]["checks"]}
    assert checks["pitr_rows"]["values"]["restored"] == 3
    assert body["markdown"].startswith("# Testprotokoll – Point-in-Time-Recovery")
    assert _leftovers(tmp) == [] and _postgres_of(tmp) == []
    assert set(Path("/tmp").glob("lst-pg-*")) <= sockets
    assert not home.exists(), "the demonstration keeps its own throwaway store"


def _wait_for_step(
    demo: subprocess.Popen[str], tmp: Path, prefix: str, *, timeout: float = 180
) -> None:
    """Until the demonstration's steps.log has a line starting with ``prefix`` (or it ended)."""
    deadline = time.monotonic() + timeout
    while True:
        for log in tmp.glob(f"leitstand-scratch-*/{STEPS_LOG}"):
            with contextlib.suppress(OSError):
                if any(ln.startswith(prefix) for ln in log.read_text().splitlines()):
                    return
        assert demo.poll() is None, demo.communicate()
        assert time.monotonic() < deadline, f"no step {prefix!r} within {timeout:.0f}s"
        time.sleep(0.05)  # polling the log, not a guess at a duration


def test_ctrl_c_during_the_scratch_demo_still_removes_everything(tmp_path: Path, tmp: Path) -> None:
    home = tmp_path / "home"
    demo = subprocess.Popen(
        [sys.executable, "-m", "leitstand", "drill", "run", "pitr", "--scratch"],
        env=_env(home, tmp, acting=False),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # As a background job of a non-interactive shell starts it: SIGINT inherited as ignored.
        # The command still unwinds on SIGINT (it sets its own handler).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    # The event, not a guess at how long start-up takes under load: the demonstration logs
    # "generating ..." once its source cluster is up (start_source returned), inside the
    # command's signal handling.
    _wait_for_step(demo, tmp, "generating ")
    assert _postgres_of(tmp)
    demo.send_signal(signal.SIGINT)
    _out, err = demo.communicate(timeout=120)
    assert demo.returncode == 130, err
    assert "Traceback" not in err
    assert _leftovers(tmp) == []
    assert _postgres_of(tmp) == []
