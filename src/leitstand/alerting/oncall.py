"""Who is on call when: a weekly rotation with overrides (pure: takes ``now``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from leitstand.policy.notifications import OnCallRotation, Weekday

__all__ = ["Shift", "current_shift", "shifts"]

_WEEKDAYS = list(Weekday)
_WEEK = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Shift:
    """One stretch of on-call duty."""

    person: str
    start: datetime
    end: datetime
    override: bool = False
    reason: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "person": self.person,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "override": self.override,
            "reason": self.reason,
        }


def _handover(rotation: OnCallRotation, local_day: datetime) -> datetime:
    """The handover at ``local_day``'s date, in UTC (wall-clock time, so DST-safe)."""
    zone = ZoneInfo(rotation.timezone)
    wall = datetime.combine(local_day.date(), rotation.handover_time, tzinfo=zone)
    return wall.astimezone(UTC)


def _first_handover(rotation: OnCallRotation) -> datetime:
    zone = ZoneInfo(rotation.timezone)
    day = datetime.combine(rotation.start, rotation.handover_time, tzinfo=zone)
    target = _WEEKDAYS.index(rotation.handover_day)
    day += timedelta(days=(target - day.weekday()) % 7)
    return _handover(rotation, day)


def _regular(rotation: OnCallRotation, at: datetime) -> Shift | None:
    if not rotation.people:
        return None
    zone = ZoneInfo(rotation.timezone)
    first = _first_handover(rotation)
    first_local = first.astimezone(zone)
    local = at.astimezone(zone)
    # Count whole weeks on the calendar (not in hours), so a DST change does not shift turns.
    weeks = (local.date() - first_local.date()).days // 7
    start = _handover(rotation, first_local + weeks * _WEEK)
    if start > at:
        weeks -= 1
        start = _handover(rotation, first_local + weeks * _WEEK)
    end = _handover(rotation, first_local + (weeks + 1) * _WEEK)
    person = rotation.people[weeks % len(rotation.people)]
    return Shift(person=person, start=start, end=end)


def current_shift(rotation: OnCallRotation, at: datetime) -> Shift | None:
    """The shift covering ``at``: an override if one applies (the latest begun), else the turn."""
    active = [o for o in rotation.overrides if o.start <= at < o.end]
    if active:
        chosen = max(active, key=lambda o: o.start)
        return Shift(
            person=chosen.person,
            start=chosen.start.astimezone(UTC),
            end=chosen.end.astimezone(UTC),
            override=True,
            reason=chosen.reason,
        )
    return _regular(rotation, at)


def shifts(rotation: OnCallRotation, start: datetime, weeks: int) -> list[Shift]:
    """The regular turns from ``start`` for ``weeks`` weeks, with overrides cut in."""
    result: list[Shift] = []
    at = start
    end = start + weeks * _WEEK
    while at < end:
        shift = current_shift(rotation, at)
        if shift is None:
            return result
        nxt = [o.start for o in rotation.overrides if at < o.start < shift.end]
        stop = min([shift.end, *nxt])
        result.append(Shift(shift.person, max(shift.start, at), stop, shift.override, shift.reason))
        at = stop
    return result
