"""How values are quoted in messages: the way a user would write them in YAML."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from enum import Enum

__all__ = ["describe", "number"]


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
        # Imported late: durations imports this module.
        from leitstand.policy.durations import format_duration

        return format_duration(value)
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, Sequence | set):
        items = list(value)
        if len(items) <= 6 and all(isinstance(i, str | int | float) for i in items):
            return "[" + ", ".join(describe(i) for i in items) + "]"
        return "a list"
    return repr(value)
