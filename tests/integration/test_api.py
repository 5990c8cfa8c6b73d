"""The HTTP API and system endpoints, through the ASGI app."""

from __future__ import annotations

import base64

from fastapi.testclient import TestClient

from leitstand.auth.model import Role
from leitstand.bootstrap import Container
from leitstand.ledger.merkle import verify_inclusion


def test_health_readiness_and_metrics_are_public(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "schema": "ok"}}
    metrics = client.get("/metrics").text
    assert "leitstand_ledger_entries" in metrics
    assert 'leitstand_http_requests_total{method="GET",route="/readyz",status="200"} 1.0' in metrics


def test_correlation_id_comes_from_the_request_or_is_generated(client: TestClient) -> None:
    given = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    traced = client.get("/healthz", headers={"traceparent": f"00-{trace}-00f067aa0ba902b7-01"})
    assert traced.headers["x-request-id"] == trace
    generated = client.get("/healthz", headers={"X-Request-ID": "bad value\nwith newline"})
    assert len(generated.headers["x-request-id"]) == 32


def test_an_entry_recorded_through_the_api_is_committed_and_provable(
    client: TestClient, headers: dict[Role, dict[str, str]], container: Container
) -> None:
    created = client.post(
        "/api/v1/audit/entries",
        json={
            "action": "manual.maintenance",
            "subject": "service:enterprise-api",
            "tenant": "makler-nord",
            "payload": {"window": "02:00-03:00", "token": "must-not-be-stored"},
        },
        headers=headers[Role.DEVOPS],
    )
    assert created.status_code == 201, created.text
    entry = created.json()
    assert entry["actor"] == "u-devops"
    assert entry["role"] == "devops"
    assert entry["payload"] == {"window": "02:00-03:00", "token": "[redacted]"}

    listed = client.get(
        "/api/v1/audit/entries", params={"tenant": "makler-nord"}, headers=headers[Role.AUDITOR]
    ).json()
    assert [e["index"] for e in listed] == [entry["index"]]

    proof = client.get(
        f"/api/v1/audit/proof/{entry['index']}", headers=headers[Role.AUDITOR]
    ).json()
    assert proof["verified"] is True
    head = client.get("/api/v1/audit/checkpoint", headers=headers[Role.QA]).json()
    assert head["size"] >= proof["tree_size"]
    root = base64.b64decode(head["note"].split("\n")[2])
    if head["size"] == proof["tree_size"]:
        assert verify_inclusion(
            base64.b64decode(proof["leaf_hash"]),
            proof["index"],
            proof["tree_size"],
            [base64.b64decode(h) for h in proof["hashes"]],
            root,
        )


def test_verify_through_the_api_reports_and_records_the_result(
    client: TestClient, headers: dict[Role, dict[str, str]]
) -> None:
    result = client.post("/api/v1/audit/verify", headers=headers[Role.AUDITOR]).json()
    assert result["ok"] is True
    assert result["first_bad_index"] is None
    recorded = client.get(
        "/api/v1/audit/entries",
        params={"action": "ledger.verified"},
        headers=headers[Role.AUDITOR],
    ).json()
    assert recorded[0]["actor"] == "u-auditor"


def test_bad_input_gets_a_clear_4xx_with_the_field(
    client: TestClient, headers: dict[Role, dict[str, str]]
) -> None:
    missing = client.post(
        "/api/v1/audit/entries", json={"subject": "x"}, headers=headers[Role.DEVOPS]
    )
    assert missing.status_code == 422
    assert missing.json()["issues"][0]["path"] == "action"
    unknown = client.post(
        "/api/v1/audit/entries",
        json={"action": "a.b", "subject": "x", "colour": "red"},
        headers=headers[Role.DEVOPS],
    )
    assert unknown.status_code == 422
    assert "colour" in unknown.json()["error"]
    absent = client.get("/api/v1/audit/proof/999999", headers=headers[Role.AUDITOR])
    assert absent.status_code == 404
    assert "999999" in absent.json()["error"]


def test_users_and_tokens_can_be_managed_by_devops_only(
    client: TestClient, headers: dict[Role, dict[str, str]]
) -> None:
    created = client.post(
        "/api/v1/users", json={"name": "berta", "role": "qa"}, headers=headers[Role.DEVOPS]
    )
    assert created.status_code == 201
    token = created.json()["token"]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me == {"name": "berta", "role": "qa"}
    duplicate = client.post(
        "/api/v1/users", json={"name": "berta", "role": "qa"}, headers=headers[Role.DEVOPS]
    )
    assert duplicate.status_code == 409
    wrong_role = client.post(
        "/api/v1/users", json={"name": "carl", "role": "boss"}, headers=headers[Role.DEVOPS]
    )
    assert wrong_role.status_code == 422
    revoked = client.delete("/api/v1/users/berta/tokens", headers=headers[Role.DEVOPS]).json()
    assert revoked == {"name": "berta", "revoked": 1}
    gone = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert gone.status_code == 401


def test_the_effective_policy_is_served_as_json(
    client: TestClient, headers: dict[Role, dict[str, str]]
) -> None:
    policy = client.get("/api/v1/policy", headers=headers[Role.PRODUCT_OWNER]).json()
    assert policy["services"]["enterprise-api"]["rto"] == "2h"
    assert policy["services"]["enterprise-api"]["rpo"] == "15m"
    assert len(policy["monitoring"]["metrics"]) == 17


def test_openapi_documents_every_api_route(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/api/v1/audit/entries" in spec["paths"]
    assert "/api/v1/users/{name}/tokens" in spec["paths"]
    assert client.get("/docs").status_code == 200
