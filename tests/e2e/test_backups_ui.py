"""The Backup & Recovery page in headless Chromium: RPO/RTO per system, runs, drills."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from leitstand.backups.model import DrillKind
from leitstand.policy.render import render_policy
from leitstand.testing import ServerProcess, artifacts_dir, free_port
from support.backups_lab import ADMIN, LabSystem, backup_lab

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


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed: run the test command (scripts/test)")
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabSystem]:
    home = tmp_path_factory.mktemp("backups-ui") / ".leitstand"
    with backup_lab(home=home) as system:
        for row in ("database_full", "files"):
            assert system.backup(row).status == "succeeded"
        drill = system.container.drills.run(
            kind=DrillKind.FULL_RESTORE, system=system.system, actor=ADMIN
        )
        assert drill.status == "passed"
        system.archive_now()
        system.container.backup_monitor.measure(actor=ADMIN)
        yield system


@pytest.fixture(scope="module")
def server(lab: LabSystem, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    policy_file = tmp_path_factory.mktemp("policy") / "leitstand.yaml"
    policy_file.write_text(render_policy(lab.policy, "yaml"))
    process = ServerProcess(
        home=lab.container.settings.home,
        port=free_port(),
        env={"LEITSTAND_POLICY": str(policy_file)},
    )
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


def _sign_in(page: Page, server: ServerProcess) -> None:
    token = server.token()
    assert token is not None, server.stdout()
    page.goto(f"{server.url}/backups")
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/backups")


def test_the_page_shows_rpo_and_rto_per_system_with_runs_and_drills(
    browser: Browser, server: ServerProcess, lab: LabSystem
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 1400})
    _sign_in(page, server)
    assert page.locator("h1").inner_text() == "Backup & Recovery"
    rows = page.locator("[data-testid=objectives] tbody tr")
    assert rows.count() == 5
    mine = page.locator(f"[data-testid=objectives] tr[data-system={lab.system}]")
    assert mine.locator("[data-field=rpo-target]").inner_text() == "15 min"
    assert mine.locator("[data-field=rpo-status] .status").get_attribute("data-status") == "ok"
    assert mine.locator("[data-field=rpo-status]").inner_text() == "eingehalten"
    assert mine.locator("[data-field=rto-status] .status").get_attribute("data-status") == "ok"
    assert mine.locator("[data-field=rto-estimate]").inner_text().endswith(" s")
    api = page.locator("[data-testid=objectives] tr[data-system=enterprise-api]")
    assert api.locator("td").nth(0).inner_text() == "Enterprise API"
    assert api.locator("[data-field=rto-target]").inner_text() == "2 h"
    assert api.locator("[data-field=rpo-status]").inner_text() == "keine Sicherung konfiguriert"
    runs = page.locator("[data-testid=runs] tbody tr[data-status=succeeded]")
    assert runs.count() == 2
    assert runs.first.locator("[data-site]").all_inner_texts() == ["primary", "secondary"]
    drills = page.locator("[data-testid=drills] tbody tr")
    assert drills.first.get_attribute("data-status") == "passed"
    due = page.locator(f"[data-testid=due] tr[data-system={lab.system}]")
    assert due.count() == 5
    page.screenshot(path=str(artifacts_dir() / "backups-de.png"), full_page=True)

    page.click("[data-testid=drills] tbody tr >> text=Testprotokoll")
    page.wait_for_load_state()
    assert page.locator("[data-testid=drill-status]").get_attribute("data-status") == "passed"
    assert page.locator("[data-testid=drill-status]").inner_text() == "bestanden"
    protocol = page.locator("[data-testid=protocol]").inner_text()
    assert protocol.startswith("# Testprotokoll – Datenbank-Restore (Full)")
    assert "**BESTANDEN**" in protocol
    page.click("[data-testid=lang-switch]")
    page.wait_for_load_state()
    assert page.locator("[data-testid=protocol]").inner_text().startswith("# Test record")
    page.goto(f"{server.url}/backups")
    assert page.locator("h1").inner_text() == "Backup & recovery"
    page.screenshot(path=str(artifacts_dir() / "backups-en.png"), full_page=True)
    page.close()


def test_the_control_plane_exports_rpo_and_rto_metrics(
    server: ServerProcess, lab: LabSystem
) -> None:
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    assert f'leitstand_backup_rpo_breach{{system="{lab.system}"}} 0.0' in text
    assert 'leitstand_backup_rpo_objective_seconds{system="batch-processing"} 14400.0' in text
    assert f'leitstand_backup_rto_estimate_seconds{{system="{lab.system}"}}' in text
