"""The logs routes: 401 without a token, 403 for a role the policy does not let read a type."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from leitstand.app import create_app
from leitstand.auth.model import SYSTEM_ACTOR, Role
from leitstand.bootstrap import Container
from leitstand.ledger.service import EntryQuery


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container), base_url="http://127.0.0.1") as test_client:
        yield test_client


def _bearer(container: Container, role: Role) -> dict[str, str]:
    _, token = container.auth.add_user(name=f"u-{role.value}", role=role, actor=SYSTEM_ACTOR)
    return {"Authorization": f"Bearer {token}"}


def test_without_a_token_the_routes_answer_401(client: TestClient) -> None:
    for url in ("/api/v1/logs/search?type=audit", "/api/v1/logs/types"):
        response = client.get(url)
        assert response.status_code == 401, url
        assert response.headers["www-authenticate"] == "Bearer"


def test_readers_come_from_the_policy_and_reads_of_audit_logs_are_recorded(
    client: TestClient, container: Container
) -> None:
    auditor = _bearer(container, Role.AUDITOR)
    developer = _bearer(container, Role.DEVELOPER)
    ok = client.get("/api/v1/logs/search?type=audit", headers=auditor)
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"log_type": "audit", "lines": [], "truncated": False, "recorded": True}
    denied = client.get("/api/v1/logs/search?type=audit", headers=developer)
    assert denied.status_code == 403
    assert "readers: auditor, compliance_officer" in denied.json()["error"]
    assert client.get("/api/v1/logs/types", headers=developer).status_code == 403
    # Application logs are not audit logs: reading them is not recorded.
    devops = _bearer(container, Role.DEVOPS)
    app_logs = client.get("/api/v1/logs/search?type=application", headers=devops)
    assert app_logs.status_code == 200 and app_logs.json()["recorded"] is False
    unknown = client.get("/api/v1/logs/search?type=nope", headers=devops)
    assert unknown.status_code == 422
    assert [i["path"] for i in unknown.json()["issues"]] == ["type"]
    with container.db.reader() as session:
        reads = container.ledger.entries(session, EntryQuery(action="log.read", limit=None))
    assert [(e.actor, e.role, e.payload["log_type"]) for e in reads] == [
        ("u-auditor", "auditor", "audit")
    ]


def test_the_types_route_lists_retention_for_readers(
    client: TestClient, container: Container
) -> None:
    response = client.get("/api/v1/logs/types", headers=_bearer(container, Role.AUDITOR))
    assert response.status_code == 200
    assert {t["key"]: t["retention_days"] for t in response.json()}["security"] == 1095
