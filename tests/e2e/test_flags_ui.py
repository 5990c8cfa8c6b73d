"""The feature flag pages in headless Chromium: state per environment and tenant, toggles,
the reason that production changes need, and the history from the evidence ledger."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from leitstand.testing import ServerProcess, artifacts_dir, free_port

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NORD, WEST = "example-makler-nord", "example-vorsorge-west"


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
    process = ServerProcess(home=tmp_path / ".leitstand", port=free_port())
    try:
        process.wait_ready()
        token = process.token()
        assert token is not None
        response = httpx.post(
            f"{process.url}/api/v1/flags",
            json={"key": "new-billing", "type": "release", "description": "Neue Abrechnung"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert response.status_code == 201, response.text
        yield process
    finally:
        process.stop()


def _sign_in(page: Page, server: ServerProcess) -> None:
    token = server.token()
    assert token is not None
    page.goto(f"{server.url}/flags")
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/flags")


def _state(page: Page, env: str) -> str | None:
    return page.locator(f"[data-flag=new-billing] [data-env={env}] .status").get_attribute(
        "data-state"
    )


def test_flags_page_toggles_per_environment_and_production_needs_a_reason(
    browser: Browser, server: ServerProcess
) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    _sign_in(page, server)
    assert page.locator("h1").inner_text().startswith("Feature-Flags")
    assert _state(page, "staging") == "off"
    assert _state(page, "production") == "off"

    # Staging: one click, no reason.
    page.click("[data-testid=toggle-new-billing-staging] button")
    page.wait_for_url(f"{server.url}/flags")
    assert _state(page, "staging") == "on"

    # Production: the reason field is required; the browser does not submit without it.
    production = page.locator("[data-testid=toggle-new-billing-production]")
    production.locator("button").click()
    assert _state(page, "production") == "off"
    production.locator("input[name=reason]").fill("Freigabe CHG-42 für Pilot")
    production.locator("button").click()
    page.wait_for_url(f"{server.url}/flags")
    assert _state(page, "production") == "on"
    page.screenshot(path=str(artifacts_dir() / "flags-list-de.png"), full_page=True)

    # Per tenant: activate one broker house in production on the detail page.
    page.click("a[href='/flags/new-billing']")
    page.wait_for_url(f"{server.url}/flags/new-billing")
    row = page.locator(f"[data-testid=tenants-production] tr[data-tenant={NORD}]")
    state = row.locator(".tenant-state")
    assert (state.inner_text(), state.get_attribute("data-state")) == ("aus", "off")
    row.locator("input[name=reason]").fill("Pilot Makler Nord")
    row.locator("button").click()
    page.wait_for_url(f"{server.url}/flags/new-billing")
    row = page.locator(f"[data-testid=tenants-production] tr[data-tenant={NORD}]")
    state = row.locator(".tenant-state")
    assert (state.inner_text(), state.get_attribute("data-state")) == ("an", "on")
    west = page.locator(f"[data-testid=tenants-production] tr[data-tenant={WEST}]")
    assert west.locator(".tenant-state").inner_text() == "aus"

    history = page.locator("[data-testid=history] tbody tr")
    first = history.first.locator("td").all_inner_texts()
    assert first[2] == "flag.tenants_changed"
    assert first[4] == NORD
    assert first[5] == "Pilot Makler Nord"
    actions = page.locator("[data-testid=history] tbody td code").all_inner_texts()
    assert actions == ["flag.tenants_changed", "flag.enabled", "flag.enabled", "flag.created"]
    page.screenshot(path=str(artifacts_dir() / "flags-detail-de.png"), full_page=True)

    page.click("[data-testid=lang-switch]")
    page.wait_for_load_state()
    assert page.locator("h2").first.inner_text() == "Environment: development"
    page.close()


def test_an_auditor_sees_flags_but_no_switches(browser: Browser, server: ServerProcess) -> None:
    token = server.token()
    response = httpx.post(
        f"{server.url}/api/v1/users",
        json={"name": "audrey", "role": "auditor"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    auditor = response.json()["token"]
    page = browser.new_page()
    page.goto(f"{server.url}/flags")
    page.fill("#token", auditor)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/flags")
    assert page.locator("[data-flag=new-billing]").count() == 1
    assert page.locator("form.switch").count() == 0
    page.close()
