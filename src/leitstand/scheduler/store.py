"""Timer and run tables, and every statement on them.

A run row per (job, due time) makes a double firing impossible.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column

from leitstand.db import Base, UTCDateTime
from leitstand.scheduler.model import JobStatus

__all__ = [
    "DatabaseError",
    "JobRow",
    "JobRunRow",
    "add_run",
    "cancel",
    "cancel_prefix",
    "claim_due",
    "count_overdue",
    "count_pending",
    "created_at",
    "insert_or_get",
    "insert_timers",
    "job_for_update",
    "jobs",
    "next_due",
    "renew_lease",
]

#: What a database outage raises (the loop logs it and tries again).
DatabaseError = SQLAlchemyError

_PENDING = JobStatus.PENDING.value
_RUNNING = JobStatus.RUNNING.value


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


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def insert_or_get(session: Session, row: JobRow) -> tuple[JobRow, bool]:
    """Insert a timer unless one with its key exists; safe against a concurrent insert."""
    stmt = sa.select(JobRow).where(JobRow.key == row.key)
    existing = session.execute(stmt).scalar_one_or_none()
    if existing is not None:
        return existing, False
    try:
        # A savepoint, so that losing the race to another instance does not abort the
        # caller's transaction; the loser then sees the winner's committed row.
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return session.execute(stmt).scalar_one(), False
    return row, True


def insert_timers(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert many timers in one statement; a key that exists is left alone (both backends)."""
    insert = pg_insert if _postgres(session) else sqlite_insert
    session.execute(
        insert(JobRow).on_conflict_do_nothing(index_elements=["key"]), [dict(r) for r in rows]
    )


def cancel(session: Session, key: str) -> bool:
    """Cancel a pending timer; False when there was none."""
    result = session.execute(
        sa.update(JobRow)
        .where(JobRow.key == key, JobRow.status == _PENDING)
        .values(status=JobStatus.CANCELLED.value)
    )
    return bool(getattr(result, "rowcount", 0))


def cancel_prefix(session: Session, prefix: str) -> int:
    """Cancel every pending timer whose key starts with ``prefix``; how many."""
    result = session.execute(
        sa.update(JobRow)
        .where(JobRow.key.startswith(prefix, autoescape=True), JobRow.status == _PENDING)
        .values(status=JobStatus.CANCELLED.value)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def claim_due(
    session: Session, *, now: datetime, limit: int, kinds: Collection[str] | None = None
) -> list[JobRow]:
    """Due timers and orphaned long duties, soonest first (``SKIP LOCKED`` on PostgreSQL)."""
    due = sa.and_(JobRow.status == _PENDING, JobRow.due_at <= now)
    # A running duty whose lease expired belongs to a crashed worker: run it again.
    orphaned = sa.and_(JobRow.status == _RUNNING, JobRow.lease_until < now)
    stmt = sa.select(JobRow).where(sa.or_(due, orphaned)).order_by(JobRow.due_at, JobRow.id)
    stmt = stmt.limit(limit)
    if kinds is not None:
        stmt = stmt.where(JobRow.kind.in_(sorted(kinds)))
    if _postgres(session):
        stmt = stmt.with_for_update(skip_locked=True)
    return list(session.execute(stmt).scalars())


def job_for_update(session: Session, job_id: int) -> JobRow | None:
    """One timer, locked on PostgreSQL."""
    stmt = sa.select(JobRow).where(JobRow.id == job_id)
    if _postgres(session):
        stmt = stmt.with_for_update()
    return session.execute(stmt).scalar_one_or_none()


def add_run(
    session: Session, *, job_id: int, due_at: datetime, fired_at: datetime, instance: str
) -> None:
    """Record a firing (unique per job and due time)."""
    session.add(JobRunRow(job_id=job_id, due_at=due_at, fired_at=fired_at, instance=instance))


def renew_lease(session: Session, *, job_id: int, claim: str, until: datetime) -> None:
    """Extend a long duty's lease, if the claim is still the running one."""
    session.execute(
        sa.update(JobRow)
        .where(JobRow.id == job_id, JobRow.status == _RUNNING, JobRow.claimed_by == claim)
        .values(lease_until=until)
    )


def next_due(session: Session) -> datetime | None:
    """The earliest due time of a pending timer."""
    return session.execute(
        sa.select(sa.func.min(JobRow.due_at)).where(JobRow.status == _PENDING)
    ).scalar_one_or_none()


def jobs(session: Session, *, status: str | None = None, limit: int = 200) -> list[JobRow]:
    """Timers, soonest first."""
    stmt = sa.select(JobRow).order_by(JobRow.due_at, JobRow.id).limit(limit)
    if status is not None:
        stmt = stmt.where(JobRow.status == status)
    return list(session.execute(stmt).scalars())


def created_at(session: Session, key: str) -> datetime | None:
    """When the timer ``key`` was created, or None when there is no such timer."""
    return session.execute(
        sa.select(JobRow.created_at).where(JobRow.key == key)
    ).scalar_one_or_none()


def count_pending(session: Session) -> int:
    """Timers waiting to fire, due or not."""
    return int(
        session.execute(
            sa.select(sa.func.count(JobRow.id)).where(JobRow.status == _PENDING)
        ).scalar_one()
    )


def count_overdue(session: Session, now: datetime) -> int:
    """Pending timers whose due time has passed."""
    return int(
        session.execute(
            sa.select(sa.func.count(JobRow.id)).where(
                JobRow.status == _PENDING, JobRow.due_at < now
            )
        ).scalar_one()
    )
