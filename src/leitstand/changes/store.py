"""Change tables: the record and its approvals (one row per decision)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from leitstand.db import Base, UTCDateTime

__all__ = [
    "ChangeApprovalRow",
    "ChangeRow",
    "approvals_of",
    "change_ids",
    "change_row",
    "insert_approval",
    "insert_change",
    "newest_change_id",
]

_REJECTED = "rejected"  # ChangeStatus.REJECTED


class ChangeRow(Base):
    __tablename__ = "changes"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    service: Mapped[str] = mapped_column(sa.String(200), index=True)
    version: Mapped[str] = mapped_column(sa.String(100), index=True)
    category: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(32))
    what: Mapped[str] = mapped_column(sa.Text)
    why: Mapped[str] = mapped_column(sa.Text)
    rollback: Mapped[str] = mapped_column(sa.Text)
    tests: Mapped[str] = mapped_column(sa.Text)
    requester: Mapped[str] = mapped_column(sa.String(200))
    requester_role: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    retrospective_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deployed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ChangeApprovalRow(Base):
    __tablename__ = "change_approvals"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    change_id: Mapped[int] = mapped_column(
        sa.ForeignKey("changes.id", ondelete="CASCADE"), index=True
    )
    stage: Mapped[str] = mapped_column(sa.String(32))
    approved: Mapped[bool] = mapped_column(sa.Boolean)
    approver: Mapped[str] = mapped_column(sa.String(200))
    role: Mapped[str] = mapped_column(sa.String(64))
    comment: Mapped[str] = mapped_column(sa.Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


def newest_change_id(
    session: Session, *, service: str, version: str, include_rejected: bool = True
) -> int | None:
    """The id of the newest change record for a service version (rejected ones optional)."""
    stmt = (
        sa.select(ChangeRow.id)
        .where(ChangeRow.service == service, ChangeRow.version == version)
        .order_by(ChangeRow.id.desc())
        .limit(1)
    )
    if not include_rejected:
        stmt = stmt.where(ChangeRow.status != _REJECTED)
    return session.execute(stmt).scalar_one_or_none()


def change_ids(
    session: Session, *, service: str | None, status: str | None, limit: int
) -> list[int]:
    """Ids of change records, newest first, optionally of one service or status."""
    stmt = sa.select(ChangeRow.id).order_by(ChangeRow.id.desc()).limit(limit)
    if service:
        stmt = stmt.where(ChangeRow.service == service)
    if status:
        stmt = stmt.where(ChangeRow.status == status)
    return list(session.execute(stmt).scalars())


def change_row(session: Session, change_id: int, *, lock: bool = False) -> ChangeRow | None:
    """One change record (locked for update on PostgreSQL when ``lock``), or None."""
    stmt = sa.select(ChangeRow).where(ChangeRow.id == change_id)
    if lock and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return session.execute(stmt).scalar_one_or_none()


def approvals_of(session: Session, change_id: int) -> list[ChangeApprovalRow]:
    """The decisions on a change, in the order they were made."""
    return list(
        session.execute(
            sa.select(ChangeApprovalRow)
            .where(ChangeApprovalRow.change_id == change_id)
            .order_by(ChangeApprovalRow.id)
        ).scalars()
    )


def insert_change(session: Session, row: ChangeRow) -> ChangeRow:
    """Add a change record and assign its id."""
    session.add(row)
    session.flush()
    return row


def insert_approval(session: Session, row: ChangeApprovalRow) -> None:
    """Add a decision on a change."""
    session.add(row)
