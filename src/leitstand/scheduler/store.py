"""Timer and run tables. A run row per (job, due time) makes a double firing impossible."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from leitstand.db import Base, UTCDateTime

__all__ = ["JobRow", "JobRunRow"]


class JobRow(Base):
    __tablename__ = "scheduler_jobs"
    __table_args__ = (sa.Index("ix_scheduler_jobs_status_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(100))
    key: Mapped[str] = mapped_column(sa.String(300), unique=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(sa.String(16))
    payload: Mapped[str] = mapped_column(sa.Text, default="{}")
    recurrence: Mapped[str | None] = mapped_column(sa.String(200))
    timezone: Mapped[str] = mapped_column(sa.String(64), default="Europe/Berlin")
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(sa.Integer, default=10)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fired_by: Mapped[str | None] = mapped_column(sa.String(200))
    claimed_by: Mapped[str | None] = mapped_column(sa.String(200))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class JobRunRow(Base):
    __tablename__ = "scheduler_runs"
    __table_args__ = (sa.UniqueConstraint("job_id", "due_at", name="uq_scheduler_runs_job_due"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(
        sa.ForeignKey("scheduler_jobs.id", ondelete="CASCADE"), index=True
    )
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    fired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    instance: Mapped[str] = mapped_column(sa.String(200))
