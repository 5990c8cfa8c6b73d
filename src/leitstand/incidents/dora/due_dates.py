"""Deadline arithmetic (pure): working days, reaction times, DORA and GDPR clocks.

Times are aware UTC in and out. Durations in hours (4 h, 24 h, 72 h) are elapsed time, so they
are added in UTC and stay exact across the DST changes; calendar rules (next working day, 12:00
noon, one month later, five working days) are applied to the Europe/Berlin wall clock. Public
holidays come from the ``holidays`` library (German national and per-federal-state days).
"""

from __future__ import annotations

import calendar as _calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from leitstand.clock import BERLIN, ensure_utc
from leitstand.policy.incidents import IncidentsPolicy

__all__ = [
    "NOON",
    "WEEKEND_RULE_EXCLUDED",
    "Calendar",
    "ReportStage",
    "add_months",
    "calendar_of",
    "final_report_due",
    "gdpr_due",
    "initial_notification_due",
    "intermediate_report_due",
    "reaction_due",
    "weekend_rule_allowed",
]

NOON = time(12, 0)

#: Entity types that may NOT use the weekend/holiday rule for initial notifications and
#: intermediate reports (Delegated Regulation (EU) 2025/301, Art. 5: credit institutions, CCPs,
#: operators of trading venues and entities identified as essential or important under NIS2).
WEEKEND_RULE_EXCLUDED = frozenset(
    {
        "credit_institution",
        "central_counterparty",
        "trading_venue_operator",
        "nis2_essential_or_important_entity",
    }
)


class ReportStage(StrEnum):
    """The three DORA report stages (Implementing Regulation (EU) 2025/302: one template)."""

    INITIAL = "initial"
    INTERMEDIATE = "intermediate"
    FINAL = "final"


@lru_cache(maxsize=64)
def _holidays(state: str, year: int, lang: str) -> dict[date, str]:
    found = holidays.country_holidays(
        "DE", subdiv=state, years=year, language="de" if lang == "de" else "en_US"
    )
    return dict(found.items())


@dataclass(frozen=True, slots=True)
class Calendar:
    """Working days (Monday to Friday, not a public holiday of ``state``) in ``tz``."""

    state: str = "HH"
    tz: ZoneInfo = BERLIN
    working_day_end: time = time(17, 0)

    def holiday(self, day: date, lang: str = "de") -> str | None:
        """The name of the public holiday on ``day``, or None."""
        return _holidays(self.state, day.year, lang).get(day)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and self.holiday(day) is None

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after ``day``."""
        nxt = day + timedelta(days=1)
        while not self.is_working_day(nxt):
            nxt += timedelta(days=1)
        return nxt

    def add_working_days(self, day: date, count: int) -> date:
        """The ``count``-th working day after ``day``."""
        for _ in range(count):
            day = self.next_working_day(day)
        return day

    def local(self, when: datetime) -> datetime:
        return ensure_utc(when).astimezone(self.tz)

    def at(self, day: date, clock: time) -> datetime:
        """The UTC instant of local ``clock`` on ``day``."""
        return datetime.combine(day, clock, tzinfo=self.tz).astimezone(UTC)

    def end_of_working_days(self, start: datetime, count: int) -> datetime:
        """``working_day_end`` on the ``count``-th working day after the local date of ``start``."""
        return self.at(self.add_working_days(self.local(start).date(), count), self.working_day_end)

    def shift_off_day(self, due: datetime) -> datetime:
        """A due time on a weekend day or holiday moves to 12:00 noon of the next working day."""
        day = self.local(due).date()
        if self.is_working_day(day):
            return ensure_utc(due)
        return self.at(self.next_working_day(day), NOON)


def calendar_of(policy: IncidentsPolicy) -> Calendar:
    """The working-day calendar the policy names (federal state, zone, end of the working day)."""
    hour, minute = (int(x) for x in policy.calendar.working_day_end.split(":"))
    return Calendar(
        state=policy.calendar.federal_state,
        tz=ZoneInfo(policy.calendar.timezone),
        working_day_end=time(hour, minute),
    )


def reaction_due(opened_at: datetime, reaction: timedelta | str, cal: Calendar) -> datetime:
    """When the reaction to an incident is due: a duration, or the next working day."""
    if isinstance(reaction, timedelta):
        return ensure_utc(opened_at) + reaction
    if reaction != "next_business_day":
        raise ValueError(f"unknown reaction time {reaction!r}")
    return cal.end_of_working_days(opened_at, 1)


def weekend_rule_allowed(entity_type: str | None, stage: ReportStage) -> bool:
    """Whether a report of ``stage`` may move to the next working day (2025/301 Art. 5)."""
    if stage is ReportStage.FINAL:
        return True
    return (entity_type or "") not in WEEKEND_RULE_EXCLUDED


def _apply(due: datetime, cal: Calendar | None) -> datetime:
    return cal.shift_off_day(due) if cal is not None else due


def initial_notification_due(
    *,
    aware_at: datetime,
    classified_at: datetime,
    after_classification: timedelta = timedelta(hours=4),
    after_awareness: timedelta = timedelta(hours=24),
    cal: Calendar | None = None,
) -> datetime:
    """Within 4 h of classification, never later than 24 h after awareness.

    Classified only after the 24 h had passed: within 4 h of classification. ``cal`` applies the
    weekend/holiday rule (pass None where the entity type does not allow it).
    """
    aware, classified = ensure_utc(aware_at), ensure_utc(classified_at)
    cap = aware + after_awareness
    due = classified + after_classification
    if classified < cap:
        due = min(due, cap)
    return _apply(due, cal)


def intermediate_report_due(
    *,
    initial_submitted_at: datetime,
    within: timedelta = timedelta(hours=72),
    cal: Calendar | None = None,
) -> datetime:
    """Within 72 h of submitting the initial notification."""
    return _apply(ensure_utc(initial_submitted_at) + within, cal)


def add_months(when: datetime, months: int, tz: ZoneInfo) -> datetime:
    """The same local wall-clock time ``months`` later (the day clamped to the month's end)."""
    local = ensure_utc(when).astimezone(tz)
    month_index = local.month - 1 + months
    year, month = local.year + month_index // 12, month_index % 12 + 1
    day = min(local.day, _calendar.monthrange(year, month)[1])
    naive = local.replace(tzinfo=None, year=year, month=month, day=day)
    return naive.replace(tzinfo=tz).astimezone(UTC)


def final_report_due(
    *,
    intermediate_submitted_at: datetime,
    months: int = 1,
    tz: ZoneInfo = BERLIN,
    cal: Calendar | None = None,
) -> datetime:
    """Within one month of the latest (updated) intermediate report."""
    return _apply(add_months(intermediate_submitted_at, months, tz), cal)


def gdpr_due(aware_at: datetime, within: timedelta = timedelta(hours=72)) -> datetime:
    """GDPR Art. 33: 72 h after becoming aware (no weekend rule)."""
    return ensure_utc(aware_at) + within
