"""The read model of an incident (what services return and entry points show)."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from leitstand.incidents.store import IncidentRow

__all__ = ["IncidentView", "view_of"]


@dataclass(frozen=True, slots=True)
class IncidentView:
    id: str
    title: str
    severity: str
    status: str
    phase: str
    opened_at: datetime
    opened_by: str
    service: str | None
    tenant: str | None
    source: str
    alert_id: int | None
    alert_fingerprint: str | None
    escalation_id: int | None
    systems: list[str]
    tenants: list[str]
    commander: str | None
    scribe: str | None
    communication: str | None
    description: str | None
    root_cause: str | None
    root_cause_key: str | None
    impact: str | None
    occurred_at: datetime | None
    detected_at: datetime | None
    aware_at: datetime | None
    acknowledged_at: datetime | None
    contained_at: datetime | None
    recovered_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    personal_data_affected: bool
    gdpr_notified_at: datetime | None
    postmortem_at: datetime | None
    merged_into: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            data[f.name] = value.isoformat() if isinstance(value, datetime) else value
        return data

    def duration_seconds(self, now: datetime) -> float:
        """From occurrence (or detection, or opening) to resolution (or now)."""
        start = self.occurred_at or self.detected_at or self.opened_at
        return ((self.resolved_at or now) - start).total_seconds()


def view_of(row: IncidentRow) -> IncidentView:
    values: dict[str, Any] = {}
    for f in fields(IncidentView):
        value = getattr(row, f.name)
        if f.name in ("systems", "tenants"):
            value = json.loads(value or "[]")
        elif f.name == "personal_data_affected":
            value = bool(value)
        values[f.name] = value
    return IncidentView(**values)
