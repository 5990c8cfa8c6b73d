"""Release commands show what happens while they follow a release: a live display on stderr
(phase, step, weights, analysis, health), or the release's evidence streamed as JSON lines."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from leitstand.testing.cli import cli_token, run_cli
from support.releases_lab import ReleaseLab, short_dir


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[ReleaseLab]:
    lab = ReleaseLab(short_dir())
    lab.versions.add("1.0.0")
    lab.versions.add("1.1.0")
    lab.versions.add("1.2.0", health="fail")
    lab.homes.append(tmp_path / "home")
    overlay = lab.policy(blue_green={"rollback_window": "1s"})
    # The release engine is under test; admission (Fail = Stop) has its own tests.
    overlay["pipeline"] = {"deployment": {"required_gates": {"staging": []}}}
    (tmp_path / "leitstand.yaml").write_text(yaml.safe_dump(overlay))
    try:
        yield lab
    finally:
        lab.close()


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEITSTAND_")}
    env.update({"LEITSTAND_HOME": str(tmp_path / "home"), "COLUMNS": "200"})
    env["LEITSTAND_TOKEN"] = cli_token(tmp_path / "home")  # a DevOps user acts
    done = run_cli(args, env=env, cwd=tmp_path)
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    return done


def test_json_streams_the_release_events_and_the_display_shows_the_live_state(
    lab: ReleaseLab, tmp_path: Path
) -> None:
    start = ("release", "start", "enterprise-api")
    first = run(tmp_path, *start, "1.0.0", "--env", "staging", "--json")
    assert first.returncode == 0, first.stderr
    lines = [json.loads(line) for line in first.stdout.splitlines()]
    events = [line["event"] for line in lines]
    assert events[0] == "release.started" and events[-1] == "release"
    for needed in ("release.instance_started", "release.healthy", "release.switched"):
        assert needed in events
    assert lines[-1]["phase"] == "completed" and lines[-1]["version"] == "1.0.0"
    indexes = [line["index"] for line in lines[:-1]]
    assert indexes == sorted(indexes) and len(set(indexes)) == len(indexes)  # each entry once
    # The display on stderr: phase, where the traffic is, the health check.
    shown = run(tmp_path, *start, "1.1.0", "--env", "staging")
    assert shown.returncode == 0, shown.stderr
    for part in ("phase", "completed", "weights", "green 100 %", "health", "HTTP 200"):
        assert part in shown.stderr, shown.stderr
    assert "release #2 enterprise-api 1.1.0 (staging, blue-green, deploy): completed" in (
        shown.stdout
    )
    # A version that never gets healthy: the display says why; exit 1.
    broken = run(tmp_path, *start, "1.2.0", "--env", "staging", "--json")
    assert broken.returncode == 1
    last = json.loads(broken.stdout.splitlines()[-1])
    assert last["event"] == "release" and last["phase"] == "failed"
    assert "release.abandoned" in [json.loads(x)["event"] for x in broken.stdout.splitlines()]
    # The manual rollback redeploys 1.0.0 (1.1.0's old colour is retired): its time is shown.
    back = run(tmp_path, "release", "rollback", "enterprise-api", "--env", "staging",
               "--reason", "orders fail")  # fmt: skip
    assert back.returncode == 0, back.stderr
    assert "release #4 enterprise-api 1.0.0 (staging, blue-green, rollback): completed" in (
        back.stdout
    )
    assert "rollback took" in back.stdout and "rollback" in back.stderr
    # Nothing good is left to go back to: 1.1.0 was rolled back by hand. Exit 1, one line.
    none = run(tmp_path, "release", "rollback", "enterprise-api", "--env", "staging",
               "--reason", "again")  # fmt: skip
    assert none.returncode == 1
    assert "no earlier version that completed and was not rolled back" in none.stderr
    # The handover checklist belongs to production releases: a clear refusal for staging.
    handover = run(tmp_path, "release", "handover", "1", "--json")
    assert handover.returncode == 2 and "no completed production release" in handover.stderr
