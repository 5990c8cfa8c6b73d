"""Deadline arithmetic: working days with Hamburg's holidays, DORA, GDPR, DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from leitstand.incidents.dora.due_dates import (
    Calendar,
    ReportStage,
    add_months,
    final_report_due,
    gdpr_due,
    initial_notification_due,
    intermediate_report_due,
    reaction_due,
    weekend_rule_allowed,
)

BERLIN = ZoneInfo("Europe/Berlin")
HH = Calendar(state="HH")
BY = Calendar(state="BY")


def local(text: str) -> datetime:
    """A Europe/Berlin wall-clock time as aware UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN).astimezone(UTC)


def shown(value: datetime) -> str:
    return value.astimezone(BERLIN).strftime("%Y-%m-%d %H:%M %Z")


@pytest.mark.parametrize(
    ("day", "working"),
    [
        ("2026-11-27", True),  # Friday
        ("2026-11-28", False),  # Saturday
        ("2026-11-29", False),  # Sunday
        ("2026-04-03", False),  # Good Friday (national)
        ("2026-04-06", False),  # Easter Monday
        ("2026-10-03", False),  # German Unity Day (a Saturday anyway)
        ("2026-10-31", False),  # Reformation Day: a holiday in Hamburg (since 2018)
        ("2026-06-04", True),  # Corpus Christi: not a holiday in Hamburg
        ("2026-12-24", True),  # Christmas Eve is a working day
        ("2026-12-25", False),
    ],
)
def test_working_days_follow_hamburgs_public_holidays(day: str, working: bool) -> None:
    assert HH.is_working_day(date.fromisoformat(day)) is working


def test_the_federal_state_changes_the_holidays() -> None:
    corpus_christi = date(2026, 6, 4)
    assert HH.is_working_day(corpus_christi)
    assert not BY.is_working_day(corpus_christi)
    assert BY.holiday(corpus_christi, "de") == "Fronleichnam"


@pytest.mark.parametrize(
    ("opened", "reaction", "due"),
    [
        ("2026-11-27 09:00", timedelta(minutes=15), "2026-11-27 09:15 CET"),
        ("2026-11-27 09:00", timedelta(minutes=30), "2026-11-27 09:30 CET"),
        ("2026-11-27 23:00", timedelta(hours=2), "2026-11-28 01:00 CET"),
        # SEV-4: next working day (17:00): Friday -> Monday, over a weekend.
        ("2026-11-27 09:00", "next_business_day", "2026-11-30 17:00 CET"),
        ("2026-11-25 22:00", "next_business_day", "2026-11-26 17:00 CET"),
        # Maundy Thursday -> Good Friday and Easter Monday are holidays -> Tuesday.
        ("2026-04-02 10:00", "next_business_day", "2026-04-07 17:00 CEST"),
        # Reformation Day (HH) falls on a Saturday in 2026; 2025: Friday 31 Oct.
        ("2025-10-30 12:00", "next_business_day", "2025-11-03 17:00 CET"),
        # 15 minutes across the spring DST change: elapsed time, not wall time.
        ("2026-03-29 01:50", timedelta(minutes=15), "2026-03-29 03:05 CEST"),
    ],
)
def test_reaction_time_per_severity(opened: str, reaction: timedelta | str, due: str) -> None:
    assert shown(reaction_due(local(opened), reaction, HH)) == due


def test_post_mortem_is_due_at_the_end_of_the_fifth_working_day() -> None:
    # Resolved Thursday 2 April 2026: Good Friday and Easter Monday do not count.
    resolved = local("2026-04-02 15:00")
    assert shown(HH.end_of_working_days(resolved, 5)) == "2026-04-13 17:00 CEST"
    assert shown(HH.end_of_working_days(local("2026-11-27 10:00"), 5)) == "2026-12-04 17:00 CET"


@pytest.mark.parametrize(
    ("aware", "classified", "due"),
    [
        # 4 h after classification when that is before the 24 h cap.
        ("2026-11-25 09:00", "2026-11-25 10:00", "2026-11-25 14:00 CET"),
        # 24 h after awareness caps it.
        ("2026-11-25 09:00", "2026-11-26 07:00", "2026-11-26 09:00 CET"),
        # Classified after the 24 h had passed: 4 h after classification.
        ("2026-11-25 09:00", "2026-11-26 12:00", "2026-11-26 16:00 CET"),
        # Spring forward: 24 h after Saturday 20:00 CET is Sunday 21:00 CEST.
        ("2026-03-28 20:00", "2026-03-29 19:30", "2026-03-29 21:00 CEST"),
        # Fall back: 24 h after Saturday 20:00 CEST is Sunday 19:00 CET.
        ("2026-10-24 20:00", "2026-10-25 18:00", "2026-10-25 19:00 CET"),
        # 4 h across the fall-back night: 00:30 CEST + 4 h = 03:30 CET.
        ("2026-10-25 00:00", "2026-10-25 00:30", "2026-10-25 03:30 CET"),
    ],
)
def test_initial_notification_within_4h_of_classification_never_after_24h(
    aware: str, classified: str, due: str
) -> None:
    value = initial_notification_due(aware_at=local(aware), classified_at=local(classified))
    assert shown(value) == due


@pytest.mark.parametrize(
    ("raw_due", "shifted"),
    [
        ("2026-11-27 16:00", "2026-11-27 16:00 CET"),  # Friday: stays
        ("2026-11-28 03:00", "2026-11-30 12:00 CET"),  # Saturday -> Monday noon
        ("2026-11-29 23:00", "2026-11-30 12:00 CET"),  # Sunday -> Monday noon
        ("2026-04-03 10:00", "2026-04-07 12:00 CEST"),  # Good Friday -> Tuesday noon
        ("2026-12-25 09:00", "2026-12-28 12:00 CET"),  # Christmas -> Monday noon
        ("2026-03-29 10:00", "2026-03-30 12:00 CEST"),  # Sunday of the DST change
    ],
)
def test_weekend_and_holiday_deadlines_move_to_noon_of_the_next_working_day(
    raw_due: str, shifted: str
) -> None:
    assert shown(HH.shift_off_day(local(raw_due))) == shifted


def test_weekend_rule_applies_to_the_initial_notification_where_allowed() -> None:
    # Aware Friday 22:00, classified Saturday 02:00: due Saturday 06:00 -> Monday 12:00.
    due = initial_notification_due(
        aware_at=local("2026-11-27 22:00"), classified_at=local("2026-11-28 02:00"), cal=HH
    )
    assert shown(due) == "2026-11-30 12:00 CET"
    strict = initial_notification_due(
        aware_at=local("2026-11-27 22:00"), classified_at=local("2026-11-28 02:00"), cal=None
    )
    assert shown(strict) == "2026-11-28 06:00 CET"


@pytest.mark.parametrize(
    ("entity", "stage", "allowed"),
    [
        ("insurance_intermediary", ReportStage.INITIAL, True),
        ("insurance_intermediary", ReportStage.INTERMEDIATE, True),
        ("credit_institution", ReportStage.INITIAL, False),
        ("credit_institution", ReportStage.INTERMEDIATE, False),
        ("credit_institution", ReportStage.FINAL, True),
        ("central_counterparty", ReportStage.INITIAL, False),
        ("trading_venue_operator", ReportStage.INTERMEDIATE, False),
        ("nis2_essential_or_important_entity", ReportStage.INITIAL, False),
        (None, ReportStage.INITIAL, True),
    ],
)
def test_weekend_rule_depends_on_the_entity_type(
    entity: str | None, stage: ReportStage, allowed: bool
) -> None:
    assert weekend_rule_allowed(entity, stage) is allowed


@pytest.mark.parametrize(
    ("submitted", "due", "shifted"),
    [
        ("2026-11-23 10:00", "2026-11-26 10:00 CET", "2026-11-26 10:00 CET"),
        ("2026-11-25 10:00", "2026-11-28 10:00 CET", "2026-11-30 12:00 CET"),
        # 72 h across the fall-back change: one wall-clock hour earlier.
        ("2026-10-23 12:00", "2026-10-26 11:00 CET", "2026-10-26 11:00 CET"),
    ],
)
def test_intermediate_report_within_72h_of_the_initial_notification(
    submitted: str, due: str, shifted: str
) -> None:
    assert shown(intermediate_report_due(initial_submitted_at=local(submitted))) == due
    assert shown(intermediate_report_due(initial_submitted_at=local(submitted), cal=HH)) == shifted


@pytest.mark.parametrize(
    ("submitted", "due"),
    [
        ("2026-11-26 10:00", "2026-12-28 12:00 CET"),  # 26 Dec (holiday, Saturday) -> Monday
        ("2026-01-31 09:00", "2026-03-02 12:00 CET"),  # clamps to Sat 28 Feb -> Monday noon
        ("2026-03-10 09:00", "2026-04-10 09:00 CEST"),  # across spring DST: same wall time
        ("2026-10-14 09:00", "2026-11-16 12:00 CET"),  # 14 Nov is a Saturday
    ],
)
def test_final_report_within_one_month_of_the_latest_intermediate_report(
    submitted: str, due: str
) -> None:
    value = final_report_due(intermediate_submitted_at=local(submitted), cal=HH)
    assert shown(value) == due


def test_month_addition_clamps_to_the_end_of_the_month() -> None:
    assert shown(add_months(local("2026-01-31 09:00"), 1, BERLIN)) == "2026-02-28 09:00 CET"
    assert shown(add_months(local("2026-12-15 09:00"), 1, BERLIN)) == "2027-01-15 09:00 CET"


def test_gdpr_clock_is_72_hours_from_awareness_without_weekend_rule() -> None:
    assert shown(gdpr_due(local("2026-11-27 09:00"))) == "2026-11-30 09:00 CET"
    assert shown(gdpr_due(local("2026-03-27 09:00"))) == "2026-03-30 10:00 CEST"
