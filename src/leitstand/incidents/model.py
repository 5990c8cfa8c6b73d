"""Incident ids, statuses, the five response phases and their timestamps (pure).

Phases run forward one at a time: Erkennung -> Eindämmung -> Analyse -> Behebung ->
Nachbereitung, then the incident is closed. Entering a phase stamps the milestone it implies
(acknowledged, contained, resolved); the eight milestones must stay in order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from leitstand.errors import ConflictError, Issue, ValidationError

__all__ = [
    "INCIDENT_ID",
    "MILESTONES",
    "PHASE_ORDER",
    "ActionStatus",
    "IncidentRole",
    "IncidentStatus",
    "Phase",
    "check_milestones",
    "format_incident_id",
    "label_pair",
    "next_phase",
    "parse_incident_id",
    "phase_milestones",
]

INCIDENT_ID = re.compile(r"^INC-(\d{4})-(\d{4,})$")


class IncidentStatus(StrEnum):
    """Where an incident stands: open through remediation, resolved in follow-up, then closed."""

    OPEN = "open"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Phase(StrEnum):
    """The seed's five phases (policy keys of ``incidents.phases``)."""

    DETECTION = "detection"
    CONTAINMENT = "containment"
    ANALYSIS = "analysis"
    REMEDIATION = "remediation"
    FOLLOW_UP = "follow_up"


PHASE_ORDER: tuple[Phase, ...] = tuple(Phase)

#: The milestones in the order they must have happened.
MILESTONES: tuple[str, ...] = (
    "occurred_at",
    "detected_at",
    "aware_at",
    "acknowledged_at",
    "contained_at",
    "recovered_at",
    "resolved_at",
    "closed_at",
)


class IncidentRole(StrEnum):
    COMMANDER = "commander"
    SCRIBE = "scribe"
    COMMUNICATION = "communication"


class ActionStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CANCELLED = "cancelled"


def format_incident_id(year: int, sequence: int) -> str:
    """``INC-2026-0001``: the year it was opened and a per-year sequence."""
    return f"INC-{year:04d}-{sequence:04d}"


def parse_incident_id(value: str) -> tuple[int, int] | None:
    """The (year, sequence) of an incident id, or None when it is not one."""
    match = INCIDENT_ID.match(value)
    return (int(match.group(1)), int(match.group(2))) if match else None


def next_phase(current: Phase) -> Phase | None:
    index = PHASE_ORDER.index(current)
    return PHASE_ORDER[index + 1] if index + 1 < len(PHASE_ORDER) else None


def check_transition(incident_id: str, status: str, current: Phase, target: Phase) -> None:
    """Refuse anything but the next phase of an open incident."""
    if status == IncidentStatus.CLOSED.value:
        raise ConflictError(f"incident {incident_id} is closed; its phase cannot change")
    if target == current:
        raise ConflictError(f"incident {incident_id} is already in phase {target.value}")
    expected = next_phase(current)
    if target != expected:
        direction = "back" if PHASE_ORDER.index(target) < PHASE_ORDER.index(current) else "ahead"
        allowed = expected.value if expected else "none (close the incident)"
        raise ConflictError(
            f"incident {incident_id}: cannot move {direction} from {current.value} to "
            f"{target.value}; the next phase is {allowed}"
        )


#: The milestones entering a phase stamps (unless already set).
_PHASE_STAMPS: Mapping[Phase, tuple[str, ...]] = {
    Phase.CONTAINMENT: ("acknowledged_at",),
    Phase.ANALYSIS: ("acknowledged_at", "contained_at"),
    Phase.REMEDIATION: ("acknowledged_at", "contained_at"),
    Phase.FOLLOW_UP: ("acknowledged_at", "contained_at", "recovered_at", "resolved_at"),
}


def phase_milestones(target: Phase) -> tuple[str, ...]:
    return _PHASE_STAMPS.get(target, ())


def check_milestones(values: Mapping[str, datetime | None], *, now: datetime) -> None:
    """Every set milestone is not in the future and not before an earlier set one."""
    issues: list[Issue] = []
    previous: tuple[str, datetime] | None = None
    for name in MILESTONES:
        value = values.get(name)
        if value is None:
            continue
        if value > now:
            issues.append(Issue(name, f"must not be in the future (got {value.isoformat()})"))
        if previous is not None and value < previous[1]:
            issues.append(
                Issue(
                    name,
                    f"must not be before {previous[0]} ({previous[1].isoformat()}) "
                    f"(got {value.isoformat()})",
                )
            )
        previous = (name, value)
    if issues:
        raise ValidationError(issues)


@dataclass(frozen=True, slots=True)
class ActionItem:
    """A Maßnahme: what, who, until when, and where it stands."""

    number: int
    title: str
    owner: str
    due_date: date
    status: ActionStatus

    def overdue(self, today: date) -> bool:
        open_ = self.status in (ActionStatus.OPEN, ActionStatus.IN_PROGRESS)
        return open_ and self.due_date < today


def label_pair(de: str, en: str) -> dict[str, str]:
    """A timeline label in German and English, as evidence payloads carry it."""
    return {"label_de": de, "label_en": en}
