from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import BaseModel, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from leitstand.policy.durations import (
    YEAR,
    Duration,
    DurationOrUnlimited,
    PositiveDuration,
    ReactionTime,
    format_duration,
    parse_duration,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("15min", timedelta(minutes=15)),
        ("15 min", timedelta(minutes=15)),
        ("4h", timedelta(hours=4)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(days=14)),
        ("5y", timedelta(days=5 * 365)),
        ("1h30m", timedelta(minutes=90)),
        ("1.5h", timedelta(minutes=90)),
        ("500ms", timedelta(milliseconds=500)),
        (90, timedelta(seconds=90)),
        ("90", timedelta(seconds=90)),
        ("PT15M", timedelta(minutes=15)),
        ("P1D", timedelta(days=1)),
        ("P1W", timedelta(days=7)),
        ("P1Y", YEAR),
        ("P1DT2H", timedelta(days=1, hours=2)),
        (timedelta(hours=2), timedelta(hours=2)),
    ],
)
def test_duration_accepts_compact_integer_and_iso_forms(text: object, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (timedelta(seconds=30), "30s"),
        (timedelta(minutes=15), "15m"),
        (timedelta(hours=4), "4h"),
        (timedelta(hours=24), "24h"),
        (timedelta(hours=72), "72h"),
        (timedelta(days=7), "7d"),
        (timedelta(days=14), "14d"),
        (timedelta(days=30), "30d"),
        (timedelta(days=365), "1y"),
        (timedelta(days=5 * 365), "5y"),
        (timedelta(seconds=90), "90s"),
        (timedelta(0), "0s"),
        (timedelta(milliseconds=250), "250ms"),
    ],
)
def test_duration_serialises_to_the_compact_form(value: timedelta, expected: str) -> None:
    assert format_duration(value) == expected
    assert parse_duration(expected) == value


@pytest.mark.parametrize("bad", ["abc", "15 fortnights", "", "P", "-5m", True, 1.5, None, [1]])
def test_duration_rejects_garbage_with_expected_and_got(bad: object) -> None:
    with pytest.raises(ValueError, match=r"^a duration like 30s, 15m, 4h.*\(got .*\)$"):
        parse_duration(bad)


def test_duration_refuses_months_because_they_have_no_fixed_length() -> None:
    with pytest.raises(ValueError, match="months have no fixed length"):
        parse_duration("P1M")


def test_negative_seconds_are_refused() -> None:
    with pytest.raises(ValueError, match="not negative"):
        parse_duration(-5)


def test_a_year_is_365_days_in_parsing_and_comparison() -> None:
    assert parse_duration("5y") == parse_duration("1825d") == 5 * YEAR
    assert format_duration(parse_duration("1825d")) == "5y"


class _Model(BaseModel):
    any_length: Duration
    positive: PositiveDuration
    retention: DurationOrUnlimited
    reaction: ReactionTime


def test_duration_types_serialise_compactly_in_json_and_keep_timedelta_in_python() -> None:
    model = _Model(
        any_length="0s", positive="15min", retention="unlimited", reaction="next_business_day"
    )
    assert model.positive == timedelta(minutes=15)
    assert model.model_dump(mode="json") == {
        "any_length": "0s",
        "positive": "15m",
        "retention": "unlimited",
        "reaction": "next_business_day",
    }
    assert model.model_dump()["positive"] == timedelta(minutes=15)
    again = _Model.model_validate(model.model_dump(mode="json"))
    assert again == model


def test_positive_duration_refuses_zero() -> None:
    with pytest.raises(PydanticValidationError, match=r"longer than 0s \(got '0s'\)"):
        TypeAdapter(PositiveDuration).validate_python("0s")


def test_keyword_durations_refuse_unknown_keywords() -> None:
    with pytest.raises(PydanticValidationError, match="or 'unlimited' \\(got 'forever'\\)"):
        TypeAdapter(DurationOrUnlimited).validate_python("forever")
