"""Queries of the witness deliveries: the queue of kept checkpoints per witness, and answers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from leitstand.ledger.store.tables import WitnessDeliveryRow

__all__ = [
    "cosigned_deliveries",
    "enqueue_deliveries",
    "last_cosigned_size",
    "next_pending",
    "queued_per_witness",
    "record_attempt",
]

_DELIVERIES = WitnessDeliveryRow


def enqueue_deliveries(
    session: Session, names: Sequence[str], size: int, note: str, now: datetime
) -> None:
    """Queue a kept checkpoint for every witness named."""
    if not names:
        return
    session.execute(
        sa.insert(WitnessDeliveryRow),
        [
            {"witness": name, "size": size, "note": note, "queued_at": now, "attempts": 0}
            for name in names
        ],
    )


def next_pending(session: Session, name: str) -> WitnessDeliveryRow | None:
    """The smallest queued checkpoint a witness has neither cosigned nor skipped."""
    return session.execute(
        sa.select(_DELIVERIES)
        .where(
            _DELIVERIES.witness == name,
            _DELIVERIES.cosigned_at.is_(None),
            _DELIVERIES.skipped.is_(False),
        )
        .order_by(_DELIVERIES.size)
        .limit(1)
    ).scalar_one_or_none()


def last_cosigned_size(session: Session, name: str) -> int:
    """The largest size a witness has cosigned (0: none)."""
    value = session.execute(
        sa.select(sa.func.max(_DELIVERIES.size)).where(
            _DELIVERIES.witness == name, _DELIVERIES.cosigned_at.is_not(None)
        )
    ).scalar_one_or_none()
    return int(value) if value is not None else 0


def record_attempt(
    session: Session, *, witness: str, size: int, now: datetime, values: Mapping[str, Any]
) -> None:
    """Count one delivery attempt at ``now`` and store its outcome ``values``."""
    session.execute(
        sa.update(_DELIVERIES)
        .where(_DELIVERIES.witness == witness, _DELIVERIES.size == size)
        .values(attempts=_DELIVERIES.attempts + 1, last_attempt_at=now, **values)
    )


def queued_per_witness(session: Session) -> list[tuple[str, datetime | None, int]]:
    """Per witness: its oldest queued (not cosigned, not skipped) checkpoint's time, and count."""
    rows = session.execute(
        sa.select(_DELIVERIES.witness, sa.func.min(_DELIVERIES.queued_at), sa.func.count())
        .where(_DELIVERIES.cosigned_at.is_(None), _DELIVERIES.skipped.is_(False))
        .group_by(_DELIVERIES.witness)
    ).all()
    return [(str(name), oldest, int(count)) for name, oldest, count in rows]


def cosigned_deliveries(session: Session) -> list[WitnessDeliveryRow]:
    """Every cosigned delivery, by witness and size."""
    return list(
        session.execute(
            sa.select(_DELIVERIES)
            .where(_DELIVERIES.cosigned_at.is_not(None))
            .order_by(_DELIVERIES.witness, _DELIVERIES.size)
        ).scalars()
    )
