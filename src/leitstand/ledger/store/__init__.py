"""The ledger's store: its tables and every query of the ledger package.

``tables`` holds the ORM rows, ``entries`` the entries, head and kept checkpoints, ``witness``
the witness deliveries, ``verifications`` the verifier's records, ``hooks`` the session events.
"""

from __future__ import annotations

from leitstand.ledger.store.tables import (
    LedgerCheckpointRow,
    LedgerEntryRow,
    LedgerStateRow,
    LedgerVerificationRow,
    WitnessDeliveryRow,
)

__all__ = [
    "LedgerCheckpointRow",
    "LedgerEntryRow",
    "LedgerStateRow",
    "LedgerVerificationRow",
    "WitnessDeliveryRow",
]
