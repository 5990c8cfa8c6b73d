"""Durations as people write them in leitstand.yaml, and back.

Accepted: ``"30s"``, ``"15m"``/``"15min"``, ``"4h"``, ``"7d"``, ``"2w"``, ``"5y"``, combinations
such as ``"1h30m"``, integers (seconds) and ISO 8601 (``"PT15M"``, ``"P1D"``). A year is 365 days,
in parsing, formatting and every comparison (legal minimums included). Months are refused: they
have no fixed length. Output is the compact single-unit form: ``"15m"``, ``"4h"``, ``"30d"``,
``"5y"``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal

from pydantic import PlainSerializer, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from leitstand.policy.values import MICROSECONDS as _MICRO
from leitstand.policy.values import describe, format_duration

__all__ = [
    "UNLIMITED",
    "YEAR",
    "ActionDeadline",
    "Duration",
    "DurationOrUnlimited",
    "PositiveDuration",
    "ReactionTime",
    "format_duration",
    "parse_duration",
]

YEAR = timedelta(days=365)
UNLIMITED = "unlimited"

_ALIASES = {
    "sec": "s",
    "secs": "s",
    "second": "s",
    "seconds": "s",
    "min": "m",
    "mins": "m",
    "minute": "m",
    "minutes": "m",
    "hr": "h",
    "hrs": "h",
    "hour": "h",
    "hours": "h",
    "day": "d",
    "days": "d",
    "week": "w",
    "weeks": "w",
    "year": "y",
    "years": "y",
}
# Output never uses weeks: "14d" reads better than "2w" next to the seed's "14 Tage".
_NUM = r"\d+(?:\.\d+)?"
_COMPACT = re.compile(rf"^(?:\s*{_NUM}\s*[a-z]+)+\s*$")
_TOKEN = re.compile(rf"({_NUM})\s*([a-z]+)")
_ISO = re.compile(
    r"^P(?!$)(?:(?P<y>\d+(?:[.,]\d+)?)Y)?(?:(?P<mo>\d+(?:[.,]\d+)?)M)?(?:(?P<w>\d+(?:[.,]\d+)?)W)?"
    r"(?:(?P<d>\d+(?:[.,]\d+)?)D)?(?:T(?=\d)(?:(?P<h>\d+(?:[.,]\d+)?)H)?"
    r"(?:(?P<m>\d+(?:[.,]\d+)?)M)?(?:(?P<s>\d+(?:[.,]\d+)?)S)?)?$"
)
EXPECTED = "a duration like 30s, 15m, 4h, 7d, 2w, 5y, seconds as an integer or ISO 8601 (PT15M)"


def _from_micro(amount: Decimal) -> timedelta:
    if amount != amount.to_integral_value():
        raise ValueError("finer than a microsecond")
    return timedelta(microseconds=int(amount))


def _parse_iso(text: str) -> timedelta:
    match = _ISO.match(text)
    if match is None:
        raise ValueError("not ISO 8601")
    if match.group("mo") is not None:
        raise ValueError("months have no fixed length; use days (30d) or years (1y)")
    total = Decimal(0)
    for group, unit in (("y", "y"), ("w", "w"), ("d", "d"), ("h", "h"), ("m", "m"), ("s", "s")):
        value = match.group(group)
        if value is not None:
            total += Decimal(value.replace(",", ".")) * _MICRO[unit]
    return _from_micro(total)


def parse_duration(value: object) -> timedelta:
    """Parse a duration from a string, an integer number of seconds or a timedelta."""
    if isinstance(value, timedelta):
        result = value
    elif isinstance(value, bool):
        raise ValueError(f"{EXPECTED} (got {describe(value)})")
    elif isinstance(value, int):
        result = timedelta(seconds=value)
    elif isinstance(value, str):
        result = _parse_text(value)
    else:
        raise ValueError(f"{EXPECTED} (got {describe(value)})")
    if result < timedelta(0):
        raise ValueError(f"a duration that is not negative (got {describe(value)})")
    return result


def _parse_text(value: str) -> timedelta:
    text = value.strip()
    try:
        if text.startswith("P"):
            return _parse_iso(text)
        lowered = text.lower()
        if lowered.isdigit():
            return timedelta(seconds=int(lowered))
        if not _COMPACT.match(lowered):
            raise ValueError("no unit")
        total = Decimal(0)
        for number, unit in _TOKEN.findall(lowered):
            key = _ALIASES.get(unit, unit)
            if key not in _MICRO:
                raise ValueError(f"unknown unit {unit!r}")
            total += Decimal(number) * _MICRO[key]
        return _from_micro(total)
    except (ValueError, InvalidOperation, OverflowError) as err:
        detail = str(err)
        hint = f"; {detail}" if detail.startswith("months") else ""
        raise ValueError(f"{EXPECTED}{hint} (got {describe(value)})") from None


def _duration(value: object) -> timedelta:
    try:
        return parse_duration(value)
    except ValueError as err:
        raise PydanticCustomError("duration", str(err)) from None


def _positive(value: object) -> timedelta:
    result = _duration(value)
    if result <= timedelta(0):
        raise PydanticCustomError("duration", f"a duration longer than 0s (got {describe(value)})")
    return result


def _keyword_or(keywords: tuple[str, ...]) -> PlainValidator:
    options = " or ".join(repr(k) for k in keywords)

    def validate(value: object) -> object:
        if isinstance(value, str) and value.strip() in keywords:
            return value.strip()
        try:
            return parse_duration(value)
        except ValueError:
            raise PydanticCustomError(
                "duration", f"{EXPECTED}, or {options} (got {describe(value)})"
            ) from None

    return PlainValidator(validate)


def _format_keyword_or_duration(value: timedelta | str) -> str:
    return value if isinstance(value, str) else format_duration(value)


def _schema(extra: str = "") -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "description": EXPECTED + extra})


_SERIALISE = PlainSerializer(format_duration, return_type=str, when_used="json")
_SERIALISE_KEYWORD = PlainSerializer(_format_keyword_or_duration, return_type=str, when_used="json")

Duration = Annotated[timedelta, PlainValidator(_duration), _SERIALISE, _schema()]
"""A non-negative duration."""

PositiveDuration = Annotated[timedelta, PlainValidator(_positive), _SERIALISE, _schema()]
"""A duration longer than zero."""

DurationOrUnlimited = Annotated[
    timedelta | Literal["unlimited"],
    _keyword_or((UNLIMITED,)),
    _SERIALISE_KEYWORD,
    _schema(", or 'unlimited'"),
]
"""A retention or lifetime; ``"unlimited"`` keeps forever."""

ReactionTime = Annotated[
    timedelta | Literal["next_business_day"],
    _keyword_or(("next_business_day",)),
    _SERIALISE_KEYWORD,
    _schema(", or 'next_business_day'"),
]
"""How fast an incident must be picked up; business days follow the Europe/Berlin calendar."""

ActionDeadline = Annotated[
    timedelta | Literal["next_opportunity", "immediately"],
    _keyword_or(("next_opportunity", "immediately")),
    _SERIALISE_KEYWORD,
    _schema(", or 'next_opportunity' or 'immediately'"),
]
"""When someone must act on an alert level."""
