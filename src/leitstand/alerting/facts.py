"""What an alert says and what an entry point did with it (the alerting service's values)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

__all__ = ["AlertFacts", "AlertRef", "IntakeResult", "group_id"]


@dataclass(frozen=True, slots=True)
class AlertFacts:
    """What an alert says, whichever entry point it came through."""

    fingerprint: str
    name: str
    severity: str
    summary: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    service: str | None
    tenant: str | None
    source: str
    starts_at: datetime
    generator_url: str | None = None
    group_key: str | None = None  # the alert group (hashed groupKey); None: a group of its own


def group_id(group_key: str) -> str | None:
    """The stored id of an Alertmanager group: SHA-256 of its ``groupKey`` (None if empty)."""
    return hashlib.sha256(group_key.encode()).hexdigest() if group_key else None


@dataclass(frozen=True, slots=True)
class AlertRef:
    """The stored alert an entry point touched."""

    id: int
    fingerprint: str
    level: int
    status: str
    created: bool
    notified: bool


@dataclass(frozen=True, slots=True)
class IntakeResult:
    received: int
    new: int
    duplicates: int
    resolved: int
    ignored: int
    alerts: list[int]
