"""The alerts page in headless Chromium: level, age, acknowledgement, and the button."""

from __future__ import annotations

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


def _alert(fingerprint: str, severity: str, service: str) -> dict[str, object]:
    return {
        "status": "firing",
        "labels": {"alertname": "Http5xxRate", "severity": severity, "service": service},
        "annotations": {"summary": f"5xx rate high on {service}"},
        "startsAt": "2026-11-27T08:59:00Z",
        "fingerprint": fingerprint,
    }


def test_alerts_page_lists_firing_alerts_and_acknowledges_one(
    browser: Browser, server: ServerProcess
) -> None:
    token = server.token()
    assert token is not None
    body = {
        "version": "4",
        "status": "firing",
        "alerts": [_alert("c1", "critical", "portal"), _alert("w1", "warning", "api")],
    }
    posted = httpx.post(
        f"{server.url}/api/v1/alerts/alertmanager",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert posted.status_code == 200, posted.text
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{server.url}/alerts")
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/alerts")
    assert page.locator("h1").inner_text().startswith("Aktive Alarme")
    rows = page.locator("[data-testid=alerts] tbody tr")
    assert rows.count() == 2
    critical = page.locator("tr[data-level='2']")
    assert critical.locator("[data-testid=level]").inner_text() == "2"
    assert critical.locator("[data-testid=ack]").inner_text().startswith("offen")
    assert critical.locator("[data-testid=age]").inner_text().endswith(("s", "min"))
    page.screenshot(path=str(artifacts_dir() / "alerts-de.png"), full_page=True)
    critical.locator("[data-testid=ack-button]").click()
    page.wait_for_url(f"{server.url}/alerts")
    acked = page.locator("tr[data-level='2'] [data-testid=ack]").inner_text()
    assert acked.startswith("admin")
    assert page.locator("tr[data-level='2'] [data-testid=ack-button]").count() == 0
    assert page.locator("tr[data-level='1'] [data-testid=ack-button]").count() == 1
    page.close()
