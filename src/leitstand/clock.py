"""Time source. Services receive a Clock; models take ``now`` as a plain argument.

Inside leitstand time is always timezone-aware UTC; Europe/Berlin is for display and business days.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

__all__ = ["BERLIN", "Clock", "SystemClock", "ensure_utc", "isoformat_utc"]

BERLIN = ZoneInfo("Europe/Berlin")


class Clock(Protocol):
    """Anything that can tell the current aware UTC time."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real wall clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


def ensure_utc(value: datetime) -> datetime:
    """Return ``value`` as aware UTC; naive values are refused, never guessed."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: leitstand needs timezone-aware times")
    return value.astimezone(UTC)


def isoformat_utc(value: datetime) -> str:
    """Render an aware time as RFC 3339 UTC with microseconds and a ``Z`` suffix."""
    # isoformat is several times faster than strftime and gives the same fixed-width text.
    return ensure_utc(value).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
