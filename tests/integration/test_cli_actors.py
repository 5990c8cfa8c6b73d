"""Named actors on the command line: every state change is recorded under the token's user.

Without ``--token``/``LEITSTAND_TOKEN`` only the policy's ``auth.local_admin_actions`` run (as
``local:<os user>``, role ``local-admin``, payload ``local_admin: true``); everything else, and
a token whose role the action does not admit, is refused with exit code 5 (ForbiddenError).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from leitstand.auth.model import SYSTEM_ACTOR, Role
from leitstand.bootstrap import build
from leitstand.cli import main
from leitstand.cli_support import ExitCode
from leitstand.ledger.service import EntryQuery
from leitstand.settings import Settings
from leitstand.testing.cli import cli_token
from support.gates_lab import write_project

NORD, SUED = "example-makler-nord", "example-makler-sued"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("LEITSTAND_HOME", str(home))
    monkeypatch.setenv("COLUMNS", "200")
    return home


def leitstand(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code: object = 0
    try:
        main(list(argv))
    except SystemExit as done:
        code = done.code
    out, err = capsys.readouterr()
    return (code if isinstance(code, int) else 0), out, err


def entries(home: Path, action: str) -> list[dict[str, Any]]:
    container = build(Settings(home=home))
    try:
        with container.db.reader() as session:
            found = container.ledger.entries(
                session, EntryQuery(action=action, limit=None, newest_first=False)
            )
    finally:
        container.close()
    return [{"actor": e.actor, "role": e.role, "payload": e.payload} for e in found]


def test_an_oncall_token_acts_as_its_user_in_every_domain(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    devops, oncall = cli_token(home), cli_token(home, role=Role.ONCALL)
    developer = cli_token(home, role=Role.DEVELOPER)
    code, out, err = leitstand(
        capsys, "change", "open", "--service", "enterprise-api", "--version", "2.4.0",
        "--category", "normal", "--what", "w", "--why", "y", "--rollback", "r", "--tests", "t",
        "--json", "--token", developer,
    )  # fmt: skip
    assert code == 0, err
    change_id = json.loads(out)["id"]
    assert (
        leitstand(capsys, "flags", "create", "nb", "--type", "release", "--token", devops)[0] == 0
    )
    code, _, err = leitstand(
        capsys, "flag", "tenants", "nb", "-e", "production", "--add", NORD, "--add", SUED,
        "-r", "pilot", "--change", str(change_id), "--token", oncall,
    )  # fmt: skip
    assert code == 0, err
    code, _, err = leitstand(
        capsys, "incident", "open", "Portal 5xx", "--severity", "SEV-3", "--token", oncall
    )
    assert code == 0, err
    code, _, err = leitstand(
        capsys, "audit", "record", "--action", "maintenance", "--subject", "service:portal",
        "--token", oncall,
    )  # fmt: skip
    assert code == 0, err
    container = build(Settings(home=home))
    try:
        with container.db.transaction() as session:
            alert = container.alerting.raise_alert(
                session, name="HighErrorRate", severity="warning", summary="5xx",
                actor=SYSTEM_ACTOR,
            )  # fmt: skip
    finally:
        container.close()
    code, _, err = leitstand(capsys, "alert", "ack", str(alert.id), "--token", oncall)
    assert code == 0, err
    assert [(e["actor"], e["role"]) for e in entries(home, "alert.acknowledged")] == [
        ("oncall-user", "oncall")
    ]
    switches = entries(home, "flag.tenants_changed")
    assert [(e["actor"], e["role"], e["payload"]["change_id"]) for e in switches] == [
        ("oncall-user", "oncall", change_id),
    ] * 2
    assert [(e["actor"], e["role"]) for e in entries(home, "incident.opened")] == [
        ("oncall-user", "oncall")
    ]
    assert [(e["actor"], e["role"]) for e in entries(home, "manual.maintenance")] == [
        ("oncall-user", "oncall")
    ]
    assert [e["actor"] for e in entries(home, "change.opened")] == ["developer-user"]
    # The flag switch shows in the change's log, in German and English.
    code, out, _ = leitstand(capsys, "change", "log", "--change", str(change_id), "--json")
    actions = [r["action"] for r in json.loads(out)]
    assert actions == ["change.opened", "flag.tenants_changed", "flag.tenants_changed"]
    code, out, _ = leitstand(
        capsys, "change", "log", "--change", str(change_id), "--format", "md", "--lang", "en"
    )
    assert "flag switched for tenants" in out and f"tenant {SUED}" in out


@pytest.mark.parametrize(
    "argv",
    [
        ("change", "approve", "1"),
        ("flag", "on", "nb", "-e", "staging"),
        ("flags", "on", "nb", "-e", "staging"),  # the old name, kept as a hidden alias
        ("alert", "ack", "1"),
        ("alerts", "ack", "1"),
        ("incident", "ack", "INC-2026-0001"),
        ("backup", "run", "enterprise-api", "--row", "database_full"),
        ("drill", "run", "pitr", "--system", "enterprise-api"),
        ("gate", "run", "."),
        ("scheduler", "tick"),
        ("audit", "record", "--action", "x", "--subject", "y"),
        ("user", "add", "eve", "--role", "devops"),
        ("release", "rollback", "enterprise-api", "--env", "staging", "--reason", "x"),
    ],
    ids=lambda argv: "-".join(argv[:2]),
)
def test_acting_without_a_token_or_as_an_auditor_is_refused(
    home: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    auditor = cli_token(home, role=Role.AUDITOR)
    code, out, err = leitstand(capsys, *argv)
    assert code == ExitCode.FORBIDDEN == 5, (out, err)
    assert "needs a named user: pass --token or set LEITSTAND_TOKEN" in err
    assert "Traceback" not in err
    code, out, err = leitstand(capsys, *argv, "--token", auditor)
    assert code == ExitCode.FORBIDDEN, (out, err)
    assert "role 'auditor' of user 'auditor-user' may not do" in err


def test_the_first_user_is_created_by_the_local_admin_and_labelled_so(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = leitstand(capsys, "user", "add", "olaf", "--role", "devops", "--json")
    assert code == 0, err
    token = json.loads(out)["token"]
    [added] = entries(home, "auth.user.added")
    assert added["actor"].startswith("local:") and added["role"] == "local-admin"
    assert added["payload"]["local_admin"] is True
    # Once a user exists, adding another needs a devops token; it is then recorded as that user.
    assert leitstand(capsys, "user", "add", "ida", "--role", "oncall")[0] == ExitCode.FORBIDDEN
    assert leitstand(capsys, "user", "add", "ida", "--role", "oncall", "--token", token)[0] == 0
    second = entries(home, "auth.user.added")[1]
    assert (second["actor"], second["role"]) == ("olaf", "devops")
    assert "local_admin" not in second["payload"]


def test_the_policy_decides_which_actions_the_local_admin_may_do(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Path("leitstand.yaml").write_text(
        "auth:\n  local_admin_actions: [user.bootstrap, audit.record]\n", encoding="utf-8"
    )
    code, _, err = leitstand(capsys, "audit", "record", "--action", "x", "--subject", "y")
    assert code == 0, err
    [entry] = entries(home, "manual.x")
    assert entry["role"] == "local-admin" and entry["payload"]["local_admin"] is True
    code, _, err = leitstand(capsys, "db", "upgrade")
    assert code == ExitCode.FORBIDDEN and "db.upgrade needs a named user" in err
    Path("leitstand.yaml").write_text(
        "auth:\n  local_admin_actions: [user.bootstarp]\n", encoding="utf-8"
    )
    code, _, err = leitstand(capsys, "policy", "validate", "leitstand.yaml")
    assert code == ExitCode.BAD_INPUT
    assert "auth.local_admin_actions.0" in err and "'user.bootstarp'" in err


def test_a_gate_run_records_who_ran_it(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = write_project(tmp_path / "p")
    developer = cli_token(home, role=Role.DEVELOPER)
    code, _, err = leitstand(
        capsys, "gate", "run", str(project), "--stage", "compliance", "--json",
        "--token", developer,
    )  # fmt: skip
    assert code in (ExitCode.OK, ExitCode.FAILED), err  # the answer, not a refusal
    [run] = entries(home, "gate.run")
    assert (run["actor"], run["role"]) == ("developer-user", "developer")
