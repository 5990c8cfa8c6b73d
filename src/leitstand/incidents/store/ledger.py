"""The ledger window an incident's timeline is assembled from (read-only, the ledger's table)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from leitstand.db import Session
from leitstand.ledger.canonical import Entry, decode_entry
from leitstand.ledger.store import LedgerEntryRow

__all__ = ["ledger_window"]


def ledger_window(
    session: Session,
    *,
    since: datetime,
    until: datetime,
    prefixes: Sequence[str],
    subject: str,
    limit: int = 5000,
    also: Sequence[str] = (),
) -> list[Entry]:
    """Ledger entries in ``[since, until)`` whose action starts with a prefix, plus every entry
    about ``subject`` (and the subjects in ``also``) whenever it was recorded; oldest first."""
    matches = [LedgerEntryRow.action.startswith(p, autoescape=True) for p in prefixes]
    in_window = sa.and_(
        LedgerEntryRow.recorded_at >= since,
        LedgerEntryRow.recorded_at < until,
        sa.or_(*matches),
    )
    stmt = (
        sa.select(LedgerEntryRow.body)
        .where(sa.or_(in_window, LedgerEntryRow.subject.in_([subject, *also])))
        .order_by(LedgerEntryRow.idx)
        .limit(limit)
    )
    return [decode_entry(body) for body in session.execute(stmt).scalars()]
