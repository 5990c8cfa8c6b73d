"""The UI's shared wording: zoned page times, status labels and plurals per language."""

from __future__ import annotations

from datetime import UTC, datetime

from leitstand.releases.model import Phase
from leitstand.web.i18n import label, page_time, plural

WINTER = datetime(2026, 12, 7, 13, 5, tzinfo=UTC)
SUMMER = datetime(2026, 7, 7, 13, 5, tzinfo=UTC)


def test_page_times_are_berlin_times_with_their_zone_per_language() -> None:
    assert page_time(WINTER, "de") == "07.12.2026, 14:05 MEZ"
    assert page_time(WINTER, "en") == "7 Dec 2026, 14:05 CET"
    assert page_time(SUMMER, "de") == "07.07.2026, 15:05 MESZ"
    assert page_time(SUMMER, "en") == "7 Jul 2026, 15:05 CEST"


def test_page_times_accept_the_apis_iso_strings_and_nothing() -> None:
    assert page_time("2026-12-07T13:05:00Z", "de") == "07.12.2026, 14:05 MEZ"
    assert page_time("2026-12-07T13:05:00", "en") == "7 Dec 2026, 14:05 CET"  # naive = UTC
    assert page_time(None, "de") == page_time("", "de") == ""
    assert page_time("not a time", "de") == "not a time"


def test_labels_name_stored_values_in_the_page_language() -> None:
    assert label(Phase.AWAITING_APPROVAL, "de") == "wartet auf Freigabe"
    assert label(Phase.AWAITING_APPROVAL, "en") == "awaiting approval"
    assert label("approved", "de") == "genehmigt"
    assert label("failed", "de") == "fehlgeschlagen"
    assert label("running", "de") == "läuft"
    assert label("completed", "de") == "abgeschlossen"
    assert label("off", "de") == "aus"
    assert label("compliance_officer", "en") == "compliance officer"
    assert label("a-variant", "de") == "a-variant"
    assert label(None, "de") == ""


def test_every_release_phase_has_a_german_name() -> None:
    assert all(label(p, "de") != p.value for p in Phase)
    assert all(label(p, "en") == p.value.replace("_", " ") for p in Phase)


def test_plurals_follow_the_language() -> None:
    assert plural(1, "Eintrag", "Einträge", "de") == "1 Eintrag"
    assert plural(2, "Eintrag", "Einträge", "de") == "2 Einträge"
    assert plural(0, "Eintrag", "Einträge", "de") == "0 Einträge"
    assert plural(1, "entry", "entries", "en") == "1 entry"
    assert plural(17, "entry", "entries", "en") == "17 entries"
