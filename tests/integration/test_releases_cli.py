"""`leitstand release` as a pipeline runs it: the command `leitstand gate ci` writes works, exit
codes say what happened (0 serving, 1 failed or rolled back, 2 bad input), no traceback."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from leitstand.testing.cli import cli_token, run_cli
from support.gate_runs import record_gate_run_at
from support.releases_lab import ReleaseLab, short_dir


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[ReleaseLab]:
    lab = ReleaseLab(short_dir())
    lab.versions.add("1.0.0")
    lab.versions.add("1.1.0")
    lab.versions.add("1.3.0", health="fail")
    lab.homes.append(tmp_path / "home")
    (tmp_path / "leitstand.yaml").write_text(lab.policy_yaml())
    try:
        yield lab
    finally:
        lab.close()


def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("LEITSTAND_")}
    full.update({"LEITSTAND_HOME": str(tmp_path / "home"), "COLUMNS": "200"})
    full["LEITSTAND_TOKEN"] = cli_token(tmp_path / "home")  # a devops user acts
    full.update(env)
    done = run_cli(args, env=full, cwd=tmp_path)
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    return done


def _json(done: subprocess.CompletedProcess[str]) -> object:
    """The JSON document on stdout; a followed release streams JSON lines: the last line."""
    lines = done.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(("{", "[")))
    try:
        return json.loads("\n".join(lines[start:]))
    except json.JSONDecodeError:
        return json.loads(lines[-1])


def test_the_pipelines_deploy_command_releases_and_reports_by_exit_code(
    lab: ReleaseLab, tmp_path: Path
) -> None:
    pipeline = run(tmp_path, "gate", "ci", "--gitlab", "--stdout").stdout
    command = next(line for line in pipeline.splitlines() if "leitstand release start" in line)
    argv = shlex.split(command.split("- ", 1)[1].strip().strip("'"))
    home, policy = tmp_path / "home", tmp_path / "leitstand.yaml"
    digests = {
        v: record_gate_run_at(home, policy, service="enterprise-api", version=v)
        for v in ("1.0.0", "1.1.0", "1.3.0")
    }
    env = {"SERVICE": "enterprise-api", "VERSION": "1.0.0", "ARTIFACT_DIGEST": digests["1.0.0"]}
    argv = [env.get(a.strip("$"), a) for a in argv[1:]]
    assert argv == [
        "release", "start", "enterprise-api", "1.0.0", "--env", "staging",
        "--artifact-digest", digests["1.0.0"],
    ]  # fmt: skip
    ungated = run(tmp_path, *argv[:-1], "sha256:" + "0" * 64)
    assert ungated.returncode == 1
    assert "not run: build, test, security" in ungated.stderr
    undigested = run(tmp_path, *argv[:-2])
    assert undigested.returncode == 2 and "--artifact-digest" in undigested.stderr
    first = run(tmp_path, *argv)
    assert first.returncode == 0, first.stderr
    assert "release #1 enterprise-api 1.0.0 (staging, blue-green, deploy): completed" in (
        first.stdout
    )
    second = run(tmp_path, "release", "start", "enterprise-api", "1.1.0", "--env", "staging",
                 "--json", ARTIFACT_DIGEST=digests["1.1.0"])  # fmt: skip
    assert second.returncode == 0 and _json(second)["phase"] == "completed"  # type: ignore[index]
    status = _json(run(tmp_path, "release", "status", "--json"))
    assert isinstance(status, list) and status[0]["active_version"] == "1.1.0"
    broken = run(tmp_path, "release", "start", "enterprise-api", "1.3.0", "--env", "staging",
                 "--artifact-digest", digests["1.3.0"])  # fmt: skip
    assert broken.returncode == 1
    assert "release #3 enterprise-api 1.3.0 failed: 1.3.0 did not become healthy" in broken.stderr
    history = _json(run(tmp_path, "release", "history", "--json"))
    assert [r["phase"] for r in history] == ["failed", "completed", "completed"]  # type: ignore[index]
    log = run(tmp_path, "change", "log", "--format", "md")
    assert "# Änderungsprotokoll" in log.stdout and "Release abgeschlossen" in log.stdout
    out = tmp_path / "log.csv"
    run(tmp_path, "change", "log", "--format", "csv", "--out", str(out))
    assert out.read_text().startswith("ledger_index,time,change_id")


def test_bad_input_on_the_command_line_is_exit_2_with_one_clear_line(
    lab: ReleaseLab, tmp_path: Path
) -> None:
    cases = [
        (("billing", "1.0", "--env", "staging"), "unknown service 'billing'"),
        (("enterprise-api", "9.9.9", "--env", "staging"), "unknown version '9.9.9'"),
        (("enterprise-api", "1.0.0", "--env", "qa"), "env: one of staging for enterprise-api"),
    ]
    for args, message in cases:
        done = run(tmp_path, "release", "start", *args)
        assert done.returncode == 2, (args, done.stderr)
        assert message in done.stderr, (args, done.stderr)
    rollback = run(tmp_path, "release", "rollback", "enterprise-api", "--env", "staging",
                   "--reason", "x")  # fmt: skip
    assert rollback.returncode == 2 and "never been released" in rollback.stderr
    missing = run(tmp_path, "release", "start", "enterprise-api", "1.0.0")
    assert missing.returncode == 2 and "--env" in missing.stderr
