"""Change tables: the record and its approvals (one row per decision)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from leitstand.db import Base, UTCDateTime

__all__ = ["ChangeApprovalRow", "ChangeRow"]


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
