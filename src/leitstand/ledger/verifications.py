"""The verifier's own records: one row per full ledger verification (``ledger_verifications``).

The overview and ``last_verification`` read these rows, never a ledger payload: a person can write
manual evidence, but only the verifier (``AuditService.verify``, run by the scheduled
``ledger.verify`` job, start-up, the CLI, the API and the UI) writes a verification row. Each row
names the ledger index of the ``ledger.verified`` entry recorded in the same transaction.
"""

from __future__ import annotations

from leitstand.ledger.store.tables import LedgerVerificationRow
from leitstand.ledger.store.verifications import (
    Verification,
    add_verification,
    latest_verification,
)

__all__ = ["LedgerVerificationRow", "Verification", "add_verification", "latest_verification"]
