"""The incident pages in headless Chromium: list, detail with timeline, phase and countdowns."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, sync_playwright

from leitstand.testing import ServerProcess, artifacts_dir, free_port

from .test_overview_ui import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed: run the test command (scripts/test)")
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(
        home=tmp_path / ".leitstand", port=free_port(), env={"LEITSTAND_MANAGED_STACK": "off"}
    )
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


FACTS = {
    "critical_services_affected": True,
    "malicious_unauthorised_access": False,
    "clients_affected": 200,
    "clients_total": 1000,
    "financial_counterparts_affected_pct": 0,
    "transactions_number_affected_pct": 0,
    "transactions_value_affected_pct": 0,
    "relevant_clients_affected": False,
    "reputational_impact": ["complaints"],
    "duration_hours": 1,
    "critical_function_downtime_hours": 0,
    "member_states_affected": ["DE"],
    "data_loss": {
        "availability": False,
        "authenticity": False,
        "integrity": False,
        "confidentiality": False,
    },
    "economic_impact_eur": 0,
}


def test_incident_pages_show_timeline_phase_and_counting_down_deadlines(
    browser: Browser, server: ServerProcess
) -> None:
    token = server.token()
    assert token is not None
    auth = {"Authorization": f"Bearer {token}"}
    api = f"{server.url}/api/v1/incidents"
    body = {
        "title": "API-Sync ausgefallen",
        "severity": "SEV-2",
        "systems": ["enterprise-api"],
        "tenants": ["example-makler-nord"],
        "personal_data_affected": True,
    }
    created = httpx.post(api, json=body, headers=auth, timeout=10)
    assert created.status_code == 201, created.text
    iid = created.json()["id"]
    for call in (
        httpx.post(f"{api}/{iid}/phase", json={"phase": "containment"}, headers=auth, timeout=10),
        httpx.post(
            f"{api}/{iid}/notes", json={"text": "Sync-Job gestoppt"}, headers=auth, timeout=10
        ),
        httpx.put(f"{api}/{iid}/dora/example-makler-nord", json=FACTS, headers=auth, timeout=10),
    ):
        assert call.status_code < 300, call.text
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(f"{server.url}/incidents")
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/incidents")
    row = page.locator(f"tr[data-incident='{iid}']")
    assert row.locator("[data-testid=severity]").inner_text() == "SEV-2"
    assert row.locator("[data-testid=phase]").inner_text() == "Eindämmung"
    page.screenshot(path=str(artifacts_dir() / "incidents-de.png"), full_page=True)
    row.locator("[data-testid=incident-link]").click()
    page.wait_for_url(f"{server.url}/incidents/{iid}")
    assert page.locator("[data-testid=incident-id]").inner_text().startswith(iid)
    current = page.locator("[data-testid=phases] li[aria-current=step]")
    assert current.inner_text() == "Eindämmung"
    assert page.locator("[data-testid=phases] li[data-state=done]").count() == 1
    timeline = page.locator("[data-testid=timeline]").inner_text()
    assert "Incident eröffnet (SEV-2)" in timeline and "Notiz: Sync-Job gestoppt" in timeline
    initial = page.locator("tr[data-clock=dora_initial] [data-testid=countdown]")
    first = initial.inner_text()
    # hh:mm:ss, with days in front when the weekend rule moved it to Monday noon
    assert re.fullmatch(r"(\d+d )?\d\d:\d\d:\d\d", first), first
    page.wait_for_timeout(2100)
    assert initial.inner_text() != first  # it counts down in the browser
    assert (
        page.locator("tr[data-clock=gdpr] [data-testid=countdown]").inner_text().startswith("2d ")
    )
    assert page.locator("[data-testid=dora] [data-testid=major]").inner_text() == "schwerwiegend"
    page.screenshot(path=str(artifacts_dir() / "incident-detail-de.png"), full_page=True)
    page.goto(f"{server.url}/incidents/{iid}?lang=en")
    assert "Open deadlines" in page.locator("main").inner_text()
    assert page.locator("tr[data-clock=dora_initial]").inner_text().startswith("DORA initial")
    page.close()
