"""Incident pages word times and days like every other page: English dates on English pages,
German on German ones, every time with its zone (the shared ``when`` and ``day`` filters)."""

from __future__ import annotations

import re
from datetime import date

from fastapi.testclient import TestClient

from leitstand.auth.model import Actor, Role
from leitstand.bootstrap import Container

OPS = Actor(name="anna", role="devops")
ZONE = {
    "de": r"\d{2}\.\d{2}\.\d{4}, \d{2}:\d{2} (MEZ|MESZ)",
    "en": r"\d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2} (CET|CEST)",
}


def test_incident_pages_show_dates_in_the_page_language(
    client: TestClient, headers: dict[Role, dict[str, str]], container: Container
) -> None:
    iid = container.incidents.create(
        title="Portal 5xx",
        severity="SEV-1",
        actor=OPS,
        details={"systems": ["smart-bav-portal"], "tenants": ["example-makler-nord"]},
    ).id
    container.incident_actions.add(
        iid, title="Schwelle prüfen", owner="devops", due_date=date(2027, 1, 8), actor=OPS
    )
    devops = headers[Role.DEVOPS]
    german = client.get(f"/incidents/{iid}?lang=de", headers=devops).text
    english = client.get(f"/incidents/{iid}?lang=en", headers=devops).text
    assert re.search(rf"Eröffnet {ZONE['de']}", german), german
    assert re.search(rf"<time datetime=\"[^\"]+\">{ZONE['de']}</time>", german)  # the timeline
    assert ">08.01.2027</time>" in german
    assert re.search(ZONE["en"], english) and not re.search(ZONE["de"], english)
    assert re.search(rf"<time datetime=\"[^\"]+\">{ZONE['en']}</time>", english)
    assert ">8 Jan 2027</time>" in english
    assert not re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", english)  # no ISO-style page times
    listing = client.get("/incidents?lang=en", headers=devops).text
    assert re.search(rf"<td>{ZONE['en']}</td>", listing), listing


def test_incident_page_names_ledger_subjects_as_people_read_them(
    client: TestClient, headers: dict[Role, dict[str, str]], container: Container
) -> None:
    changes = Actor(name="leitstand:changes", role="system")
    with container.db.transaction() as session:
        container.ledger.record(
            session, changes, "change.approved", "change:2", payload={"service": "smart-bav-portal"}
        )
    iid = container.incidents.create(
        title="Portal 5xx", severity="SEV-2", actor=OPS, details={"systems": ["smart-bav-portal"]}
    ).id
    devops = headers[Role.DEVOPS]
    pages = {
        lang: client.get(f"/incidents/{iid}?lang={lang}", headers=devops).text
        for lang in ("de", "en")
    }
    timelines = {
        lang: page.split('data-testid="timeline"')[1].split("</ul>")[0]
        for lang, page in pages.items()
    }
    assert re.search(rf"<time [^>]+>{ZONE['de']}</time> – Änderung 2: genehmigt", timelines["de"])
    assert re.search(rf"<time [^>]+>{ZONE['en']}</time> – Change 2: approved", timelines["en"])
    for timeline in timelines.values():
        assert "change:2" not in timeline and f"incident:{iid}" not in timeline
