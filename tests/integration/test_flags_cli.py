"""`leitstand flags` as a user runs it: exit codes, one-line errors, JSON, stale gate, refs."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from leitstand.testing.cli import cli_env, run_cli

NORD = "example-makler-nord"


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = cli_env(home, COLUMNS="200")  # acting as a devops user (LEITSTAND_TOKEN)
    return run_cli(["flags", *args], env=env)


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    [line] = [x for x in result.stderr.splitlines() if x.strip()]
    return line


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def test_tenant_activation_from_the_command_line(home: Path) -> None:
    assert run(home, "create", "new-billing", "--type", "release").returncode == 0
    refused = run(home, "tenants", "new-billing", "--env", "production", "--add", NORD)
    assert one_line_error(refused) == (
        "error: reason: a reason is required for flag changes in production (production) (got none)"
    )
    unknown = run(home, "tenants", "new-billing", "-e", "staging", "--add", "acme")
    assert "unknown tenant 'acme'" in one_line_error(unknown)
    done = run(
        home, "tenants", "new-billing", "-e", "production", "--add", NORD, "-r", "pilot", "--json"
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["tenant_states"]["production"][NORD] == "on"
    answer = run(home, "evaluate", "new-billing", "-e", "production", "--tenant", NORD, "--json")
    assert json.loads(answer.stdout) | {"error_message": None} == {
        "key": "new-billing",
        "value": True,
        "variant": "on",
        "reason": "TARGETING_MATCH",
        "error_code": None,
        "error_message": None,
        "rule": "tenants",
    }
    missing = run(home, "evaluate", "new-billing", "-e", "production")
    assert missing.returncode == 0
    assert "error INVALID_CONTEXT" in missing.stdout
    history = run(home, "history", "new-billing", "--json")
    assert [(e["action"], e["tenant"]) for e in json.loads(history.stdout)] == [
        ("flag.tenants_changed", NORD),
        ("flag.created", None),
    ]


def test_stale_flags_fail_the_gate_when_the_policy_says_so(home: Path) -> None:
    Path("leitstand.yaml").write_text(
        "deployment:\n  feature_flags:\n    stale_gate: fail\n    lifetimes:\n      release: 1s\n",
        encoding="utf-8",
    )
    assert run(home, "stale").stdout.strip() == "no stale flags"
    assert run(home, "create", "quick", "--type", "release", "--owner", "anna").returncode == 0
    time.sleep(1.2)
    stale = run(home, "stale", "--json")
    assert stale.returncode == 1
    body = json.loads(stale.stdout)
    assert (body["gate"], body["fails"]) == ("fail", True)
    assert [(s["key"], s["reason"], s["owner"]) for s in body["stale"]] == [
        ("quick", "past_lifetime", "anna")
    ]


def test_refs_reports_dead_flags_and_unknown_references(home: Path, tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(
        'client.get_boolean_value("new-billing", False, ctx)\n'
        'client.get_boolean_value("no-such-flag", False, ctx)\n',
        encoding="utf-8",
    )
    for key in ("new-billing", "forgotten"):
        assert run(home, "create", key, "--type", "release").returncode == 0
    report = run(home, "refs", str(code), "--json")
    assert report.returncode == 0
    body = json.loads(report.stdout)
    assert body["unreferenced"] == ["forgotten"]
    assert [(r["key"], r["path"], r["line"]) for r in body["unknown"]] == [
        ("no-such-flag", "app.py", 2)
    ]
    checked = run(home, "refs", str(code), "--check")
    assert checked.returncode == 1
    assert "app.py:2: unknown flag 'no-such-flag'" in checked.stderr
    assert "forgotten" in checked.stdout
    assert "no such file" in one_line_error(run(home, "refs", str(tmp_path / "nope")))
