"""The duration of an incident as DORA measures it (pure).

Delegated Regulation (EU) 2024/1772 Art. 3(1): from the moment the incident occurred to the
moment it was resolved; where the moment of occurrence is not known, from the earlier of its
detection and its recording. Field 3.15 of the report template ("Dauer des schwerwiegenden
IKT-bezogenen Vorfalls (Stunden)") and the post-mortem's "Dauer" both state this one value.
An incident not yet resolved is measured up to ``now``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

__all__ = ["Timed", "incident_duration", "incident_duration_hours"]


class Timed(Protocol):
    """The times of an incident the duration is measured from (``IncidentOut`` has them)."""

    @property
    def occurred_at(self) -> datetime | None: ...
    @property
    def detected_at(self) -> datetime | None: ...
    @property
    def opened_at(self) -> datetime: ...
    @property
    def resolved_at(self) -> datetime | None: ...


def incident_duration(incident: Timed, now: datetime) -> timedelta:
    """From occurrence (else the earlier of detection and recording) to resolution (else now)."""
    start = incident.occurred_at
    if start is None:
        detected = incident.detected_at
        start = incident.opened_at if detected is None else min(detected, incident.opened_at)
    return max((incident.resolved_at or now) - start, timedelta(0))


def incident_duration_hours(incident: Timed, now: datetime) -> float:
    """:func:`incident_duration` in hours to two decimals, as field 3.15 states it."""
    return round(incident_duration(incident, now).total_seconds() / 3600, 2)
