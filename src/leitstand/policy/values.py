"""How values are quoted in messages: the way a user would write them in YAML."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from enum import Enum

__all__ = ["MICROSECONDS", "describe", "format_duration", "number"]

MICROSECONDS = {
    "us": 1,
    "ms": 1_000,
    "s": 1_000_000,
    "m": 60_000_000,
    "h": 3_600_000_000,
    "d": 86_400_000_000,
    "w": 7 * 86_400_000_000,
    "y": 365 * 86_400_000_000,
}

_OUTPUT_UNITS = ("y", "d", "h", "m", "s", "ms", "us")


def format_duration(value: timedelta) -> str:
    """Render a duration in the compact single-unit form, e.g. ``"15m"``, ``"4h"``, ``"5y"``."""
    micro = value // timedelta(microseconds=1)
    if micro == 0:
        return "0s"
    sign = "-" if micro < 0 else ""
    micro = abs(micro)
    for unit in _OUTPUT_UNITS:
        # Below a week, hours read better: "24h", "72h" as the seed writes them, but "7d", "30d".
        if unit == "d" and micro < 7 * MICROSECONDS["d"]:
            continue
        if micro % MICROSECONDS[unit] == 0:
            return f"{sign}{micro // MICROSECONDS[unit]}{unit}"
    raise AssertionError("unreachable: every duration is a whole number of microseconds")


def number(value: float) -> str:
    """Render a number without a needless ``.0`` (``70.0`` -> ``70``)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def describe(value: object) -> str:
    """Quote a user-supplied value for a ``(got X)`` message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return repr(str(value.value))
    if isinstance(value, int | float):
        return number(value)
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, Sequence | set):
        items = list(value)
        if len(items) <= 6 and all(isinstance(i, str | int | float) for i in items):
            return "[" + ", ".join(describe(i) for i in items) + "]"
        return "a list"
    return repr(value)
