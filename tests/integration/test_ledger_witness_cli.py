"""`leitstand witness serve` and `audit verify` as processes: cosigning, exit codes 0/1/3."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from leitstand.ledger.checkpoint import VerifierKey, load_signing_key
from leitstand.ledger.merkle import CompactRange, leaf_hash
from leitstand.testing import free_port

from .test_cli import run  # in-process; the command closes its witness connections


def _witness(home: Path, log_key: str, name: str) -> tuple[subprocess.Popen[str], str, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEITSTAND_")}
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "leitstand", "witness", "serve", "--home", str(home),
            "--port", str(port), "--name", name, "--log-key", log_key,
        ],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    key = proc.stdout.readline().strip()  # printed once the socket listens: ready
    assert key.startswith(f"{name}+"), proc.stderr.read() if proc.stderr else ""
    return proc, f"http://127.0.0.1:{port}", key


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        proc.terminate()
        proc.wait(timeout=30)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_witness_processes_cosign_and_verify_exits_0_3_and_1(
    tmp_path: Path, procs: list[subprocess.Popen[str]]
) -> None:
    home = tmp_path / "home"
    # Every `audit verify` records its result: the ledger grows by one entry per run.
    plain = run(home, "audit", "verify", "--json")
    assert plain.returncode == 0
    assert json.loads(plain.stdout)["witnesses_configured"] is False
    assert "no witness is configured" in run(home, "audit", "verify").stdout

    log_key = VerifierKey.from_public_key(
        "leitstand", load_signing_key(home / "keys" / "ledger-ed25519.pem").public_key()
    ).format()
    witnesses = []
    for name in ("w1", "w2"):
        proc, url, key = _witness(tmp_path / name, log_key, f"witness.test/{name}")
        procs.append(proc)
        witnesses.append({"name": name, "url": url, "key": key})
    policy = tmp_path / "leitstand.yaml"
    policy.write_text(
        json.dumps(
            {"evidence": {"checkpoint_copy_every_entries": 1}, "ledger": {"witnesses": witnesses}}
        )
    )
    env = {"LEITSTAND_POLICY": str(policy)}
    for _ in range(4):
        done = run(home, "audit", "verify", **env)
        assert done.returncode == 0, done.stdout + done.stderr
    intact = run(home, "audit", "verify", "--json", **env)
    assert intact.returncode == 0, intact.stdout + intact.stderr
    data = json.loads(intact.stdout)
    assert data["complete"] is True
    sizes = [w["size"] for w in data["witnesses"]]
    assert sizes[0] is not None and sizes[0] >= 4

    procs[1].terminate()
    procs[1].wait(timeout=30)
    incomplete = run(home, "audit", "verify", **env)
    assert incomplete.returncode == 3, incomplete.stdout + incomplete.stderr
    assert "witness w2 could not be reached" in incomplete.stdout

    # The rollback: entries after an earlier signed checkpoint deleted, its note replayed
    # into the state table, the newer files of the checkpoint folder deleted.
    with sqlite3.connect(home / "leitstand.db") as conn:
        size, note, root = conn.execute(
            "SELECT size, note, root FROM ledger_checkpoints WHERE size >= 4 ORDER BY size"
        ).fetchone()
        bodies = conn.execute("SELECT body FROM ledger_entries WHERE idx < ? ORDER BY idx", (size,))
        frontier = CompactRange.empty()
        for (body,) in bodies.fetchall():
            frontier.append(leaf_hash(body))
        conn.execute("DROP TRIGGER ledger_entries_no_delete")
        conn.execute("DELETE FROM ledger_entries WHERE idx >= ?", (size,))
        conn.execute("DELETE FROM ledger_checkpoints WHERE size > ?", (size,))
        conn.execute("DELETE FROM ledger_witness_deliveries")
        conn.execute(
            "UPDATE ledger_state SET size = ?, note = ?, root = ?, frontier = ?, kept_size = ?",
            (size, note, root, b"".join(frontier.hashes), size),
        )
    for path in (home / "witness" / "checkpoints").iterdir():
        if int(path.name.split(".")[0]) > size:
            path.unlink()
    caught = run(home, "audit", "verify", **env)
    assert caught.returncode == 1, caught.stdout + caught.stderr
    assert "witness w1 cosigned checkpoint covers" in caught.stderr
    assert f"only {size} exist" in caught.stderr
    assert "Traceback" not in caught.stderr
