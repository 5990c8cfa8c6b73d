"""The change API: roles per route, four eyes over HTTP, and the compliance gate reading it."""

from __future__ import annotations

from fastapi.testclient import TestClient

from leitstand.auth.model import Role

BODY = {
    "service": "enterprise-api",
    "version": "2.4.0",
    "category": "normal",
    "what": "new endpoint",
    "why": "broker request",
    "rollback": "redeploy 2.3.9",
    "tests": "unit, e2e",
}


def test_a_developer_opens_and_the_compliance_officer_approves(
    client: TestClient, headers: dict[Role, dict[str, str]]
) -> None:
    opened = client.post("/api/v1/changes", json=BODY, headers=headers[Role.DEVELOPER])
    assert opened.status_code == 201, opened.text
    change_id = opened.json()["id"]
    refused = client.post(
        f"/api/v1/changes/{change_id}/approve", json={}, headers=headers[Role.DEVOPS]
    )
    assert refused.status_code == 403
    assert "compliance_officer" in refused.json()["error"]
    approved = client.post(
        f"/api/v1/changes/{change_id}/approve",
        json={"comment": "ok"},
        headers=headers[Role.COMPLIANCE_OFFICER],
    )
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    listed = client.get("/api/v1/changes?service=enterprise-api", headers=headers[Role.AUDITOR])
    assert [c["approved_by"] for c in listed.json()] == [["u-compliance_officer"]]


def test_an_incomplete_change_is_a_422_naming_the_fields(
    client: TestClient, headers: dict[Role, dict[str, str]]
) -> None:
    response = client.post(
        "/api/v1/changes", json={**BODY, "why": "", "rollback": ""}, headers=headers[Role.DEVELOPER]
    )
    assert response.status_code == 422
    assert [i["path"] for i in response.json()["issues"]] == ["why", "rollback"]


def test_gate_runs_are_listed_from_the_ledger(
    client: TestClient, headers: dict[Role, dict[str, str]]
) -> None:
    response = client.get("/api/v1/gates/runs", headers=headers[Role.AUDITOR])
    assert response.status_code == 200 and response.json() == []
