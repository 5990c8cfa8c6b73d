"""Build the images service (the registry's entry for images).

Signing reads the gates' own run records through ``GateService.recorded_run`` (the
``gate_port.GateRunLookup`` port): images sit below gates in the layers, so the registry wires
images after gates, as it wires gates after the changes and flags it reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from leitstand.gates.service import GateService
from leitstand.images.service import ImageService

if TYPE_CHECKING:
    from leitstand.bootstrap import Wiring

__all__ = ["wire"]


def wire(w: Wiring) -> None:
    w.add(
        ImageService(
            db=w.db,
            ledger=w.ledger,
            policy=w.policy,
            home=w.settings.home,
            gate_runs=w.get(GateService).recorded_run,
            clock=w.clock,
        )
    )
