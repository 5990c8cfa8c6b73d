"""What the parts of the incident domain (response, DORA, reporting) need of the service facade.

``IncidentFacade`` is the facade as they see it (``service.IncidentService`` implements it);
``IncidentPart`` is their common base. The parts import this module, never ``service``, so the
facade can drive them without an import cycle.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol

from leitstand.auth.model import Actor
from leitstand.clock import Clock
from leitstand.db import Database, Session
from leitstand.incidents.store import IncidentRow
from leitstand.ledger.service import Ledger
from leitstand.policy.model import Policy

if TYPE_CHECKING:
    from leitstand.incidents.response.deadline_timers import IncidentClocks

__all__ = ["ACTOR", "IncidentFacade", "IncidentPart"]

#: The actor of what the incident domain does by itself (deadline alerts, recurring findings).
ACTOR = Actor(name="leitstand:incidents", role="system")


class IncidentFacade(Protocol):
    """The incident service as its parts use it: store, ledger, clock, policy, and the unit of
    work around one incident."""

    db: Database
    ledger: Ledger
    clock: Clock
    policy: Policy

    @property
    def clocks(self) -> IncidentClocks: ...

    def changing(self, incident_id: str) -> AbstractContextManager[tuple[Session, IncidentRow]]:
        """A transaction with the incident's row, locked."""
        ...

    def load_row(self, session: Session, incident_id: str, *, lock: bool = False) -> IncidentRow:
        """The incident's row, or NotFoundError."""
        ...

    def after_change(self, session: Session, row: IncidentRow, *, why: str) -> None:
        """Re-arm the incident's deadline timers and fire the escalation rules that apply."""
        ...


class IncidentPart:
    """A part of the incident domain that works with an ``IncidentFacade``'s store, ledger,
    clock and policy (history, reporting, recurrences, action items)."""

    def __init__(self, incidents: IncidentFacade) -> None:
        self.incidents = incidents
        self.policy = incidents.policy
        self.ledger = incidents.ledger
        self.clock = incidents.clock
        self.db = incidents.db
