"""The incident page speaks the page's language: statuses, phases, criteria, action statuses
and times with their zone; deadlines per broker house count down live."""

from __future__ import annotations

import re
from datetime import date

from fastapi.testclient import TestClient

from leitstand.auth.model import Actor, Role
from leitstand.bootstrap import Container
from leitstand.incidents.schemas import AssessmentIn

OPS = Actor(name="anna", role="devops")
CO = Actor(name="clara", role="compliance_officer")
NORD = "example-makler-nord"


def test_incident_page_in_german_with_zones_and_countdowns(
    client: TestClient, headers: dict[Role, dict[str, str]], container: Container
) -> None:
    iid = container.incidents.create(
        title="Portal 5xx",
        severity="SEV-1",
        actor=OPS,
        details={"systems": ["smart-bav-portal"], "tenants": [NORD]},
    ).id
    facts = {
        "critical_services_affected": True,
        "malicious_unauthorised_access": False,
        "clients_affected": 300,
        "clients_total": 1000,
        "financial_counterparts_affected_pct": 0,
        "transactions_number_affected_pct": 0,
        "transactions_value_affected_pct": 0,
        "relevant_clients_affected": False,
        "reputational_impact": [],
        "duration_hours": 1,
        "critical_function_downtime_hours": 0,
        "member_states_affected": ["DE", "AT"],
        "data_loss": {
            "availability": False,
            "authenticity": False,
            "integrity": False,
            "confidentiality": False,
        },
        "economic_impact_eur": 0,
    }
    container.incident_reporting.assess(iid, NORD, AssessmentIn.model_validate(facts), actor=CO)
    container.incident_actions.add(
        iid, title="Schwelle prüfen", owner="devops", due_date=date(2027, 1, 8), actor=OPS
    )
    container.incident_actions.change(iid, 1, status="in_progress", actor=OPS)
    page = client.get(f"/incidents/{iid}", headers=headers[Role.DEVOPS]).text
    assert re.search(r'data-testid="status" data-status="open">offen<', page)
    assert re.search(r"Eröffnet \d\d\.\d\d\.\d{4}, \d\d:\d\d ME?S?Z", page)
    assert "Kunden, finanzielle Gegenparteien und Transaktionen (Art. 1)" in page
    assert "clients_counterparts_transactions" not in page.split('data-testid="dora"')[1]
    assert 'data-status="in_progress">in Bearbeitung' in page and "08.01.2027" in page
    assert re.search(rf'data-clock="dora_initial" data-tenant="{NORD}"', page)
    assert 'data-testid="countdown"' in page and "/static/countdown.js" in page
    listing = client.get("/incidents", headers=headers[Role.DEVOPS]).text
    assert 'data-status="open">offen<' in listing


def test_the_incident_page_closes_a_duplicate_with_its_form(
    client: TestClient, tokens: dict[Role, str], container: Container
) -> None:
    from leitstand.testing.web import sign_in

    survivor = container.incidents.create(title="Portal 5xx", severity="SEV-1", actor=OPS).id
    duplicate = container.incidents.create(title="Portal 5xx", severity="SEV-1", actor=OPS).id
    sign_in(client, tokens[Role.DEVOPS])
    page = client.get(f"/incidents/{duplicate}").text
    assert f'action="/incidents/{duplicate}/merge"' in page and "Als Duplikat schließen" in page
    refused = client.post(f"/incidents/{duplicate}/merge", data={"into": duplicate, "reason": "x"})
    assert refused.status_code == 409 and 'data-testid="error"' in refused.text
    merged = client.post(
        f"/incidents/{duplicate}/merge",
        data={"into": survivor, "reason": "eine Gruppe"},
        follow_redirects=False,
    )
    assert merged.status_code == 303 and merged.headers["location"] == f"/incidents/{survivor}"
    alive = client.get(f"/incidents/{survivor}").text
    assert f'href="/incidents/{duplicate}"' in alive.split('data-testid="duplicates"')[1]
    closed = client.get(f"/incidents/{duplicate}").text
    assert 'data-testid="merged-into"' in closed and "merge-form" not in closed
    assert container.incidents.get(duplicate).merged_into == survivor
