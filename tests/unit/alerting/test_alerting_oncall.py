"""The on-call rotation: weekly turns at the handover time, DST-safe, overrides win."""

from __future__ import annotations

from datetime import UTC, datetime

from leitstand.alerting.oncall import current_shift, shifts
from leitstand.policy.notifications import OnCallOverride, OnCallRotation

ROTATION = OnCallRotation(people=["carla", "dirk", "eva"], start="2026-01-05")  # a Monday


def test_turns_change_weekly_at_the_handover_time_in_berlin() -> None:
    before = current_shift(ROTATION, datetime(2026, 1, 12, 7, 59, tzinfo=UTC))  # 08:59 Berlin
    after = current_shift(ROTATION, datetime(2026, 1, 12, 8, 0, tzinfo=UTC))  # 09:00 Berlin
    assert before is not None and after is not None
    assert (before.person, after.person) == ("carla", "dirk")
    assert after.start == datetime(2026, 1, 12, 8, 0, tzinfo=UTC)


def test_the_handover_stays_at_nine_local_across_daylight_saving_time() -> None:
    summer = current_shift(ROTATION, datetime(2026, 3, 30, 7, 0, tzinfo=UTC))  # 09:00 CEST
    assert summer is not None and summer.start == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)


def test_an_override_wins_for_its_period() -> None:
    rotation = ROTATION.model_copy(
        update={
            "overrides": [
                OnCallOverride(
                    person="eva",
                    start=datetime(2026, 1, 13, tzinfo=UTC),
                    end=datetime(2026, 1, 14, tzinfo=UTC),
                    reason="swap",
                )
            ]
        }
    )
    shift = current_shift(rotation, datetime(2026, 1, 13, 12, tzinfo=UTC))
    assert shift is not None and (shift.person, shift.override) == ("eva", True)
    plan = shifts(rotation, datetime(2026, 1, 12, 9, tzinfo=UTC), 1)
    assert [s.person for s in plan] == ["dirk", "eva", "dirk", "eva"]


def test_no_people_means_nobody_on_call() -> None:
    assert current_shift(OnCallRotation(), datetime(2026, 1, 13, tzinfo=UTC)) is None
