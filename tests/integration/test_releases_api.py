"""The release and change APIs and pages: roles, the production approval over HTTP, the
Änderungsprotokoll export, and the release page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from leitstand.auth.model import Role
from leitstand.bootstrap import Container, build
from leitstand.images.service import ImageService
from leitstand.policy.gates import ImageSigning
from leitstand.policy.loader import load_policy_text
from leitstand.settings import Settings
from leitstand.testing import ManualClock
from leitstand.testing.web import sign_in
from support.gate_runs import record_gate_run, release_digest

CHANGE = {
    "service": "enterprise-api",
    "version": "2.4.0",
    "category": "normal",
    "what": "new endpoint",
    "why": "broker request",
    "rollback": "redeploy 2.3.9",
    "tests": "unit, e2e",
}


@pytest.fixture
def container(settings: Settings, clock: ManualClock, tmp_path: Path) -> Iterator[Container]:
    out = str(tmp_path / "k8s")
    target = {
        "start": {"kind": "kubernetes", "image": "registry.example/{service}", "output_dir": out},
        "environments": {
            env: {
                "router": {"kind": "kubernetes", "service": "enterprise-api", "output_dir": out},
                "instances": {"blue": {"port": 8081}, "green": {"port": 8082}},
            }
            for env in ("staging", "production")
        },
    }
    # Changes, approvals and gates over HTTP; signed images are required by default and have
    # their own test below (the policy of the service is switched to require them).
    policy = load_policy_text(
        yaml.safe_dump(
            {
                "deployment": {"releases": {"enterprise-api": target}},
                "gates": {"containers": {"signing": {"required": False}}},
            }
        )
    )
    c = build(settings, clock=clock, migrate=True, policy=policy)
    try:
        yield c
    finally:
        c.close()


def test_a_production_release_over_http_needs_the_change_and_another_persons_approval(
    client: TestClient, headers: dict[Role, dict[str, str]], container: Container
) -> None:
    release = {"service": "enterprise-api", "version": "2.4.0", "env": "production"}
    refused = client.post("/api/v1/releases", json=release, headers=headers[Role.DEVOPS])
    assert refused.status_code == 409 and "approved change record" in refused.json()["error"]
    change = client.post("/api/v1/changes", json=CHANGE, headers=headers[Role.DEVELOPER]).json()
    client.post(
        f"/api/v1/changes/{change['id']}/approve", json={}, headers=headers[Role.COMPLIANCE_OFFICER]
    )
    digest = record_gate_run(container, service="enterprise-api", version="2.4.0")
    started = client.post(
        "/api/v1/releases",
        json={**release, "strategy": "canary", "artifact_digest": digest},
        headers=headers[Role.DEVOPS],
    )
    assert started.status_code == 201, started.text
    body = started.json()
    assert body["phase"] == "awaiting_approval" and body["change_id"] == change["id"]
    assert body["strategy"] == "canary"
    rid = body["id"]
    own = client.post(f"/api/v1/releases/{rid}/approve", json={}, headers=headers[Role.DEVOPS])
    assert own.status_code == 403 and "four-eyes" in own.json()["error"]
    auditor = client.post(f"/api/v1/releases/{rid}/approve", json={}, headers=headers[Role.AUDITOR])
    assert auditor.status_code == 403
    approved = client.post(
        f"/api/v1/releases/{rid}/approve", json={"comment": "ok"},
        headers=headers[Role.COMPLIANCE_OFFICER],
    )  # fmt: skip
    assert approved.status_code == 200 and approved.json()["phase"] == "starting"
    shown = client.get(f"/api/v1/releases/{rid}", headers=headers[Role.AUDITOR]).json()
    assert [e["action"] for e in shown["timeline"]] == ["release.started", "release.approved"]
    services = client.get("/api/v1/releases/services", headers=headers[Role.QA]).json()
    production = next(s for s in services if s["env"] == "production")
    assert production["release_id"] == rid
    history = client.get("/api/v1/releases?env=production", headers=headers[Role.AUDITOR]).json()
    assert [r["id"] for r in history] == [rid]


def test_bad_release_requests_name_the_field(
    client: TestClient, headers: dict[Role, dict[str, str]]
) -> None:
    unknown = client.post(
        "/api/v1/releases",
        json={"service": "billing", "version": "1", "env": "staging"},
        headers=headers[Role.DEVOPS],
    )
    assert unknown.status_code == 422 and "unknown service 'billing'" in unknown.json()["error"]
    missing = client.post(
        "/api/v1/releases", json={"service": "enterprise-api"}, headers=headers[Role.DEVOPS]
    )
    assert missing.status_code == 422
    assert {i["path"] for i in missing.json()["issues"]} == {"version", "env"}
    nothing = client.post(
        "/api/v1/releases/rollback",
        json={"service": "enterprise-api", "env": "staging", "reason": "x"},
        headers=headers[Role.DEVOPS],
    )
    assert nothing.status_code == 409 and "never been released" in nothing.json()["error"]


def test_the_change_log_is_exported_as_markdown_and_csv(
    client: TestClient, headers: dict[Role, dict[str, str]]
) -> None:
    change = client.post("/api/v1/changes", json=CHANGE, headers=headers[Role.DEVELOPER]).json()
    client.post(
        f"/api/v1/changes/{change['id']}/approve", json={}, headers=headers[Role.COMPLIANCE_OFFICER]
    )
    rows = client.get("/api/v1/changes/log", headers=headers[Role.AUDITOR]).json()
    assert [r["action"] for r in rows] == ["change.opened", "change.approved"]
    md = client.get("/api/v1/changes/log?format=md", headers=headers[Role.AUDITOR])
    assert md.headers["content-type"].startswith("text/markdown")
    assert 'filename="aenderungsprotokoll.md"' in md.headers["content-disposition"]
    assert md.text.startswith("# Änderungsprotokoll") and "u-compliance_officer" in md.text
    csv = client.get("/api/v1/changes/log?format=csv&lang=en", headers=headers[Role.AUDITOR])
    assert csv.text.splitlines()[0].startswith("ledger_index,time,change_id,service")
    bad = client.get("/api/v1/changes/log?format=pdf", headers=headers[Role.AUDITOR])
    assert bad.status_code == 422 and "format" in bad.json()["issues"][0]["path"]
    refused = client.get("/api/v1/changes/log", headers={"Authorization": "Bearer nope"})
    assert refused.status_code == 401


def test_the_release_and_change_pages_show_versions_weights_and_the_log(
    client: TestClient,
    tokens: dict[Role, str],
    headers: dict[Role, dict[str, str]],
    container: Container,
) -> None:
    change = client.post("/api/v1/changes", json=CHANGE, headers=headers[Role.DEVELOPER]).json()
    digest = record_gate_run(container, service="enterprise-api", version="2.4.0")
    client.post(
        "/api/v1/releases",
        json={
            "service": "enterprise-api",
            "version": "2.4.0",
            "env": "staging",
            "artifact_digest": digest,
        },
        headers=headers[Role.DEVOPS],
    )
    sign_in(client, tokens[Role.COMPLIANCE_OFFICER])
    page = client.get("/releases")
    assert page.status_code == 200
    assert 'data-service="enterprise-api" data-env="staging"' in page.text
    assert "starting" in page.text and 'data-slot="blue"' in page.text
    changes = client.get("/changes")
    assert changes.status_code == 200 and f'data-change="{change["id"]}"' in changes.text
    assert 'data-action="change.opened"' in changes.text
    pending = client.get(f"/changes/{change['id']}")
    assert 'data-testid="reject"' in pending.text  # reject next to approve
    approved = client.post(
        f"/changes/{change['id']}/decide", data={"approve": "true"}, follow_redirects=False
    )
    assert approved.status_code == 303
    detail = client.get(f"/changes/{change['id']}")
    assert 'data-testid="status" data-status="approved">genehmigt<' in detail.text
    export = client.get("/changes/log.csv")
    assert export.status_code == 200 and "change.approved" in export.text


def test_a_production_release_is_approved_on_the_release_page(
    client: TestClient,
    tokens: dict[Role, str],
    headers: dict[Role, dict[str, str]],
    container: Container,
) -> None:
    change = client.post("/api/v1/changes", json=CHANGE, headers=headers[Role.DEVELOPER]).json()
    client.post(
        f"/api/v1/changes/{change['id']}/approve", json={}, headers=headers[Role.COMPLIANCE_OFFICER]
    )
    digest = record_gate_run(container, service="enterprise-api", version="2.4.0")
    started = client.post(
        "/api/v1/releases",
        json={
            "service": "enterprise-api",
            "version": "2.4.0",
            "env": "production",
            "artifact_digest": digest,
        },
        headers=headers[Role.DEVOPS],
    ).json()
    sign_in(client, tokens[Role.COMPLIANCE_OFFICER])
    page = client.get("/releases")
    assert f'data-testid="approve-{started["id"]}"' in page.text
    answer = client.post(f"/releases/{started['id']}/approve", follow_redirects=False)
    assert answer.status_code == 303
    shown = client.get(f"/api/v1/releases/{started['id']}", headers=headers[Role.AUDITOR]).json()
    assert shown["phase"] == "starting" and shown["approved_by"] == "u-compliance_officer"


def test_a_forged_gate_run_does_not_admit_a_production_release_over_http(
    client: TestClient, headers: dict[Role, dict[str, str]], container: Container
) -> None:
    change = client.post(
        "/api/v1/changes", json={**CHANGE, "category": "standard"}, headers=headers[Role.DEVELOPER]
    ).json()
    digest = "sha256:" + "1" * 64
    release = {"service": "enterprise-api", "version": "2.4.0", "env": "production"}
    undigested = client.post("/api/v1/releases", json=release, headers=headers[Role.DEVOPS])
    assert undigested.status_code == 422
    assert "--artifact-digest" in undigested.json()["error"]
    release["artifact_digest"] = digest
    refused = client.post("/api/v1/releases", json=release, headers=headers[Role.DEVOPS])
    assert refused.status_code == 409
    assert "not run: build, test, security, compliance" in refused.json()["error"]
    for role in (Role.ONCALL, Role.SECURITY, Role.COMPLIANCE_OFFICER):
        forged = client.post(
            "/api/v1/audit/entries",
            json={
                "action": "gate.run",
                "subject": "project:enterprise-api@2.4.0",
                "payload": {"change_id": change["id"], "status": "pass", "digest": digest},
            },
            headers=headers[role],
        )
        assert forged.status_code == 422 and "'gate.*' is a reserved" in forged.json()["error"]
    again = client.post("/api/v1/releases", json=release, headers=headers[Role.DEVOPS])
    assert again.status_code == 409
    # A compliance-only run recorded by the gate itself does not admit production either.
    record_gate_run(
        container, service="enterprise-api", version="2.4.0", stages=["compliance"], digest=digest
    )
    partial = client.post("/api/v1/releases", json=release, headers=headers[Role.DEVOPS])
    assert partial.status_code == 409
    assert "not run: build, test, security (" in partial.json()["error"]
    record_gate_run(container, service="enterprise-api", version="2.4.0", digest=digest)
    other = client.post(
        "/api/v1/releases",
        json={**release, "artifact_digest": "sha256:" + "2" * 64},
        headers=headers[Role.DEVOPS],
    )
    assert other.status_code == 409
    admitted = client.post("/api/v1/releases", json=release, headers=headers[Role.DEVOPS])
    assert admitted.status_code == 201, admitted.text


def test_a_production_release_of_an_unsigned_image_is_refused_over_http(
    client: TestClient, headers: dict[Role, dict[str, str]], container: Container
) -> None:
    images = container.get(ImageService)
    images.policy = images.policy.model_copy(
        update={
            "gates": images.policy.gates.model_copy(
                update={
                    "containers": images.policy.gates.containers.model_copy(
                        update={"signing": ImageSigning()}  # the default: required
                    )
                }
            )
        }
    )
    change = client.post(
        "/api/v1/changes", json={**CHANGE, "category": "standard"}, headers=headers[Role.DEVELOPER]
    ).json()
    assert change["id"]
    release = {"service": "enterprise-api", "version": "2.4.0", "env": "production"}
    unsigned = record_gate_run(container, service="enterprise-api", version="2.4.0")
    refused = client.post(
        "/api/v1/releases",
        json={**release, "artifact_digest": unsigned},
        headers=headers[Role.DEVOPS],
    )
    assert refused.status_code == 409, refused.text
    assert "is unsigned" in refused.json()["error"]
    signed = release_digest(container, service="enterprise-api", version="2.4.0", sign=True)
    admitted = client.post(
        "/api/v1/releases",
        json={**release, "artifact_digest": signed},
        headers=headers[Role.DEVOPS],
    )
    assert admitted.status_code == 201, admitted.text
