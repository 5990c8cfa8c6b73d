"""What escalation needs from the incident response, named here so alerting does not import it.

Alerting sits below incidents (incidents raise alerts and send notices through the outbox); an
escalation that reaches an incident level hands an ``EscalationOpening`` to whatever implements
``IncidentResponse``. ``leitstand.incidents.service.IncidentService`` does, structurally;
incidents' wiring (``leitstand.incidents.wiring``) connects it with
``AlertingService.connect_incidents``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from leitstand.db import Session
from leitstand.identity import Actor

__all__ = ["EscalationOpening", "IncidentOpening", "IncidentResponse", "OpenedIncident"]


@dataclass(frozen=True, slots=True)
class EscalationOpening:
    """An escalation that reached a level which starts the incident response."""

    escalation_id: int
    alert_id: int
    fingerprint: str
    title: str
    service: str | None = None
    tenant: str | None = None
    severity: str | None = None
    # The alert group (hashed groupKey) and the incidents it already has, newest first.
    group_key: str | None = None
    group_incidents: tuple[str, ...] = ()
    # When the alert was detected (its start) and when the provider became aware of it.
    detected_at: datetime | None = None
    aware_at: datetime | None = None


class OpenedIncident(Protocol):
    """An incident as escalation sees it: its number."""

    @property
    def id(self) -> str: ...


class IncidentOpening(Protocol):
    """Open or join the incidents of escalations, in the caller's transaction."""

    def from_escalations(
        self, session: Session, openings: Sequence[EscalationOpening], *, actor: Actor
    ) -> Sequence[OpenedIncident]: ...

    def join_groups(
        self, session: Session, openings: Sequence[EscalationOpening], *, actor: Actor
    ) -> Sequence[OpenedIncident | None]: ...


class IncidentResponse(Protocol):
    """The incident service, as far as escalation uses it."""

    @property
    def opener(self) -> IncidentOpening: ...
