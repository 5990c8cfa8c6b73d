"""The alert intake over HTTP: authentication, bad input, nothing partial; ack and on-call."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from leitstand.auth.model import Role
from leitstand.bootstrap import Container

URL = "/api/v1/alerts/alertmanager"


def _alert(fingerprint: str, **labels: str) -> dict[str, Any]:
    return {
        "status": "firing",
        "labels": {"alertname": "Http5xxRate", "severity": "critical", **labels},
        "annotations": {"summary": "5xx over 5%"},
        "startsAt": "2026-11-27T08:59:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://127.0.0.1:9090/graph",
        "fingerprint": fingerprint,
    }


def _payload(*alerts: dict[str, Any], version: str = "4") -> dict[str, Any]:
    return {
        "version": version,
        "status": "firing",
        "receiver": "leitstand-critical",
        "groupKey": "{}:{}",
        "truncatedAlerts": 0,
        "alerts": list(alerts),
    }


def test_alertmanager_posts_are_stored_deduplicated_and_acknowledgeable(
    client: TestClient, headers: dict[Role, dict[str, str]], container: Container
) -> None:
    body = _payload(_alert("f1", service="portal"), _alert("f2", service="api"), _alert("f1"))
    answer = client.post(URL, json=body, headers=headers[Role.ONCALL])
    assert answer.status_code == 200, answer.text
    assert answer.json() | {"alerts": None} == {
        "received": 3,
        "new": 2,
        "duplicates": 1,
        "resolved": 0,
        "ignored": 0,
        "alerts": None,
    }
    listed = client.get("/api/v1/alerts", headers=headers[Role.AUDITOR]).json()
    assert sorted(a["fingerprint"] for a in listed) == ["f1", "f2"]
    first = next(a for a in listed if a["fingerprint"] == "f1")
    assert (first["level"], first["occurrences"]) == (2, 2)
    acked = client.post(
        f"/api/v1/alerts/{first['id']}/ack", json={"note": "on it"}, headers=headers[Role.ONCALL]
    )
    assert acked.status_code == 200, acked.text
    assert acked.json()["escalation"]["state"] == "acknowledged"
    again = client.post(f"/api/v1/alerts/{first['id']}/ack", headers=headers[Role.DEVOPS])
    assert again.status_code == 409
    denied = client.post(f"/api/v1/alerts/{first['id']}/ack", headers=headers[Role.AUDITOR])
    assert denied.status_code == 403
    assert client.get("/api/v1/incidents", headers=headers[Role.MANAGEMENT]).json() == []
    oncall = client.get("/api/v1/oncall", headers=headers[Role.DEVOPS]).json()
    assert [s["level"] for s in oncall["critical_chain"]] == [2, 3]


def test_a_wrong_or_missing_token_answers_401_and_a_reader_role_403(
    client: TestClient, headers: dict[Role, dict[str, str]]
) -> None:
    body = _payload(_alert("f1"))
    assert client.post(URL, json=body).status_code == 401
    wrong = client.post(URL, json=body, headers={"Authorization": "Bearer lst_wrong"})
    assert wrong.status_code == 401
    assert client.post(URL, json=body, headers=headers[Role.DEVELOPER]).status_code == 403
    assert client.get("/api/v1/alerts", headers=headers[Role.DEVOPS]).json() == []


def test_bad_payloads_answer_4xx_naming_the_field_and_store_nothing(
    client: TestClient, headers: dict[Role, dict[str, str]], container: Container
) -> None:
    auth = headers[Role.ONCALL]
    cases = [
        (_payload(_alert("f1"), version="3"), 422, "version"),
        ({"version": "4", "status": "firing"}, 422, "alerts"),
        (
            _payload(_alert("f1"), {**_alert("f2"), "startsAt": "yesterday"}),
            422,
            "alerts.1.startsAt",
        ),
        (
            _payload({k: v for k, v in _alert("f3").items() if k != "fingerprint"}),
            422,
            "fingerprint",
        ),
        (
            _payload(_alert("f1"), {**_alert("f4"), "labels": {"severity": "critical"}}),
            422,
            "alertname",
        ),
    ]
    for body, status, where in cases:
        answer = client.post(URL, json=body, headers=auth)
        assert answer.status_code == status, (body, answer.text)
        assert where in answer.json()["error"], answer.json()
    not_json = client.post(
        URL, content=b"{not json", headers={**auth, "Content-Type": "application/json"}
    )
    assert not_json.status_code == 422
    # Over api.limits.body_bytes.alert_intake (10 MiB by default).
    huge = json.dumps(_payload(*[_alert(f"x{i}", pad="p" * 5000) for i in range(2100)]))
    too_big = client.post(
        URL, content=huge.encode(), headers={**auth, "Content-Type": "application/json"}
    )
    assert too_big.status_code == 413
    assert "at most" in too_big.json()["error"]
    assert client.get("/api/v1/alerts?status=all", headers=auth).json() == []
    with container.db.reader() as session:
        actions = [e.action for e in container.ledger.entries(session)]
    assert "alert.fired" not in actions
