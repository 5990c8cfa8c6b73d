"""Journey 3 over the API: alert -> level 3 -> SEV-1 incident -> phases -> DORA per tenant ->
deadlines -> post-mortem with action items; and bad input answered with the field path."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from leitstand.auth.model import Role
from leitstand.bootstrap import Container
from leitstand.testing import ManualClock

PORTAL = "smart-bav-portal"
TENANTS = ["example-makler-nord", "example-makler-sued", "example-vorsorge-west"]
H = dict[Role, dict[str, str]]


def _facts(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "critical_services_affected": True,
        "malicious_unauthorised_access": False,
        "clients_affected": 250,
        "clients_total": 1000,
        "financial_counterparts_affected_pct": 0,
        "transactions_number_affected_pct": 0,
        "transactions_value_affected_pct": 0,
        "relevant_clients_affected": False,
        "reputational_impact": [],
        "duration_hours": 3,
        "critical_function_downtime_hours": 2.5,
        "member_states_affected": ["DE"],
        "data_loss": {
            "availability": False,
            "authenticity": False,
            "integrity": False,
            "confidentiality": True,
        },
        "economic_impact_eur": 0,
    }
    return {**base, **overrides}


def _pump(container: Container, clock: ManualClock, **delta: float) -> None:
    clock.advance(timedelta(**delta))
    for _ in range(5):
        if not container.scheduler.run_due(limit=500):
            break
        container.scheduler.leases.drain(timeout=30)


def test_night_incident_from_alert_to_post_mortem(
    client: TestClient, headers: H, container: Container, clock: ManualClock
) -> None:
    devops, oncall, co = (
        headers[Role.DEVOPS],
        headers[Role.ONCALL],
        headers[Role.COMPLIANCE_OFFICER],
    )
    # 1. Prometheus fires HighErrorRate critical for the portal; nobody acknowledges.
    am = {
        "version": "4",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "HighErrorRate", "severity": "critical", "service": PORTAL},
                "annotations": {"summary": "5xx rate over 5%"},
                "startsAt": "2026-11-27T08:59:00Z",
                "fingerprint": "journey3",
            }
        ],
    }
    assert client.post("/api/v1/alerts/alertmanager", json=am, headers=devops).status_code == 200
    _pump(container, clock, seconds=1)
    _pump(container, clock, minutes=15, seconds=1)
    # 2. Level 3 opened a SEV-1 incident with the alert on its timeline.
    [incident] = client.get("/api/v1/incidents", headers=devops).json()
    iid = incident["id"]
    assert (incident["severity"], incident["source"], incident["phase"]) == (
        "SEV-1",
        "alert",
        "detection",
    )
    timeline = client.get(f"/api/v1/incidents/{iid}/timeline", headers=devops).json()
    assert timeline[0]["action"] == "alert.fired" and "HighErrorRate" in timeline[0]["text"]
    informed = [e for e in timeline if e["action"] == "incident.informed"]
    assert "management" in informed[0]["text"]
    # 3. The commander takes it, names the tenants, contains (flag off), analyses, remediates.
    assert client.post(f"/api/v1/incidents/{iid}/acknowledge", headers=oncall).status_code == 200
    patch = {
        "tenants": TENANTS,
        "scribe": "eva",
        "communication": "mario",
        "personal_data_affected": True,
    }
    assert client.patch(f"/api/v1/incidents/{iid}", json=patch, headers=oncall).status_code == 200
    skipped = client.post(
        f"/api/v1/incidents/{iid}/phase", json={"phase": "remediation"}, headers=oncall
    )
    assert skipped.status_code == 409 and "next phase is containment" in skipped.json()["error"]
    for phase in ("containment", "analysis"):
        _pump(container, clock, minutes=10)
        moved = client.post(f"/api/v1/incidents/{iid}/phase", json={"phase": phase}, headers=oncall)
        assert moved.status_code == 200, moved.text
    note = client.post(
        f"/api/v1/incidents/{iid}/notes", json={"text": "Flag new-portal aus"}, headers=oncall
    )
    assert note.status_code == 201
    # 4. DORA per broker house: major for two (with the GDPR clock), not for the third.
    for tenant in TENANTS[:2]:
        put = client.put(f"/api/v1/incidents/{iid}/dora/{tenant}", json=_facts(), headers=co)
        assert put.status_code == 200 and put.json()["major"] is True, put.text
    minor = _facts(
        clients_affected=5,
        critical_function_downtime_hours=0.5,
        data_loss=_facts()["data_loss"] | {"confidentiality": False},
    )
    put = client.put(f"/api/v1/incidents/{iid}/dora/{TENANTS[2]}", json=minor, headers=co)
    assert put.json()["major"] is False
    assert "Nicht schwerwiegend" in put.json()["reasons"][-1]
    detail = client.get(f"/api/v1/incidents/{iid}/detail", headers=co).json()
    open_clocks = {(d["clock"], d["tenant"]) for d in detail["deadlines"] if d["open"]}
    assert {
        ("dora_initial", TENANTS[0]),
        ("dora_initial", TENANTS[1]),
        ("gdpr", None),
    } <= open_clocks
    assert ("dora_initial", TENANTS[2]) not in open_clocks
    initial = next(d for d in detail["deadlines"] if d["clock"] == "dora_initial")
    assert initial["seconds_left"] == 4 * 3600
    draft = client.get(
        f"/api/v1/incidents/{iid}/dora/{TENANTS[0]}/reports/initial",
        params={"format": "markdown"},
        headers=co,
    )
    assert draft.status_code == 200 and "# DORA-Erstmeldung" in draft.text
    assert "| 2.3 | Datum und Uhrzeit der Einstufung des IKT-bezogenen Vorfalls als" in draft.text
    assert "Durchführungsverordnung (EU) 2025/302" in draft.text
    submitted = client.post(
        f"/api/v1/incidents/{iid}/dora/{TENANTS[0]}/reports/initial/submit",
        json={"reference": "BaFin-4711"},
        headers=co,
    )
    assert submitted.status_code == 201, submitted.text
    assert client.post(f"/api/v1/incidents/{iid}/gdpr/notified", headers=co).status_code == 200
    # 5. Remediation, follow-up, action items and the post-mortem from the timeline.
    for phase in ("remediation", "follow_up"):
        _pump(container, clock, minutes=20)
        assert (
            client.post(
                f"/api/v1/incidents/{iid}/phase", json={"phase": phase}, headers=oncall
            ).status_code
            == 200
        )
    item = {"title": "Alert-Schwelle für 5xx prüfen", "owner": "devops", "due_date": "2026-12-04"}
    assert (
        client.post(f"/api/v1/incidents/{iid}/actions", json=item, headers=oncall).status_code
        == 201
    )
    facts = {"root_cause": "Connection-Pool erschöpft", "impact": "Portal 50 min nicht erreichbar"}
    assert client.patch(f"/api/v1/incidents/{iid}", json=facts, headers=oncall).status_code == 200
    pm = client.post(f"/api/v1/incidents/{iid}/postmortem", headers=oncall).json()
    text = pm["markdown"]
    assert pm["complete"] is True
    assert text.startswith(f"## Post-Mortem – {iid}")
    assert "- **Severity:** SEV-1" in text and "- **Betroffene Mandanten:** 3" in text
    assert "Alarm HighErrorRate (kritisch): 5xx rate over 5%" in text
    assert "Notiz: Flag new-portal aus" in text
    assert "| 1 | Alert-Schwelle für 5xx prüfen | devops | 04.12.2026 | ⬜ |" in text
    assert "**DORA-meldepflichtig:** Ja (example-makler-nord, example-makler-sued)" in text
    assert "**DSGVO-meldepflichtig (Art. 33):** Ja" in text
    assert "Ohne Schuldzuweisung" in text
    pdf = client.post(
        f"/api/v1/incidents/{iid}/postmortem", params={"format": "pdf"}, headers=oncall
    )
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"
    page = client.post(
        f"/api/v1/incidents/{iid}/postmortem", params={"format": "html"}, headers=oncall
    )
    assert (
        page.headers["content-type"].startswith("text/html") and "<h3>Maßnahmen</h3>" in page.text
    )
    english = client.post(
        f"/api/v1/incidents/{iid}/postmortem", params={"lang": "en"}, headers=oncall
    )
    assert "**DORA reportable:** Yes" in english.json()["markdown"]
    closed = client.post(f"/api/v1/incidents/{iid}/close", headers=oncall)
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    order = [
        closed.json()[k]
        for k in ("detected_at", "acknowledged_at", "contained_at", "resolved_at", "closed_at")
    ]
    assert order == sorted(order)
    audit = client.get(
        "/api/v1/audit/entries",
        params={"action": "incident.*", "limit": 500},
        headers=headers[Role.AUDITOR],
    )
    assert audit.status_code == 200
    assert {
        "incident.opened",
        "incident.dora_assessed",
        "incident.report_submitted",
        "incident.closed",
    } <= {e["action"] for e in audit.json()}


def test_classify_answers_with_deadlines_and_stores_nothing(client: TestClient, headers: H) -> None:
    body = _facts(aware_at="2026-11-27T10:00:00+01:00", classified_at="2026-11-27T11:30:00+01:00")
    result = client.post(
        "/api/v1/incidents/classify", json=body, headers=headers[Role.COMPLIANCE_OFFICER]
    )
    assert result.status_code == 200, result.text
    data = result.json()
    assert set(data) == {"major", "criteria_met", "reasons", "deadlines"}
    assert data["major"] is True
    assert data["deadlines"] == {"initial_notification": "2026-11-27T14:30:00Z"}
    assert client.get("/api/v1/incidents", headers=headers[Role.DEVOPS]).json() == []


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"colour": "red"}, "colour"),
        ({"clients_affected": -1}, "clients_affected"),
        ({"aware_at": "2026-11-27T10:00:00"}, "aware_at"),
        ({"data_loss": {"availability": True}}, "data_loss.authenticity"),
        ({"member_states_affected": ["XX"]}, ""),
    ],
)
def test_bad_classification_input_is_422_with_the_field_path(
    client: TestClient, headers: H, change: dict[str, Any], path: str
) -> None:
    body = _facts(aware_at="2026-11-27T10:00:00+01:00", classified_at="2026-11-27T11:30:00+01:00")
    response = client.post(
        "/api/v1/incidents/classify", json=body | change, headers=headers[Role.COMPLIANCE_OFFICER]
    )
    assert response.status_code == 422
    paths = [i["path"] for i in response.json()["issues"]]
    assert any(p == path or (not path and "member_states" in response.text) for p in paths)


def test_opening_by_hand_validates_systems_and_tenants(client: TestClient, headers: H) -> None:
    bad = {"title": "x", "severity": "SEV-2", "tenants": ["nobody"]}
    response = client.post("/api/v1/incidents", json=bad, headers=headers[Role.DEVOPS])
    assert response.status_code == 422 and response.json()["issues"][0]["path"] == "tenants.0"
    wrong = client.post(
        "/api/v1/incidents", json={"title": "x", "severity": "SEV-9"}, headers=headers[Role.DEVOPS]
    )
    assert wrong.status_code == 422 and "SEV-1" in wrong.json()["error"]
    ok = client.post(
        "/api/v1/incidents", json={"title": "x", "severity": "SEV-4"}, headers=headers[Role.DEVOPS]
    )
    assert ok.status_code == 201
    assert (
        client.post(
            "/api/v1/incidents",
            json={"title": "x", "severity": "SEV-4"},
            headers=headers[Role.AUDITOR],
        ).status_code
        == 403
    )


@pytest.mark.tenant_isolation
def test_incident_list_filters_by_tenant(client: TestClient, headers: H) -> None:
    for tenant in TENANTS[:2]:
        body = {"title": f"only {tenant}", "severity": "SEV-3", "tenants": [tenant]}
        assert (
            client.post("/api/v1/incidents", json=body, headers=headers[Role.DEVOPS]).status_code
            == 201
        )
    listed = client.get(
        "/api/v1/incidents", params={"tenant": TENANTS[0]}, headers=headers[Role.DEVOPS]
    ).json()
    assert [i["tenants"] for i in listed] == [[TENANTS[0]]]


def test_the_commander_corrects_detection_and_awareness_with_a_reason(
    client: TestClient, headers: H, clock: ManualClock
) -> None:
    opened = client.post(
        "/api/v1/incidents",
        json={"title": "5xx", "severity": "SEV-1"},
        headers=headers[Role.DEVOPS],
    ).json()
    iid = opened["id"]
    assert client.post(
        f"/api/v1/incidents/{iid}/acknowledge", headers=headers[Role.DEVOPS]
    ).is_success
    # The API answers in UTC with "Z".
    detected = (clock.now() - timedelta(minutes=20)).isoformat().replace("+00:00", "Z")
    aware = (clock.now() - timedelta(minutes=12)).isoformat().replace("+00:00", "Z")
    body = {"detected_at": detected, "aware_at": aware, "reason": "Kunde meldete 5xx"}
    patched = client.patch(
        f"/api/v1/incidents/{iid}", json={"aware_at": aware}, headers=headers[Role.DEVOPS]
    )
    assert patched.status_code == 422 and patched.json()["issues"][0]["path"] == "aware_at"
    other = client.post(f"/api/v1/incidents/{iid}/times", json=body, headers=headers[Role.ONCALL])
    assert other.status_code == 409 and "incident commander" in other.json()["error"]
    no_reason = client.post(
        f"/api/v1/incidents/{iid}/times",
        json={"aware_at": aware},
        headers=headers[Role.DEVOPS],
    )
    assert no_reason.status_code == 422 and no_reason.json()["issues"][0]["path"] == "reason"
    backwards = client.post(
        f"/api/v1/incidents/{iid}/times",
        json={"detected_at": aware, "aware_at": detected, "reason": "x"},
        headers=headers[Role.DEVOPS],
    )
    assert backwards.status_code == 422
    assert (
        client.post(
            f"/api/v1/incidents/{iid}/times", json=body, headers=headers[Role.AUDITOR]
        ).status_code
        == 403
    )
    fixed = client.post(f"/api/v1/incidents/{iid}/times", json=body, headers=headers[Role.DEVOPS])
    assert fixed.status_code == 200, fixed.text
    assert (fixed.json()["detected_at"], fixed.json()["aware_at"]) == (detected, aware)
    timeline = client.get(f"/api/v1/incidents/{iid}/timeline", headers=headers[Role.AUDITOR])
    [entry] = [e for e in timeline.json() if e["action"] == "incident.times_corrected"]
    assert "Kunde meldete 5xx" in str(entry)


def test_a_duplicate_is_merged_into_the_surviving_incident(
    client: TestClient, headers: H, container: Container, clock: ManualClock
) -> None:
    devops = headers[Role.DEVOPS]
    ids = [
        client.post(
            "/api/v1/incidents",
            json={"title": "Portal 5xx", "severity": "SEV-1", "tenants": [tenant]},
            headers=devops,
        ).json()["id"]
        for tenant in TENANTS[:2]
    ]
    survivor, duplicate = ids
    body = {"into": survivor, "reason": "eine Alertmanager-Gruppe"}
    url = f"/api/v1/incidents/{duplicate}/merge"
    assert client.post(url, json=body, headers=headers[Role.AUDITOR]).status_code == 403
    itself = client.post(f"/api/v1/incidents/{survivor}/merge", json=body, headers=devops)
    assert itself.status_code == 409 and "itself" in itself.json()["error"]
    no_reason = client.post(url, json={"into": survivor}, headers=devops)
    assert no_reason.status_code == 422 and no_reason.json()["issues"][0]["path"] == "reason"
    bad_id = client.post(url, json={"into": "nope", "reason": "x"}, headers=devops)
    assert bad_id.status_code == 422 and bad_id.json()["issues"][0]["path"] == "into"
    merged = client.post(url, json=body, headers=devops)
    assert merged.status_code == 200, merged.text
    assert (merged.json()["status"], merged.json()["merged_into"]) == ("closed", survivor)
    again = client.post(url, json=body, headers=devops)
    assert again.status_code == 409 and "already merged" in again.json()["error"]
    alive = client.get(f"/api/v1/incidents/{survivor}", headers=devops).json()
    assert alive["tenants"] == TENANTS[:2]
    timeline = client.get(f"/api/v1/incidents/{survivor}/timeline", headers=devops).json()
    assert {"incident.opened", "incident.merged"} <= {
        e["action"] for e in timeline if e["subject"] == f"incident:{duplicate}"
    }
    # The duplicate's SEV-1 reaction time no longer pages.
    _pump(container, clock, hours=1)
    paged = [
        a
        for a in container.alerting.queries.alert_list(status=None)
        if a.labels.get("incident") == duplicate
    ]
    assert paged == []
