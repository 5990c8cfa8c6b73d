"""A flag switched through the API for a change appears in that change's log."""

from __future__ import annotations

from fastapi.testclient import TestClient

from leitstand.auth.model import Actor, Role
from leitstand.bootstrap import Container

NORD, SUED = "example-makler-nord", "example-makler-sued"
FIELDS = {"what": "w", "why": "y", "rollback": "r", "tests": "t"}


def test_a_switch_for_a_change_is_in_its_log_and_an_unknown_change_is_404(
    container: Container, client: TestClient, headers: dict[Role, dict[str, str]]
) -> None:
    change = container.changes.open(
        service="enterprise-api", version="2.4.0", category="normal", fields=FIELDS,
        actor=Actor(name="dana", role="developer"),
    )  # fmt: skip
    ops = headers[Role.DEVOPS]
    created = client.post("/api/v1/flags", json={"key": "nb", "type": "release"}, headers=ops)
    assert created.status_code == 201, created.text
    body = {"environment": "production", "add": [NORD, SUED], "reason": "pilot"}
    unknown = client.post("/api/v1/flags/nb/tenants", json=body | {"change_id": 999}, headers=ops)
    assert unknown.status_code == 404, unknown.text
    switched = client.post(
        "/api/v1/flags/nb/tenants",
        json=body | {"change_id": change.id},
        headers=headers[Role.ONCALL],
    )
    assert switched.status_code == 200, switched.text
    rows = container.changes.log(change_id=change.id)
    assert [(r.action, r.actor) for r in rows] == [
        ("change.opened", "dana"),
        ("flag.tenants_changed", "u-oncall"),
        ("flag.tenants_changed", "u-oncall"),
    ]
    assert [r.detail for r in rows[1:]] == [
        f"nb (production; Mandant {NORD}); Grund: pilot",
        f"nb (production; Mandant {SUED}); Grund: pilot",
    ]
