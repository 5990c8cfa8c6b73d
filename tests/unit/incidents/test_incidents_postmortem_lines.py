"""What the post-mortem's timeline says, German and English: of a release only the steps that
matter to the incident (start, switch, promote/abort/rollback decisions, failures), ledger
subjects as people read them ("Änderung 2", "Change 2"), times in the English way on English
documents, every time with its zone."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from leitstand.auth.model import Actor
from leitstand.bootstrap import Container
from leitstand.display import fmt_subject
from leitstand.incidents.reporting.timeline import routine_step
from leitstand.incidents.wording import germanize
from leitstand.testing import ManualClock

from .conftest import OPS, PORTAL

RELEASES = Actor(name="leitstand:releases", role="system")
CHANGES = Actor(name="leitstand:changes", role="system")

#: A whole blue-green release with a canary analysis, then its rollback: (action, payload extra).
STEPS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("release.started", {}),
    ("release.approved", {}),
    ("release.snapshot_taken", {}),
    ("release.migrated", {}),
    ("release.instance_started", {}),
    ("release.healthy", {}),
    ("release.weight_set", {"percent": 10}),
    ("release.analysed", {"verdict": "pass"}),
    ("release.handover_checked", {}),
    ("release.switched", {}),
    ("release.verified", {}),
    ("release.analysed", {"verdict": "fail"}),
    ("release.rollback_decided", {}),
    ("release.traffic_restored", {}),
    ("release.rolled_back", {}),
    ("release.completed", {}),
)
ROUTINE_DE = (
    "freigegeben",
    "Datenbank-Snapshot",
    "Migration ausgeführt",
    "Instanz gestartet",
    "gesund",
    "Verkehrsanteil",
    "Übergabe-Checkliste",
    "geprüft",
    "abgeschlossen",
)
ROUTINE_EN = (
    "approved",
    "snapshot",
    "migrated",
    "instance started",
    "healthy",
    "traffic weight",
    "handover",
    "verified",
    "completed",
)


def _record(container: Container, actor: Actor, action: str, subject: str, **kw: Any) -> None:
    with container.db.transaction() as session:
        container.ledger.record(session, actor, action, subject, payload=kw)


def _incident_after_a_release(container: Container, clock: ManualClock) -> str:
    release = {"service": PORTAL, "version": "2.4.1", "env": "prod", "kind": "deploy"}
    _record(container, CHANGES, "change.approved", "change:2", service=PORTAL)
    for action, extra in STEPS:
        clock.advance(timedelta(minutes=1))
        _record(container, RELEASES, action, "release:7", **release, **extra)
    clock.advance(timedelta(minutes=1))
    incident = container.incidents.create(
        title="Portal 5xx", severity="SEV-2", actor=OPS, details={"systems": [PORTAL]}
    ).id
    container.incidents.update(
        incident, {"root_cause": "Konfiguration", "impact": "5xx für 20 min"}, actor=OPS
    )
    return incident


def _timeline(markdown: str) -> list[str]:
    section = markdown.split("### Timeline")[1].split("### Root Cause")[0]
    return [line for line in section.splitlines() if line.startswith("- ")]


def test_post_mortem_lists_only_the_decisive_release_steps_in_german(
    container: Container, clock: ManualClock
) -> None:
    iid = _incident_after_a_release(container, clock)
    lines = _timeline(container.incident_reporting.postmortem(iid, actor=OPS).markdown)
    release = [x for x in lines if f"Release {PORTAL} 2.4.1 prod:" in x]
    assert [x.split(": ", 1)[1].rsplit(" (", 1)[0] for x in release] == [
        "gestartet",
        "umgeschaltet",
        "Analyse ausgewertet",  # the failed analysis, not the passed one
        "zurückgerollt",
    ], lines
    assert any("Rollback beschlossen" in x for x in lines), lines
    assert any("Traffic zurück auf" in x for x in lines), lines
    for word in ROUTINE_DE:
        assert not [x for x in release if word in x], (word, release)
    # The full timeline (API, incident page) still has every step: it is the evidence.
    actions = [e.action for e in container.incident_reporting.timeline(iid)]
    assert actions.count("release.analysed") == 2 and "release.migrated" in actions


def test_post_mortem_lists_only_the_decisive_release_steps_in_english(
    container: Container, clock: ManualClock
) -> None:
    iid = _incident_after_a_release(container, clock)
    text = container.incident_reporting.postmortem(iid, actor=OPS, lang="en").markdown
    release = [x for x in _timeline(text) if f"Release {PORTAL} 2.4.1 prod:" in x]
    assert [x.split(": ", 1)[1].rsplit(" (", 1)[0] for x in release] == [
        "started",
        "switched",
        "analysed",
        "rolled back",
    ], release
    for word in ROUTINE_EN:
        assert not [x for x in release if word in x], (word, release)


@pytest.mark.parametrize(
    ("action", "payload", "routine"),
    [
        ("release.started", {}, False),
        ("release.switched", {}, False),
        ("release.promoted", {}, False),
        ("release.cancelled", {}, False),
        ("release.health_failed", {}, False),
        ("release.analysed", {"verdict": "fail"}, False),
        ("release.analysed", {"verdict": "inconclusive"}, False),
        ("release.analysed", {"verdict": "pass"}, True),
        ("release.migrated", {}, True),
        ("release.weight_set", {}, True),
        ("release.completed", {}, True),
        ("change.approved", {}, False),  # not a release step
    ],
)
def test_routine_release_steps(action: str, payload: dict[str, Any], routine: bool) -> None:
    assert routine_step(action, payload) is routine


def test_documents_and_pages_name_subjects_as_people_read_them(
    container: Container, clock: ManualClock
) -> None:
    iid = _incident_after_a_release(container, clock)
    german = container.incident_reporting.postmortem(iid, actor=OPS).markdown
    english = container.incident_reporting.postmortem(iid, actor=OPS, lang="en").markdown
    assert any("Änderung 2: genehmigt" in x for x in _timeline(german)), german
    assert any("Change 2: approved" in x for x in _timeline(english)), english
    for text in (german, english):
        assert not re.search(r"\b(change|release|incident|alert):[A-Za-z0-9]", text), text
    # The timeline (API) words them too; its subjects stay the ledger's.
    [change] = [e for e in container.incident_reporting.timeline(iid) if e.kind == "change"]
    assert (change.subject, change.text, change.text_en) == (
        "change:2",
        "Änderung 2: change.approved",
        "Change 2: change.approved",
    )


def test_one_subject_formatter_in_both_languages() -> None:
    assert (fmt_subject("change:2", "de"), fmt_subject("change:2", "en")) == (
        "Änderung 2",
        "Change 2",
    )
    assert (fmt_subject("release:7", "de"), fmt_subject("release:7", "en")) == (
        "Release 7",
        "Release 7",
    )
    assert fmt_subject("incident:INC-2026-0001", "de") == "Vorfall INC-2026-0001"
    assert fmt_subject("incident:INC-2026-0001", "en") == "Incident INC-2026-0001"
    assert (fmt_subject("alert:3", "de"), fmt_subject("alert:3", "en")) == ("Alarm 3", "Alert 3")
    assert fmt_subject("flag:new-ui", "de") == "flag:new-ui"  # unknown kinds as stored
    assert fmt_subject("change:", "en") == "change:" and fmt_subject(None, "de") == ""
    assert germanize("siehe change:2 und incident:INC-2026-0001") == (
        "siehe Änderung 2 und Vorfall INC-2026-0001"
    )
    assert germanize("see change:2 (by 2027-01-08)", "en") == "see Change 2 (by 8 Jan 2027)"
    assert germanize("bis 2027-01-08") == "bis 08.01.2027"


def test_english_documents_word_times_the_english_way(
    container: Container, clock: ManualClock
) -> None:
    iid = _incident_after_a_release(container, clock)
    container.incidents.update(iid, {"personal_data_affected": True}, actor=OPS)
    container.incident_actions.add(
        iid, title="Check config", owner="DevOps", due_date=clock.now().date(), actor=OPS
    )
    reporting = container.incident_reporting
    english_time = r"\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d (CET|CEST)"
    german_time = r"\d\d\.\d\d\.\d{4}, \d\d:\d\d (MEZ|MESZ)"
    pm = reporting.postmortem(iid, actor=OPS, lang="en").markdown
    assert re.search(rf"\*\*Date of the incident:\*\* {english_time}$", pm, re.MULTILINE), pm
    assert "### Timeline (times in CET)" in pm
    assert re.search(r"\| 1 \| Check config \| DevOps \| \d{1,2} [A-Z][a-z]{2} \d{4} \|", pm)
    gdpr = reporting.gdpr_draft(iid, "en")
    assert re.search(rf"\| Deadline \(72 hours\) \| {english_time} \|", gdpr), gdpr
    assert re.search(rf"\| Breach known since \| {english_time} \|", gdpr), gdpr
    for text in (pm, gdpr):
        assert not re.search(german_time, text) and "MEZ" not in text
        assert not re.search(r"\b\d{4}-\d{2}-\d{2}\b", text), text  # no ISO days
    german = reporting.postmortem(iid, actor=OPS).markdown
    assert re.search(rf"\*\*Datum des Vorfalls:\*\* {german_time}$", german, re.MULTILINE)
    assert "### Timeline (Zeiten in MEZ)" in german
    assert not re.search(english_time, german)
