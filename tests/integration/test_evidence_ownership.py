"""Evidence ownership, attacked as an oncall user would (issue 12): the manual route cannot write
system evidence, the overview and incident timelines cannot be fed forged entries, and nobody
can take the name of a system actor. Through the API and through the CLI."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from leitstand.auth.model import Actor, Role
from leitstand.bootstrap import Container, build
from leitstand.ledger.ownership import SYSTEM_NAMESPACES
from leitstand.settings import Settings
from leitstand.testing.cli import cli_token, run_cli

H = dict[Role, dict[str, str]]
FORGERIES = [
    ("gate.run", {"change_id": 1, "status": "pass"}),
    ("ledger.verified", {"ok": True, "size": 999999, "problems": []}),
    ("incident.note_added", {"text": "forged note"}),
    ("release.completed", {"service": "enterprise-api", "version": "6.6.6"}),
    ("Control_Plane.started", {}),
    ("backups.run.succeeded", {}),
    ("flag.enabled", {"key": "x"}),
    ("auth.user.added", {"name": "x"}),
]


@pytest.mark.parametrize(("action", "payload"), FORGERIES)
def test_the_manual_route_refuses_every_system_namespace(
    client: TestClient, headers: H, action: str, payload: dict[str, object]
) -> None:
    response = client.post(
        "/api/v1/audit/entries",
        json={"action": action, "subject": "incident:1", "payload": payload},
        headers=headers[Role.ONCALL],
    )
    assert response.status_code == 422, response.text
    namespace = action.split(".")[0].lower()
    assert response.json()["issues"][0]["path"] == "action"
    assert f"'{namespace}.*' is a reserved system namespace" in response.json()["error"]
    listed = client.get(
        "/api/v1/audit/entries", params={"action": f"{namespace}.*"}, headers=headers[Role.AUDITOR]
    ).json()
    assert [e for e in listed if e["actor"] == "u-oncall"] == []


def test_manual_entries_are_marked_manual_in_the_entry_the_api_and_the_ui(
    client: TestClient, headers: H
) -> None:
    for action in ("maintenance", "manual.window", "review.done"):
        created = client.post(
            "/api/v1/audit/entries",
            json={"action": action, "subject": "service:enterprise-api"},
            headers=headers[Role.ONCALL],
        )
        assert created.status_code == 201, created.text
        assert created.json()["action"].startswith("manual.")
        assert created.json()["manual"] is True
    listed = client.get("/api/v1/audit/entries", headers=headers[Role.AUDITOR]).json()
    manual = [e["action"] for e in listed if e["manual"]]
    assert manual == ["manual.review.done", "manual.window", "manual.maintenance"]
    assert all(not e["manual"] for e in listed if e["actor"] != "u-oncall")
    page = client.get("/", headers=headers[Role.AUDITOR])
    assert page.status_code == 200
    assert page.text.count('data-testid="manual"') == 3


def test_the_overview_shows_the_verifiers_records_not_a_forged_payload(
    client: TestClient, headers: H
) -> None:
    forged = {"ok": True, "size": 999999, "first_bad_index": None, "problems": []}
    for action in ("ledger.verified", "manual.ledger.verified", "verified"):
        client.post(
            "/api/v1/audit/entries",
            json={"action": action, "subject": "ledger", "payload": forged},
            headers=headers[Role.ONCALL],
        )
    page = client.get("/", headers=headers[Role.AUDITOR]).text
    assert "999999" not in page
    assert "noch nicht geprüft" in page  # no verification has run
    result = client.post("/api/v1/audit/verify", headers=headers[Role.AUDITOR]).json()
    assert result["ok"] is True
    page = client.get("/", headers=headers[Role.AUDITOR]).text
    assert f"{result['entries_checked']} Einträge, geprüft am" in page
    assert "999999" not in page


def test_an_incident_timeline_never_shows_forged_or_manual_entries(
    client: TestClient, headers: H
) -> None:
    opened = client.post(
        "/api/v1/incidents",
        json={"title": "portal slow", "severity": "SEV-3"},
        headers=headers[Role.DEVOPS],
    )
    assert opened.status_code == 201, opened.text
    iid = opened.json()["id"]
    for action in ("incident.note_added", "alert.fired", "manual.note_added", "note_added"):
        client.post(
            "/api/v1/audit/entries",
            json={
                "action": action,
                "subject": f"incident:{iid}",
                "payload": {"text": "forged note", "name": "Forged", "incident_id": iid},
            },
            headers=headers[Role.ONCALL],
        )
    timeline = client.get(f"/api/v1/incidents/{iid}/timeline", headers=headers[Role.DEVOPS])
    assert timeline.status_code == 200
    assert timeline.json(), "the incident's own events are on its timeline"
    assert all(e["action"].split(".")[0] in SYSTEM_NAMESPACES for e in timeline.json())
    assert "forged" not in timeline.text.lower()


@pytest.mark.parametrize(
    "name", ["leitstand", "pipeline", "system", "scheduler", "local", "leitstand-bot", "local.root"]
)
def test_system_actor_names_cannot_be_taken_through_the_api(
    client: TestClient, headers: H, name: str
) -> None:
    response = client.post(
        "/api/v1/users", json={"name": name, "role": "oncall"}, headers=headers[Role.DEVOPS]
    )
    assert response.status_code == 422, response.text
    assert "reserved" in response.json()["error"]


# -- the same through the CLI ---------------------------------------------------------------------


def _run(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("LEITSTAND_")}
    full.update({"LEITSTAND_HOME": str(home), "COLUMNS": "200"})
    full["LEITSTAND_TOKEN"] = cli_token(home)  # a devops user acts
    full.update(env)
    done = run_cli(args, env=full)
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    return done


@pytest.fixture
def oncall_token(tmp_path: Path) -> str:
    container: Container = build(Settings(home=tmp_path / "home"))
    try:
        admin = Actor(name="local:test", role="local")
        _user, token = container.auth.add_user(name="olga", role=Role.ONCALL, actor=admin)
    finally:
        container.close()
    return token


def test_the_cli_refuses_system_actions_and_marks_manual_entries(
    tmp_path: Path, oncall_token: str
) -> None:
    home = tmp_path / "home"
    forged = json.dumps({"change_id": 1, "status": "pass"})
    for action in ("gate.run", "ledger.verified", "incident.note_added"):
        done = _run(
            home, "audit", "record", "--action", action, "--subject", "x", "--payload", forged,
            LEITSTAND_TOKEN=oncall_token,
        )  # fmt: skip
        assert done.returncode == 2, done.stdout
        assert "is a reserved system namespace" in done.stderr
    done = _run(
        home, "audit", "record", "--action", "maintenance", "--subject", "x", "--json",
        LEITSTAND_TOKEN=oncall_token,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    recorded = json.loads(done.stdout)
    assert recorded["action"] == "manual.maintenance" and recorded["actor"] == "olga"
    listed = json.loads(_run(home, "audit", "log", "--json").stdout)
    assert [e["action"] for e in listed if e["manual"]] == ["manual.maintenance"]
    assert not [e for e in listed if e["actor"] == "olga" and not e["manual"]]
    table = _run(home, "audit", "log").stdout
    line = next(row for row in table.splitlines() if "manual.maintenance" in row)
    assert "manual" in line.replace("manual.maintenance", "")


def test_the_cli_refuses_system_actor_names(tmp_path: Path) -> None:
    home = tmp_path / "home"
    for name in ("leitstand", "pipeline", "scheduler"):
        done = _run(home, "user", "add", name, "--role", "oncall")
        assert done.returncode == 2, done.stdout
        assert "reserved" in done.stderr
