"""Build the flag service (the registry's entry for flags)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from leitstand.flags.service import FlagService

if TYPE_CHECKING:
    from leitstand.bootstrap import Wiring

__all__ = ["wire"]


def wire(w: Wiring) -> None:
    w.add(FlagService(db=w.db, ledger=w.ledger, clock=w.clock, policy=w.policy))
