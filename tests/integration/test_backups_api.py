"""Backups API: objectives for everyone, runs and drills for readers, queueing for devops."""

from __future__ import annotations

from fastapi.testclient import TestClient

from leitstand.auth.model import Role


def test_objectives_list_every_system_with_rto_and_rpo(
    client: TestClient, headers: dict[Role, dict[str, str]]
) -> None:
    response = client.get("/api/v1/backups/objectives", headers=headers[Role.PRODUCT_OWNER])
    assert response.status_code == 200
    body = {o["system"]: o for o in response.json()}
    assert body["enterprise-api"]["rpo_seconds"] == 900
    assert body["enterprise-api"]["rto_seconds"] == 7200
    assert body["enterprise-api"]["rpo_status"] == "not_configured"


def test_runs_and_drills_are_empty_lists_for_readers(
    client: TestClient, headers: dict[Role, dict[str, str]]
) -> None:
    assert client.get("/api/v1/backups/runs", headers=headers[Role.AUDITOR]).json() == []
    assert client.get("/api/v1/backups/drills", headers=headers[Role.AUDITOR]).json() == []
    missing = client.get("/api/v1/backups/drills/7", headers=headers[Role.AUDITOR])
    assert missing.status_code == 404 and missing.json()["error"] == "drill 7 does not exist"


def test_queueing_for_an_unconfigured_system_is_refused_with_a_clear_error(
    client: TestClient, headers: dict[Role, dict[str, str]]
) -> None:
    devops = headers[Role.DEVOPS]
    run = client.post(
        "/api/v1/backups/runs",
        json={"system": "enterprise-api", "row": "database_full"},
        headers=devops,
    )
    assert run.status_code == 404
    assert "add backups.systems.enterprise-api to leitstand.yaml" in run.json()["error"]
    bad_row = client.post(
        "/api/v1/backups/runs", json={"system": "enterprise-api", "row": "nightly"}, headers=devops
    )
    assert bad_row.status_code == 422 and bad_row.json()["issues"][0]["path"] == "row"
    drill = client.post(
        "/api/v1/backups/drills",
        json={"kind": "teleport", "system": "enterprise-api"},
        headers=devops,
    )
    assert drill.status_code == 422 and drill.json()["issues"][0]["path"] == "kind"
    wrong_role = client.post(
        "/api/v1/backups/drills",
        json={"kind": "pitr", "system": "enterprise-api"},
        headers=headers[Role.COMPLIANCE_OFFICER],
    )
    assert wrong_role.status_code == 403
