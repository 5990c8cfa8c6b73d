"""The charts page in headless Chromium: every SVG chart renders, with a screenshot.

The app runs in this process (uvicorn in a thread) on a container seeded with backup runs and
alerts, and a small stand-in for Prometheus's HTTP API answers the range queries.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import uvicorn
from playwright.sync_api import Browser, sync_playwright

from leitstand.alerting.schemas import AmWebhook
from leitstand.app import create_app
from leitstand.auth.model import Actor, Role
from leitstand.bootstrap import build
from leitstand.policy.model import Policy, default_policy
from leitstand.settings import Settings
from leitstand.testing import free_port
from support.backups_lab import store_backup_run

from .test_overview_ui import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.e2e

ADMIN = Actor(name="local:test", role="local")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed: run the test command (scripts/test)")
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


class _Prometheus(BaseHTTPRequestHandler):
    """``/api/v1/query_range``: a 5xx rate around 1 % and a p95 around 180 ms."""

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = parse_qs(url.query)
        start, end = float(query["start"][0]), float(query["end"][0])
        step = float(query["step"][0].rstrip("s"))
        p95 = "histogram_quantile" in query["query"][0]
        values = []
        at = start
        while at <= end:
            wave = math.sin(at / 3600)
            values.append([at, str(180 + 60 * wave if p95 else max(0.0, 1 + 1.5 * wave))])
            at += step
        body = {"status": "success", "data": {"resultType": "matrix", "result": []}}
        if url.path == "/api/v1/query_range":
            body["data"]["result"] = [{"metric": {}, "values": values}]  # type: ignore[index]
        raw = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *_: Any) -> None:
        pass


def _policy(prometheus: str) -> Policy:
    data = default_policy().model_dump(mode="json")
    data["backups"]["systems"] = {"batch-processing": {"files": {"paths": ["/srv/batch"]}}}
    data["deployment"]["releases"] = {
        "enterprise-api": {
            "start": {"command": ["true"]},
            "analysis": {"prometheus_url": prometheus},
            "environments": {
                "production": {
                    "router": {"kind": "kubernetes", "service": "api", "output_dir": "/tmp/k8s"},
                    "instances": {"blue": {"port": 18081}, "green": {"port": 18082}},
                }
            },
        }
    }
    return Policy.model_validate(data)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, str]]:
    prometheus = ThreadingHTTPServer(("127.0.0.1", 0), _Prometheus)
    threading.Thread(target=prometheus.serve_forever, daemon=True).start()
    container = build(
        Settings(home=tmp_path / "home"),
        migrate=True,
        policy=_policy(f"http://127.0.0.1:{prometheus.server_address[1]}"),
    )
    now = container.clock.now()
    for hours in range(6 * 24, 0, -9):  # a file backup every 9 hours over six days
        store_backup_run(
            container, "batch-processing", "files", "files", now - timedelta(hours=hours)
        )
    alerts = [
        {
            "status": "firing",
            "labels": {"alertname": name, "severity": severity, "service": "enterprise-api"},
            "annotations": {"summary": f"{name} on enterprise-api"},
            "startsAt": now.isoformat(),
            "fingerprint": f"f{index}",
        }
        for index, (name, severity) in enumerate(
            [("Http5xxRate", "critical"), ("DiskFull", "warning"), ("Latency", "warning")]
        )
    ]
    container.alerting.receive_alertmanager(
        AmWebhook.model_validate({"version": "4", "status": "firing", "alerts": alerts}),
        actor=ADMIN,
    )
    _user, token = container.auth.add_user(name="ops", role=Role.DEVOPS, actor=ADMIN)
    app = create_app(container)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}", token
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        container.close()
        prometheus.shutdown()
        prometheus.server_close()


def test_the_charts_page_renders_every_chart(
    browser: Browser, site: tuple[str, str], tmp_path: Path
) -> None:
    url, token = site
    page = browser.new_page(viewport={"width": 1100, "height": 1000})
    page.goto(f"{url}/charts")
    assert "/login" in page.url
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/charts")
    assert page.locator("h1").inner_text() == "Diagramme"

    figures = page.locator("[data-testid=chart]")
    ids = [figures.nth(i).get_attribute("data-chart") for i in range(figures.count())]
    assert ids == [
        "ledger-growth",
        "alert-volume",
        "rpo-batch-processing",
        "error-rate-enterprise-api",
        "p95-enterprise-api",
    ]
    charts = page.locator("svg.chart")
    assert charts.count() == 5
    for index in range(charts.count()):
        box = charts.nth(index).bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 50, ids[index]
    # Drawn, not "no data": lines from the runs and from Prometheus, bars for the alerts.
    assert page.locator("[data-testid=chart][data-empty]").count() == 0
    for chart in ("ledger-growth", "rpo-batch-processing", "error-rate-enterprise-api"):
        line = page.locator(f"svg[data-chart={chart}] polyline").first
        box = line.bounding_box()
        assert box is not None and box["width"] > 100, chart
    bars = page.locator("svg[data-chart=alert-volume] rect.bar")
    assert bars.count() == 3
    warning = bars.nth(0).bounding_box()
    critical = bars.nth(1).bounding_box()
    assert warning is not None and critical is not None
    assert warning["height"] == pytest.approx(2 * critical["height"], rel=0.02)
    objective = page.locator("svg[data-chart=rpo-batch-processing] line.threshold")
    assert objective.count() == 1
    # The text alternative opens under the chart.
    page.locator("[data-chart=alert-volume] summary").click()
    table = page.locator("[data-chart=alert-volume] [data-testid=chart-table]")
    assert table.locator("tbody tr").first.inner_text().split("\t") == ["1 Warnung", "2"]
    shot = tmp_path / "charts-de.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000

    page.click("[data-testid=lang-switch]")
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Charts"
    title = page.locator("svg[data-chart=alert-volume] title").text_content()
    assert title == "Alerts per escalation level"
    first_bar = page.locator("svg[data-chart=alert-volume] rect.bar").first
    assert first_bar.get_attribute("data-label") == "1 Warning"
    page.screenshot(path=str(tmp_path / "charts-en.png"), full_page=True)
    page.close()
