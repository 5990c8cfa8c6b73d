"""The overview's recovery objectives: measured RPO and RTO against the policy, read-only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from leitstand.auth.model import Role
from leitstand.backups.store import BackupStateRow, DrillRow
from leitstand.bootstrap import Container, build
from leitstand.policy.model import Policy, default_policy
from leitstand.settings import Settings
from leitstand.testing import ManualClock
from leitstand.testing.web import sign_in
from support.backups_lab import ADMIN, store_backup_run

SYSTEM = "batch-processing"  # RPO 4 h, RTO 8 h in the seed


def _files_only_policy() -> Policy:
    data = default_policy().model_dump(mode="json")
    data["backups"]["systems"] = {SYSTEM: {"files": {"paths": ["/srv/batch"]}}}
    return Policy.model_validate(data)


@pytest.fixture
def container(settings: Settings, clock: ManualClock) -> Iterator[Container]:
    c = build(settings, clock=clock, policy=_files_only_policy(), migrate=True)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def browser(client: TestClient, tokens: dict[Role, str]) -> TestClient:
    sign_in(client, tokens[Role.AUDITOR])
    return client


def _stored_run(container: Container, started: datetime) -> None:
    store_backup_run(container, SYSTEM, "files", "files", started)


def _stored_drill(container: Container, started: datetime, seconds: float) -> None:
    with container.db.transaction() as session:
        session.add(
            DrillRow(
                drill_key=f"drill:{started.isoformat()}",
                kind="full-restore",
                system=SYSTEM,
                trigger="manual",
                actor="anna",
                status="passed",
                started_at=started,
                finished_at=started + timedelta(seconds=seconds),
                total_seconds=seconds,
                rto_seconds=8 * 3600.0,
                within_rto=seconds <= 8 * 3600,
                protocol="{}",
            )
        )


class _Objectives(HTMLParser):
    """Rows of the recovery-objectives table: system -> field -> text, plus the status."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, dict[str, str]] = {}
        self.in_table = False
        self.system: str | None = None
        self.field: str | None = None
        self.link: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self.in_table = a.get("data-testid") == "recovery-objectives"
        elif tag == "a" and a.get("data-testid") == "recovery-objectives-link":
            self.link = a.get("href")
        elif self.in_table and tag == "tr" and a.get("data-system"):
            self.system = a["data-system"]
            self.rows[self.system] = {"name": ""}
            self.field = "name"
        elif self.system and tag == "td":
            self.field = a.get("data-field")
            self.rows[self.system][self.field or ""] = ""
        elif self.system and tag == "span" and a.get("data-status"):
            self.rows[self.system]["data-status"] = a["data-status"] or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.in_table = False
        elif tag == "tr":
            self.system = None
        elif tag in ("td", "th"):
            self.field = None

    def handle_data(self, data: str) -> None:
        if self.system and self.field:
            row = self.rows[self.system]
            row[self.field] = " ".join(f"{row[self.field]} {data}".split())


def _overview(client: TestClient, lang: str) -> tuple[dict[str, dict[str, str]], _Objectives]:
    response = client.get(f"/?lang={lang}")
    assert response.status_code == 200, response.text
    parser = _Objectives()
    parser.feed(response.text)
    return parser.rows, parser


def _rpo_states(container: Container) -> int:
    with container.db.reader() as session:
        return session.execute(sa.select(sa.func.count()).select_from(BackupStateRow)).scalar_one()


def test_without_any_backup_every_system_is_unknown_in_german(
    container: Container, browser: TestClient
) -> None:
    rows, parser = _overview(browser, "de")
    assert list(rows) == [
        "smart-bav-portal",
        "enterprise-api",
        "batch-processing",
        "internal-tools",
    ]
    assert rows[SYSTEM] == {
        "name": container.policy.services[SYSTEM].name,
        "rpo-now": "noch keine Sicherung",
        "rpo-target": "4 h",
        "rto-estimate": "noch kein Drill",
        "rto-target": "8 h",
        "status": "unbekannt",
        "data-status": "unknown",
    }
    api = rows["enterprise-api"]
    assert api["rpo-now"] == "keine Sicherung konfiguriert"
    assert (api["rpo-target"], api["rto-target"]) == ("15 min", "2 h")
    assert (api["status"], api["data-status"]) == ("unbekannt", "unknown")
    assert parser.link == "/backups"
    assert _rpo_states(container) == 0  # the page read, it did not measure


def test_without_any_backup_every_system_is_unknown_in_english(browser: TestClient) -> None:
    rows, _ = _overview(browser, "en")
    assert rows[SYSTEM]["rpo-now"] == "no backup yet"
    assert rows[SYSTEM]["rto-estimate"] == "no drill yet"
    assert (rows[SYSTEM]["status"], rows[SYSTEM]["data-status"]) == ("unknown", "unknown")
    assert rows["enterprise-api"]["rpo-now"] == "no backup configured"


def test_a_stored_run_is_not_measured_by_the_page(
    container: Container, clock: ManualClock, browser: TestClient
) -> None:
    _stored_run(container, clock.now() - timedelta(minutes=30))
    rows, _ = _overview(browser, "de")
    assert rows[SYSTEM]["rpo-now"] == "noch nicht gemessen"
    assert rows[SYSTEM]["data-status"] == "unknown"
    assert _rpo_states(container) == 0


@pytest.mark.parametrize(
    ("lang", "measured", "status"),
    [("de", "30 min", "eingehalten"), ("en", "30 min", "met")],
)
def test_a_backup_newer_than_the_rpo_is_met(
    container: Container,
    clock: ManualClock,
    browser: TestClient,
    lang: str,
    measured: str,
    status: str,
) -> None:
    _stored_run(container, clock.now() - timedelta(minutes=30))
    container.backup_monitor.measure(actor=ADMIN)
    row = _overview(browser, lang)[0][SYSTEM]
    assert row["rpo-now"].startswith(f"{measured} ")
    assert {"de": "gemessen", "en": "measured"}[lang] in row["rpo-now"]
    assert row["rpo-target"] == "4 h"
    assert (row["status"], row["data-status"]) == (status, "ok")


@pytest.mark.parametrize(("lang", "status"), [("de", "verletzt: RPO"), ("en", "breached: RPO")])
def test_a_backup_older_than_the_rpo_is_a_breach(
    container: Container, clock: ManualClock, browser: TestClient, lang: str, status: str
) -> None:
    _stored_run(container, clock.now() - timedelta(hours=5))
    container.backup_monitor.measure(actor=ADMIN)
    row = _overview(browser, lang)[0][SYSTEM]
    assert row["rpo-now"].startswith("5 h ")
    assert (row["status"], row["data-status"]) == (status, "breach")


def test_the_rpo_ages_with_the_clock_between_measurements(
    container: Container, clock: ManualClock, browser: TestClient, tokens: dict[Role, str]
) -> None:
    _stored_run(container, clock.now() - timedelta(minutes=30))
    container.backup_monitor.measure(actor=ADMIN)
    clock.advance(timedelta(hours=4))  # 4 h 30 min since the newest restorable point
    sign_in(browser, tokens[Role.AUDITOR])  # 4 h idle ended the web session
    row = _overview(browser, "de")[0][SYSTEM]
    assert row["rpo-now"].startswith("4 h 30 min ")
    assert (row["status"], row["data-status"]) == ("verletzt: RPO", "breach")


@pytest.mark.parametrize(
    ("lang", "seconds", "estimate", "status", "data_status"),
    [
        ("de", 42.0, "42,00 s", "eingehalten", "ok"),
        ("en", 42.0, "42.00 s", "met", "ok"),
        ("de", 9 * 3600.0, "9 h", "verletzt: RTO", "breach"),
        ("en", 9 * 3600.0, "9 h", "breached: RTO", "breach"),
    ],
)
def test_the_rto_estimate_of_the_last_drill_is_set_against_the_policy(
    container: Container,
    clock: ManualClock,
    browser: TestClient,
    lang: str,
    seconds: float,
    estimate: str,
    status: str,
    data_status: str,
) -> None:
    _stored_run(container, clock.now() - timedelta(minutes=30))
    _stored_drill(container, clock.now() - timedelta(days=1), seconds)
    container.backup_monitor.measure(actor=ADMIN)
    row = _overview(browser, lang)[0][SYSTEM]
    assert (row["rto-estimate"], row["rto-target"]) == (estimate, "8 h")
    assert (row["status"], row["data-status"]) == (status, data_status)
