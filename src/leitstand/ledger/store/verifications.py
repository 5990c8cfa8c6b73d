"""The verifier's own records (``ledger_verifications``): store one, read the latest."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from leitstand.ledger.store.tables import LedgerVerificationRow

__all__ = ["Verification", "add_verification", "latest_verification"]


@dataclass(frozen=True, slots=True)
class Verification:
    """A recorded verification as the overview shows it."""

    verified_at: datetime
    actor: str
    ok: bool
    size: int
    entries_checked: int
    first_bad_index: int | None
    problems: list[str]
    incomplete: list[str]
    ledger_index: int | None


def add_verification(
    session: Session,
    *,
    verified_at: datetime,
    actor: str,
    ok: bool,
    size: int,
    entries_checked: int,
    first_bad_index: int | None,
    problems: list[str],
    incomplete: list[str],
    ledger_index: int | None,
) -> None:
    """Store one verification (in the caller's transaction)."""
    session.add(
        LedgerVerificationRow(
            verified_at=verified_at,
            actor=actor,
            ok=ok,
            size=size,
            entries_checked=entries_checked,
            first_bad_index=first_bad_index,
            problems=json.dumps(problems[:20]),
            incomplete=json.dumps(incomplete[:20]),
            ledger_index=ledger_index,
        )
    )


def latest_verification(session: Session) -> Verification | None:
    """The most recent verification, if any."""
    row = session.execute(
        sa.select(LedgerVerificationRow)
        .order_by(LedgerVerificationRow.verified_at.desc(), LedgerVerificationRow.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if row is None:
        return None
    problems = json.loads(row.problems or "[]")
    incomplete = json.loads(row.incomplete or "[]")
    return Verification(
        verified_at=row.verified_at,
        actor=row.actor,
        ok=bool(row.ok),
        size=int(row.size),
        entries_checked=int(row.entries_checked),
        first_bad_index=row.first_bad_index,
        problems=[str(p) for p in problems] if isinstance(problems, list) else [],
        incomplete=[str(p) for p in incomplete] if isinstance(incomplete, list) else [],
        ledger_index=row.ledger_index,
    )
