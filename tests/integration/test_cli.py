"""The `leitstand` command as a user runs it: exit codes, one-line errors, no tracebacks."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from leitstand.testing import free_port
from leitstand.testing.cli import cli_env, cli_token, run_cli


def _env(home: Path, **env: str) -> dict[str, str]:
    return cli_env(home, role=None, **{"COLUMNS": "200", **env})


def run(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    # In this process (leitstand.testing.cli.run_cli): the same main, environment and output.
    return run_cli(args, env=_env(home, **env))


def run_child(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    # A real `python -m leitstand` child, for what only a process shows: the module entry point
    # and `up` (a server, which must not be able to block the test process if it starts).
    return subprocess.run(
        [sys.executable, "-m", "leitstand", *args],
        env=_env(home, **env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def test_version_and_help(home: Path) -> None:
    version = run_child(home, "--version")
    assert version.returncode == 0
    assert version.stdout.strip().startswith("leitstand 0.")
    bare = run(home)
    assert bare.returncode == 0
    assert "audit" in bare.stdout


def test_unknown_commands_and_options_are_one_line_errors(home: Path) -> None:
    assert "No such command 'frobnicate'" in one_line_error(run(home, "frobnicate"))
    assert "No such option: --bogus" in one_line_error(run(home, "audit", "log", "--bogus"))
    assert "'index'" in one_line_error(run(home, "audit", "prove", "seven"))


def test_an_unreachable_database_is_a_one_line_error(home: Path) -> None:
    line = one_line_error(
        run(home, "audit", "log", LEITSTAND_DATABASE_URL="postgresql://ops:pw@127.0.0.1:1/x")
    )
    assert "is not reachable" in line
    assert "pw" not in line
    assert "expected a URL" in one_line_error(
        run(home, "audit", "log", LEITSTAND_DATABASE_URL="not a url")
    )


def test_a_bad_policy_file_is_refused_before_anything_starts(home: Path, tmp_path: Path) -> None:
    policy = tmp_path / "leitstand.yaml"
    policy.write_text("monitoring:\n  metrics:\n    cpu:\n      critcal: 95\n")
    result = run(home, "audit", "log", LEITSTAND_POLICY=str(policy))
    assert result.returncode == 2
    assert "monitoring.metrics.cpu" in result.stderr
    assert "Traceback" not in result.stderr
    assert not home.exists()


def test_a_missing_or_unreadable_signing_key_is_a_one_line_error(home: Path) -> None:
    token = cli_token(home)
    assert (
        run(home, "audit", "record", "--action", "a.b", "--subject", "s", LEITSTAND_TOKEN=token)
    ).returncode == 0
    key = home / "keys" / "ledger-ed25519.pem"
    key.chmod(0o644)
    assert "chmod 600" in one_line_error(run(home, "audit", "log"))
    key.rename(key.with_suffix(".bak"))
    line = one_line_error(run(home, "audit", "log"))
    assert "is missing" in line
    assert not key.exists(), "a missing key must not be silently replaced"


def test_a_port_in_use_is_a_one_line_error_and_writes_nothing(home: Path) -> None:
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen(1)
        line = one_line_error(run_child(home, "up", "--port", str(port)))
    assert f"port {port}" in line
    assert not home.exists()


def test_audit_commands_record_verify_prove_and_export(home: Path, tmp_path: Path) -> None:
    # The store's first user is created by the local administrator (auth.local_admin_actions).
    added = run(home, "user", "add", "anna", "--role", "devops", "--json")
    assert added.returncode == 0, added.stderr
    token = json.loads(added.stdout)["token"]
    assert token.startswith("lst_")
    recorded = run(
        home,
        "audit", "record", "--action", "manual.maintenance", "--subject", "service:portal",
        "--tenant", "makler-nord", "--payload", '{"window": "02:00"}', "--json",
        LEITSTAND_TOKEN=token,
    )  # fmt: skip
    assert recorded.returncode == 0, recorded.stderr
    assert json.loads(recorded.stdout)["index"] == 1
    log = json.loads(run(home, "audit", "log", "--tenant", "makler-nord", "--json").stdout)
    assert [e["action"] for e in log] == ["manual.maintenance"]
    verified = run(home, "audit", "verify")
    assert verified.returncode == 0
    assert "ledger intact" in verified.stdout
    proof = json.loads(run(home, "audit", "prove", "1", "--json").stdout)
    assert proof["verified"] is True
    exported = run(home, "audit", "export", str(tmp_path / "quarter"))
    assert exported.returncode == 0, exported.stderr
    assert sorted(p.name for p in (tmp_path / "quarter").iterdir()) == [
        "README.txt", "checkpoint.note", "consistency.json", "cosignatures.json",
        "entries.jsonl", "key.vkey", "leaf_hashes.bin", "manifest.json", "proof.json",
    ]  # fmt: skip
    offline = run(tmp_path / "elsewhere", "audit", "verify", "--export", str(tmp_path / "quarter"))
    assert offline.returncode == 0, offline.stderr
    assert not (tmp_path / "elsewhere").exists(), "offline verification needs no installation"


def test_audit_verify_exits_1_naming_the_first_bad_index(home: Path) -> None:
    token = cli_token(home)
    for i in range(5):
        run(
            home,
            "audit",
            "record",
            "--action",
            "manual.x",
            "--subject",
            f"s{i}",
            LEITSTAND_TOKEN=token,
        )
    import sqlite3

    with sqlite3.connect(home / "leitstand.db") as conn:
        conn.execute("DROP TRIGGER ledger_entries_no_update")
        conn.execute("UPDATE ledger_entries SET subject = 'forged' WHERE idx = 3")
    result = run(home, "audit", "verify")
    assert result.returncode == 1
    assert "first bad index 3" in result.stderr
    assert "Traceback" not in result.stderr


def test_init_writes_a_starter_policy_that_validates(tmp_path: Path, home: Path) -> None:
    work = tmp_path / "project"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEITSTAND_")}
    init = run_cli(["init"], env=env, cwd=work)
    assert init.returncode == 0, init.stderr
    assert (work / "leitstand.yaml").is_file()
    valid = run(home, "policy", "validate", str(work / "leitstand.yaml"))
    assert valid.returncode == 0, valid.stderr
    again = run_cli(["init"], env=env, cwd=work)
    assert again.returncode == 2


def test_the_command_groups_use_singular_nouns_and_the_old_names_still_work(home: Path) -> None:
    listing = run(home, "--help").stdout
    names = re.findall(r"^\W+ ([a-z]+)  ", listing, flags=re.MULTILINE)
    assert {"alert", "alerting", "flag", "policy", "db"} <= set(names), listing
    assert not {"alerts", "flags"} & set(names), "the old names are hidden aliases"
    token = cli_token(home)
    created = run(home, "flag", "create", "nb", "--type", "release", LEITSTAND_TOKEN=token)
    assert created.returncode == 0, created.stderr
    new, old = (json.loads(run(home, name, "list", "--json").stdout) for name in ("flag", "flags"))
    assert new == old and [f["key"] for f in new] == ["nb"]
    new, old = (run(home, name, "list", "--json") for name in ("alert", "alerts"))
    assert new.returncode == old.returncode == 0, (new.stderr, old.stderr)
    assert json.loads(new.stdout) == json.loads(old.stdout) == []
    assert "Did you mean 'alert'" in one_line_error(run(home, "alrt"))


def test_help_shows_no_bool_tags_on_flags(home: Path) -> None:
    for argv in (("--help",), ("alert", "list", "--help"), ("up", "--help"), ("db", "--help")):
        shown = run(home, *argv)
        assert shown.returncode == 0, shown.stderr
        assert "--help" in shown.stdout
        assert "<bool>" not in shown.stdout, shown.stdout
    assert "<int" in run(home, "up", "--help").stdout, "options that take a value keep their type"


_MODULES = """
import json, sys
from leitstand.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def _loaded(cwd: Path, *argv: str) -> set[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEITSTAND_")}
    done = subprocess.run(
        [sys.executable, "-c", _MODULES, *argv],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return set(json.loads(done.stderr.splitlines()[-1]))


def test_version_help_and_policy_show_import_no_domain_web_or_database(tmp_path: Path) -> None:
    heavy = {"fastapi", "sqlalchemy", "uvicorn", "leitstand.bootstrap", "leitstand.app"}
    domains = {f"leitstand.{d}" for d in ("alerting", "incidents", "ledger", "flags", "releases")}
    for argv in (("--version",), ("--help",)):
        loaded = _loaded(tmp_path, *argv)
        assert not loaded & (heavy | domains | {"leitstand.policy", "structlog"}), argv
        assert "rich.console" not in loaded or argv == ("--help",)
    loaded = _loaded(tmp_path, "policy", "show")
    assert "leitstand.policy.cli" in loaded
    assert not loaded & (heavy | domains | {"structlog"})
