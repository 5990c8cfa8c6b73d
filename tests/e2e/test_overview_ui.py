"""The web UI shell in headless Chromium (Debian's chromium, driven by Playwright)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from leitstand.testing import ServerProcess, artifacts_dir, free_port

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without these, Chromium keeps dialling Google's hosts, which this closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


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
        yield process
    finally:
        process.stop()


def _sign_in(page: Page, server: ServerProcess) -> None:
    token = server.token()
    assert token is not None
    page.goto(f"{server.url}/")
    assert "/login" in page.url
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/")


def test_overview_shows_systems_tenants_and_a_verified_ledger(
    browser: Browser, server: ServerProcess
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 1100})
    _sign_in(page, server)
    assert page.locator("html").get_attribute("lang") == "de"
    assert page.locator("h1").inner_text() == "Übersicht"

    systems = page.locator("[data-testid=systems]")
    rows = systems.locator("tbody tr")
    assert rows.count() == 4
    portal = systems.locator("[data-system=smart-bav-portal] td").all_inner_texts()
    assert portal == ["smart!bAV Portal", "4 h", "1 h", "Kritisch"]
    api = systems.locator("[data-system=enterprise-api] td").all_inner_texts()
    assert api == ["Enterprise API", "2 h", "15 min", "Kritisch"]
    assert systems.locator("[data-system=batch-processing] td").all_inner_texts()[1:3] == [
        "8 h",
        "4 h",
    ]
    assert systems.locator("[data-system=internal-tools] td").all_inner_texts()[1:3] == [
        "24 h",
        "24 h",
    ]
    assert page.locator("[data-testid=tenants] li").count() >= 3

    objectives = page.locator("[data-testid=recovery-objectives] tr[data-system=enterprise-api]")
    assert objectives.locator("[data-field=rpo-now]").inner_text() == "keine Sicherung konfiguriert"
    assert objectives.locator("[data-field=rpo-target]").inner_text() == "15 min"
    assert objectives.locator("[data-field=rto-estimate]").inner_text() == "noch kein Drill"
    ro_status = objectives.locator("[data-field=status] .status")
    assert (ro_status.inner_text(), ro_status.get_attribute("data-status")) == (
        "unbekannt",
        "unknown",
    )
    assert page.locator("[data-testid=recovery-objectives-link]").get_attribute("href") == (
        "/backups"
    )

    status = page.locator("[data-testid=verification] .status")
    assert status.get_attribute("data-status") == "ok"
    assert status.inner_text() == "intakt"
    actions = page.locator("[data-testid=entries] tbody td code").all_inner_texts()
    assert "control_plane.started" in actions
    assert "auth.user.added" in actions

    page.click("text=Jetzt prüfen")
    page.wait_for_url(f"{server.url}/")
    assert page.locator("[data-testid=entries] tbody td code").first.inner_text() == (
        "ledger.verified"
    )
    page.screenshot(path=str(artifacts_dir() / "overview-de.png"), full_page=True)

    page.click("[data-testid=lang-switch]")
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Overview"
    assert page.locator("html").get_attribute("lang") == "en"
    assert systems.locator("[data-system=enterprise-api] td").all_inner_texts()[3] == "Critical"
    assert page.locator("#recovery-objectives-title").inner_text() == "Recovery objectives"
    assert (
        page.locator(
            "[data-testid=recovery-objectives] tr[data-system=enterprise-api] [data-field=status]"
        ).inner_text()
        == "unknown"
    )
    page.screenshot(path=str(artifacts_dir() / "overview-en.png"), full_page=True)
    page.close()


def test_a_wrong_token_is_refused_on_the_sign_in_page(
    browser: Browser, server: ServerProcess
) -> None:
    page = browser.new_page()
    page.goto(f"{server.url}/login")
    page.fill("#token", "lst_wrong")
    page.click("button[type=submit]")
    assert page.locator("[role=alert]").inner_text() == "Ungültiges oder gesperrtes Token."
    page.close()
