"""The five phases and the eight milestones: legal moves only, in order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from leitstand.errors import ConflictError, ValidationError
from leitstand.incidents.model import (
    MILESTONES,
    Phase,
    check_milestones,
    check_transition,
    next_phase,
    phase_milestones,
)

T0 = datetime(2026, 11, 27, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (Phase.DETECTION, Phase.CONTAINMENT),
        (Phase.CONTAINMENT, Phase.ANALYSIS),
        (Phase.ANALYSIS, Phase.REMEDIATION),
        (Phase.REMEDIATION, Phase.FOLLOW_UP),
    ],
)
def test_each_phase_moves_to_the_next(current: Phase, target: Phase) -> None:
    check_transition("INC-1", "open", current, target)
    assert next_phase(current) is target


@pytest.mark.parametrize(
    ("current", "target", "message"),
    [
        (
            Phase.DETECTION,
            Phase.ANALYSIS,
            "cannot move ahead from detection to analysis; the next phase is containment",
        ),
        (Phase.DETECTION, Phase.FOLLOW_UP, "cannot move ahead from detection to follow_up"),
        (Phase.ANALYSIS, Phase.CONTAINMENT, "cannot move back from analysis to containment"),
        (Phase.REMEDIATION, Phase.REMEDIATION, "already in phase remediation"),
        (Phase.FOLLOW_UP, Phase.DETECTION, "the next phase is none (close the incident)"),
    ],
)
def test_illegal_transitions_are_refused_with_a_clear_message(
    current: Phase, target: Phase, message: str
) -> None:
    with pytest.raises(ConflictError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_transition("INC-2026-0001", "open", current, target)


def test_a_closed_incident_cannot_change_phase() -> None:
    with pytest.raises(ConflictError, match="is closed"):
        check_transition("INC-1", "closed", Phase.FOLLOW_UP, Phase.FOLLOW_UP)


def test_phases_stamp_their_milestones() -> None:
    assert phase_milestones(Phase.CONTAINMENT) == ("acknowledged_at",)
    assert "contained_at" in phase_milestones(Phase.ANALYSIS)
    assert {"recovered_at", "resolved_at"} <= set(phase_milestones(Phase.FOLLOW_UP))
    assert phase_milestones(Phase.DETECTION) == ()


def test_milestones_in_order_pass() -> None:
    values = {name: T0 + timedelta(minutes=i) for i, name in enumerate(MILESTONES)}
    check_milestones(values, now=T0 + timedelta(hours=1))
    check_milestones({"detected_at": T0, "resolved_at": T0}, now=T0)


def test_milestones_out_of_order_name_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        check_milestones(
            {"detected_at": T0, "aware_at": T0 - timedelta(minutes=1)}, now=T0 + timedelta(hours=1)
        )
    assert [i.path for i in caught.value.issues] == ["aware_at"]
    assert "must not be before detected_at" in caught.value.issues[0].message


def test_milestones_in_the_future_are_refused() -> None:
    with pytest.raises(ValidationError, match="occurred_at: must not be in the future"):
        check_milestones({"occurred_at": T0 + timedelta(days=1)}, now=T0)
