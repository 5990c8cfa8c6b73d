"""The flag API: per-tenant evaluation over HTTP, snapshots with ETags, changes and errors."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from leitstand.auth.model import Role

NORD, SUED, WEST = "example-makler-nord", "example-makler-sued", "example-vorsorge-west"
Headers = dict[Role, dict[str, str]]


def create(client: TestClient, headers: Headers, key: str = "new-billing", **body: object) -> dict:
    response = client.post(
        "/api/v1/flags", json={"key": key, "type": "release", **body}, headers=headers[Role.DEVOPS]
    )
    assert response.status_code == 201, response.text
    return response.json()


def evaluate(client: TestClient, headers: Headers, tenant: str | None, **body: object) -> dict:
    context = {"targetingKey": "user-7"} | ({"tenantId": tenant} if tenant else {})
    response = client.post(
        "/api/v1/flags/evaluate",
        json={"environment": "production", "context": context} | body,
        headers=headers[Role.DEVELOPER],
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.tenant_isolation
def test_http_evaluation_gives_each_tenant_its_own_result(
    client: TestClient, headers: Headers
) -> None:
    create(client, headers)
    create(
        client,
        headers,
        key="layout",
        value_type="string",
        variants={"classic": "list", "fresh": "grid"},
        off_variant="classic",
    )
    answer = client.post(
        "/api/v1/flags/new-billing/tenants",
        json={"environment": "production", "add": [NORD, SUED], "reason": "pilot"},
        headers=headers[Role.DEVOPS],
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["tenant_states"]["production"] == {NORD: "on", SUED: "on", WEST: "off"}
    client.post(
        "/api/v1/flags/new-billing/tenants",
        json={"environment": "production", "exclude": [SUED], "reason": "complaint"},
        headers=headers[Role.ONCALL],
    )
    client.post(
        "/api/v1/flags/layout/tenants",
        json={"environment": "production", "add": [WEST], "variant": "fresh", "reason": "demo"},
        headers=headers[Role.DEVOPS],
    )
    results = {
        tenant: {r["key"]: (r["value"], r["variant"], r["reason"]) for r in body["results"]}
        for tenant in (NORD, SUED, WEST)
        for body in [evaluate(client, headers, tenant)]
    }
    assert results == {
        NORD: {
            "layout": ("list", "classic", "DEFAULT"),
            "new-billing": (True, "on", "TARGETING_MATCH"),
        },
        SUED: {
            "layout": ("list", "classic", "DEFAULT"),
            "new-billing": (False, "off", "TARGETING_MATCH"),
        },
        WEST: {
            "layout": ("grid", "fresh", "TARGETING_MATCH"),
            "new-billing": (False, "off", "DEFAULT"),
        },
    }


def test_http_bad_input_returns_error_codes_and_the_callers_defaults(
    client: TestClient, headers: Headers
) -> None:
    create(client, headers)
    body = evaluate(
        client,
        headers,
        NORD,
        flags=[
            {"key": "nope", "default": "fallback"},
            {"key": "new-billing", "type": "string", "default": "x"},
            "new-billing",
        ],
    )
    assert [(r["key"], r["value"], r["error_code"]) for r in body["results"]] == [
        ("nope", "fallback", "FLAG_NOT_FOUND"),
        ("new-billing", "x", "TYPE_MISMATCH"),
        ("new-billing", False, None),
    ]
    missing = evaluate(client, headers, None, flags=[{"key": "new-billing", "default": True}])
    [result] = missing["results"]
    assert (result["value"], result["error_code"], result["reason"]) == (
        True,
        "INVALID_CONTEXT",
        "ERROR",
    )
    unknown_env = client.post(
        "/api/v1/flags/evaluate",
        json={"environment": "prod", "context": {"tenantId": NORD}},
        headers=headers[Role.DEVELOPER],
    )
    assert unknown_env.status_code == 422
    assert "environment: one of development, staging, production" in unknown_env.json()["error"]


def test_snapshot_answers_304_to_a_matching_etag(client: TestClient, headers: Headers) -> None:
    create(client, headers)
    first = client.get(
        "/api/v1/flags/snapshot", params={"environment": "staging"}, headers=headers[Role.QA]
    )
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert [f["key"] for f in first.json()["flags"]] == ["new-billing"]
    again = client.get(
        "/api/v1/flags/snapshot",
        params={"environment": "staging"},
        headers=headers[Role.QA] | {"If-None-Match": etag},
    )
    assert again.status_code == 304
    client.post(
        "/api/v1/flags/new-billing/toggle",
        json={"environment": "staging", "enabled": True},
        headers=headers[Role.DEVELOPER],
    )
    changed = client.get(
        "/api/v1/flags/snapshot",
        params={"environment": "staging"},
        headers=headers[Role.QA] | {"If-None-Match": etag},
    )
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag


def test_changes_follow_policy_roles_and_production_needs_a_reason(
    client: TestClient, headers: Headers
) -> None:
    create(client, headers)
    no_reason = client.post(
        "/api/v1/flags/new-billing/toggle",
        json={"environment": "production", "enabled": True},
        headers=headers[Role.DEVOPS],
    )
    assert no_reason.status_code == 422
    assert no_reason.json()["issues"][0]["path"] == "reason"
    developer = client.post(
        "/api/v1/flags/new-billing/kill",
        json={"environment": "production", "reason": "x"},
        headers=headers[Role.DEVELOPER],
    )
    assert developer.status_code == 403
    assert "production_editors" in developer.json()["error"]
    oncall = client.post(
        "/api/v1/flags/new-billing/kill",
        json={"environment": "production", "reason": "SEV-1 containment"},
        headers=headers[Role.ONCALL],
    )
    assert oncall.status_code == 200
    assert oncall.json()["environments"]["production"]["killed"] is True
    history = client.get("/api/v1/flags/new-billing/history", headers=headers[Role.AUDITOR])
    assert [e["action"] for e in history.json()] == ["flag.killed", "flag.created"]
    assert history.json()[0]["payload"]["reason"] == "SEV-1 containment"


def test_unknown_tenants_in_targeting_are_refused_with_the_path(
    client: TestClient, headers: Headers
) -> None:
    create(client, headers)
    response = client.put(
        "/api/v1/flags/new-billing/environments/staging",
        json={
            "targeting": {
                "enabled": True,
                "rules": [{"name": "pilot", "tenants": ["acme"], "serve": {"variant": "on"}}],
            }
        },
        headers=headers[Role.DEVELOPER],
    )
    assert response.status_code == 422
    [issue] = response.json()["issues"]
    assert issue["path"] == "environments.staging.rules.0.tenants.0"
    assert issue["message"].startswith("unknown tenant 'acme'")
    assert client.get("/api/v1/flags/nope", headers=headers[Role.QA]).status_code == 404


def test_stale_endpoint_reports_the_gate(client: TestClient, headers: Headers) -> None:
    create(client, headers)
    body = client.get("/api/v1/flags/stale", headers=headers[Role.AUDITOR]).json()
    assert body == {"stale": [], "gate": "warn", "fails": False}
