"""Build the gate service: it reads change approvals and flags, and raises security alerts (the
registry's entry for gates)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from leitstand.alerting.service import AlertingService
from leitstand.changes.service import ChangeService
from leitstand.flags.service import FlagService
from leitstand.gates.service import GateService

if TYPE_CHECKING:
    from leitstand.bootstrap import Wiring

__all__ = ["wire"]


def wire(w: Wiring) -> None:
    w.add(
        GateService(
            db=w.db,
            ledger=w.ledger,
            clock=w.clock,
            policy=w.policy,
            approvals=w.get(ChangeService).state_for,
            flags=w.get(FlagService).list_flags,
            alerting=w.get(AlertingService),
        )
    )
