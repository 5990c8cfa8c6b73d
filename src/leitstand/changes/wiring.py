"""Build the change service and register its timers (the registry's entry for changes)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from leitstand.alerting.service import AlertingService
from leitstand.changes.service import ChangeService

if TYPE_CHECKING:
    from leitstand.bootstrap import Wiring

__all__ = ["wire"]


def wire(w: Wiring) -> None:
    changes = ChangeService(
        db=w.db,
        ledger=w.ledger,
        clock=w.clock,
        policy=w.policy,
        scheduler=w.scheduler,
        alerting=w.get(AlertingService),
    )
    changes.register_jobs()
    w.add(changes)
