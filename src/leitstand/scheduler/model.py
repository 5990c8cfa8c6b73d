"""Schedules and retry rules for durable timers (pure: takes ``now``, returns times)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from croniter import croniter

__all__ = ["JobStatus", "Recurrence", "next_retry", "parse_recurrence"]

_EVERY = re.compile(r"^every\s+(\d+)\s*(s|m|h|d)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class JobStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Recurrence:
    """A recurring schedule: a cron expression in a timezone, or a fixed interval."""

    expression: str
    timezone: str = "Europe/Berlin"

    def next_after(self, after: datetime) -> datetime:
        """The first occurrence strictly after ``after`` (aware UTC in, aware UTC out)."""
        match = _EVERY.match(self.expression)
        if match:
            return after + timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
        local = after.astimezone(ZoneInfo(self.timezone))
        nxt: datetime = croniter(self.expression, local).get_next(datetime)
        return nxt.astimezone(UTC)

    def next_due(self, *, previous_due: datetime, now: datetime) -> datetime:
        """Next due time after a firing; missed occurrences while down collapse into one."""
        candidate = self.next_after(previous_due)
        if candidate <= now:
            candidate = self.next_after(now)
        return candidate


def parse_recurrence(expression: str, timezone: str = "Europe/Berlin") -> Recurrence:
    """Validate a schedule: ``every 30 s|m|h|d`` or a 5-field cron expression."""
    text = expression.strip()
    if _EVERY.match(text):
        return Recurrence(text, timezone)
    try:
        ZoneInfo(timezone)
    except (KeyError, ValueError) as exc:
        raise ValueError(f"unknown timezone {timezone!r}") from exc
    if not croniter.is_valid(text) or len(text.split()) != 5:
        raise ValueError(
            f"expected a 5-field cron expression or 'every <n> s|m|h|d' (got {expression!r})"
        )
    return Recurrence(text, timezone)


def next_retry(attempts: int, now: datetime, *, base: timedelta, cap: timedelta) -> datetime:
    """Exponential backoff for a failed firing: base * 2^(attempts-1), at most ``cap``."""
    delay: timedelta = base * (2 ** max(0, attempts - 1))
    return now + min(delay, cap)
