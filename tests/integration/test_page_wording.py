"""Every page in German and English: times in Europe/Berlin with their zone, status and phase
values in the page's language (the shared ``label`` filter), German plurals."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from leitstand.auth.model import Role
from leitstand.backups.store import DrillRow
from leitstand.bootstrap import Container, build
from leitstand.policy.loader import load_policy_text
from leitstand.settings import Settings
from leitstand.testing import ManualClock
from leitstand.testing.web import sign_in
from support.backups_lab import store_backup_run
from support.gate_runs import record_gate_run

CHANGE = {
    "service": "enterprise-api",
    "version": "2.4.0",
    "category": "normal",
    "what": "new endpoint",
    "why": "broker request",
    "rollback": "redeploy 2.3.9",
    "tests": "unit, e2e",
}
ZONE = {
    "de": r"\d{2}\.\d{2}\.\d{4}, \d{2}:\d{2} (MEZ|MESZ)",
    "en": r"\d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2} (CET|CEST)",
}
#: Stored values that must not reach the visible text of a German page.
RAW = re.compile(
    r"\b(completed|approved|rejected|pending|failed|running|passed|succeeded|firing"
    r"|awaiting_approval|awaiting approval|critical|warning|killed)\b"
)
#: Their English names on English pages (one per page, see ``PAGES``).
ENGLISH = {
    "/": "entries",
    "/releases": "awaiting approval",
    "/changes": "approved",
    "/backups": "passed",
    "/flags": "off",
    "/alerts": "critical",
}
GERMAN = {
    "/": "Einträge",
    "/releases": "wartet auf Freigabe",
    "/changes": "genehmigt",
    "/backups": "bestanden",
    "/flags": "aus",
    "/alerts": "kritisch",
}


class _Text(HTMLParser):
    """The visible text of a page; ``<code>`` holds identifiers on purpose and is left out."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("code", "script", "style", "title", "pre"):
            self.skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("code", "script", "style", "title", "pre"):
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if not self.skip and data.strip():
            self.parts.append(" ".join(data.split()))


def _visible(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " | ".join(parser.parts)


@pytest.fixture
def container(settings: Settings, clock: ManualClock, tmp_path: Path) -> Iterator[Container]:
    out = str(tmp_path / "k8s")
    target = {
        "start": {"kind": "kubernetes", "image": "registry.example/{service}", "output_dir": out},
        "environments": {
            "production": {
                "router": {"kind": "kubernetes", "service": "enterprise-api", "output_dir": out},
                "instances": {"blue": {"port": 8081}, "green": {"port": 8082}},
            }
        },
    }
    # The wording of the release pages; signed images have their own tests.
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


@pytest.fixture
def browser(
    client: TestClient,
    container: Container,
    headers: dict[Role, dict[str, str]],
    tokens: dict[Role, str],
    clock: ManualClock,
) -> TestClient:
    """A signed-in DevOps browser, with a change, a release, backups, a drill, a flag, alerts."""
    change = client.post("/api/v1/changes", json=CHANGE, headers=headers[Role.DEVELOPER]).json()
    approved = client.post(
        f"/api/v1/changes/{change['id']}/approve", json={}, headers=headers[Role.COMPLIANCE_OFFICER]
    )
    assert approved.status_code == 200, approved.text
    digest = record_gate_run(container, service="enterprise-api", version="2.4.0")
    release = {"service": "enterprise-api", "version": "2.4.0", "env": "production"}
    started = client.post(
        "/api/v1/releases",
        json={**release, "artifact_digest": digest},
        headers=headers[Role.DEVOPS],
    )
    assert started.status_code == 201 and started.json()["phase"] == "awaiting_approval"
    now = clock.now()
    store_backup_run(container, "batch-processing", "files", "files", now - timedelta(hours=1))
    store_backup_run(
        container, "batch-processing", "files", "files", now - timedelta(hours=2), status="failed"
    )
    with container.db.transaction() as session:
        session.add(
            DrillRow(
                drill_key="drill:wording",
                kind="full-restore",
                system="batch-processing",
                trigger="manual",
                actor="anna",
                status="passed",
                started_at=now - timedelta(minutes=30),
                finished_at=now - timedelta(minutes=29),
                total_seconds=60.0,
                rto_seconds=8 * 3600.0,
                within_rto=True,
                protocol="{}",
            )
        )
    flag = client.post(
        "/api/v1/flags",
        json={"key": "new-billing", "type": "release"},
        headers=headers[Role.DEVOPS],
    )
    assert flag.status_code == 201, flag.text
    alert = {
        "status": "firing",
        "labels": {"alertname": "Http5xxRate", "severity": "critical", "service": "api"},
        "annotations": {"summary": "5xx over 5%"},
        "startsAt": "2026-11-27T08:59:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://127.0.0.1:9090/graph",
        "fingerprint": "f1",
    }
    posted = client.post(
        "/api/v1/alerts/alertmanager",
        json={
            "version": "4",
            "status": "firing",
            "receiver": "leitstand-critical",
            "groupKey": "{}:{}",
            "truncatedAlerts": 0,
            "alerts": [alert],
        },
        headers=headers[Role.ONCALL],
    )
    assert posted.status_code == 200, posted.text
    sign_in(client, tokens[Role.DEVOPS])
    return client


def _page(client: TestClient, path: str, lang: str) -> str:
    response = client.get(f"{path}?lang={lang}")
    assert response.status_code == 200, response.text
    return _visible(response.text)


@pytest.mark.parametrize("path", list(GERMAN))
def test_a_german_page_shows_zoned_times_and_german_status_names(
    browser: TestClient, path: str
) -> None:
    text = _page(browser, path, "de")
    assert path == "/flags" or re.search(ZONE["de"], text), text  # the flag list shows no time
    assert not re.search(r"\d{2}\.\d{2}\.\d{4} \d{2}:\d{2}:\d{2}", text), "a time without zone"
    assert GERMAN[path] in text, text
    assert not RAW.search(text), RAW.search(text)


@pytest.mark.parametrize("path", list(ENGLISH))
def test_an_english_page_shows_english_dates_and_names(browser: TestClient, path: str) -> None:
    text = _page(browser, path, "en")
    assert path == "/flags" or re.search(ZONE["en"], text), text
    assert not re.search(ZONE["de"], text), text
    assert re.search(rf"\b{ENGLISH[path]}\b", text), text
    assert GERMAN[path] not in text


def test_detail_pages_name_phase_status_and_times_in_the_page_language(
    browser: TestClient,
) -> None:
    release = _page(browser, "/releases/1", "de")
    assert "wartet auf Freigabe" in release and "awaiting" not in release
    assert re.search(ZONE["de"], release), release
    change = _page(browser, "/changes/1", "de")
    assert "genehmigt" in change and not RAW.search(change), change
    assert re.search(ZONE["de"], change), change
    assert "approved" in _page(browser, "/changes/1", "en")
    flag = _page(browser, "/flags/new-billing", "de")
    assert re.search(ZONE["de"], flag) and not RAW.search(flag), flag
    assert re.search(ZONE["en"], _page(browser, "/flags/new-billing", "en"))


def test_the_ledger_count_uses_the_german_plural(browser: TestClient) -> None:
    text = _page(browser, "/", "de")
    count = re.search(r"(\d+) (Eintrag|Einträge)\b", text)
    assert count is not None, text
    assert count.group(2) == ("Eintrag" if count.group(1) == "1" else "Einträge")


def test_the_ledger_table_names_subjects_the_way_people_read_them(
    browser: TestClient, headers: dict[Role, dict[str, str]]
) -> None:
    change = {**CHANGE, "version": "2.4.1"}
    second = browser.post("/api/v1/changes", json=change, headers=headers[Role.DEVELOPER])
    assert second.status_code == 201 and str(second.json()["id"]) == "2", second.text
    german, english = _page(browser, "/", "de"), _page(browser, "/", "en")
    assert "| Änderung 2 |" in german and "change:2" not in german, german
    assert "| Change 2 |" in english and "change:2" not in english, english
