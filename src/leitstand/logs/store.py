"""The sealed log segments (``log_segments``): one row per rotated segment, until it expires."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from leitstand.db import Base, UTCDateTime

__all__ = [
    "LogSegmentRow",
    "insert_segment",
    "live_segments",
    "mark_expired",
    "segment_by_path",
]


class LogSegmentRow(Base):
    __tablename__ = "log_segments"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    log_type: Mapped[str] = mapped_column(sa.String(64), index=True)
    path: Mapped[str] = mapped_column(sa.String(1000), unique=True)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    size: Mapped[int] = mapped_column(sa.BigInteger)
    sealed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ledger_index: Mapped[int] = mapped_column(sa.Integer)
    expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def segment_by_path(session: Session, path: str) -> LogSegmentRow | None:
    """The segment sealed at ``path`` (expired or not), if any."""
    return session.execute(
        sa.select(LogSegmentRow).where(LogSegmentRow.path == path)
    ).scalar_one_or_none()


def insert_segment(session: Session, row: LogSegmentRow) -> LogSegmentRow:
    session.add(row)
    session.flush()
    return row


def live_segments(session: Session, *, log_type: str | None = None) -> list[LogSegmentRow]:
    """Sealed segments not yet expired, oldest first, optionally of one log type."""
    stmt = (
        sa.select(LogSegmentRow)
        .where(LogSegmentRow.expired_at.is_(None))
        .order_by(LogSegmentRow.sealed_at, LogSegmentRow.id)
    )
    if log_type is not None:
        stmt = stmt.where(LogSegmentRow.log_type == log_type)
    return list(session.execute(stmt).scalars())


def mark_expired(session: Session, segment_id: int, at: datetime) -> None:
    session.execute(
        sa.update(LogSegmentRow).where(LogSegmentRow.id == segment_id).values(expired_at=at)
    )
