"""Backup runs, drills and the monitor's last readings (the only SQLAlchemy in the domain)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from leitstand.db import Base, UTCDateTime

__all__ = [
    "BackupRunRow",
    "BackupStateRow",
    "DrillRow",
    "add_drill",
    "add_run",
    "add_state",
    "drill",
    "drill_by_key",
    "drill_seconds",
    "drills",
    "dump",
    "first_run_start",
    "latest_drill",
    "latest_runs",
    "load",
    "newest_drill_start",
    "newest_run",
    "run",
    "run_by_key",
    "runs",
    "runs_since",
    "state",
]


def dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def load(text: str | None) -> Any:
    return json.loads(text) if text else None


class BackupRunRow(Base):
    """One backup of one schedule row for one system, across every site."""

    __tablename__ = "backup_runs"
    __table_args__ = (sa.Index("ix_backup_runs_system_row_started", "system", "row", "started_at"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    run_key: Mapped[str] = mapped_column(sa.String(300), unique=True)
    system: Mapped[str] = mapped_column(sa.String(100))
    row: Mapped[str] = mapped_column(sa.String(100))
    data: Mapped[str] = mapped_column(sa.String(32))
    method: Mapped[str] = mapped_column(sa.String(32))
    engine: Mapped[str] = mapped_column(sa.String(32))
    trigger: Mapped[str] = mapped_column(sa.String(16))
    actor: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[str] = mapped_column(sa.String(16), index=True)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=1)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    size_bytes: Mapped[int | None] = mapped_column(sa.BigInteger)
    stored_bytes: Mapped[int | None] = mapped_column(sa.BigInteger)
    sites: Mapped[str] = mapped_column(sa.Text, default="[]")
    verification: Mapped[str] = mapped_column(sa.Text, default="[]")
    expired: Mapped[str] = mapped_column(sa.Text, default="[]")
    error: Mapped[str | None] = mapped_column(sa.Text)


class DrillRow(Base):
    """One recovery drill and its Testprotokoll."""

    __tablename__ = "backup_drills"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    drill_key: Mapped[str] = mapped_column(sa.String(300), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(32))
    system: Mapped[str] = mapped_column(sa.String(100), index=True)
    trigger: Mapped[str] = mapped_column(sa.String(16))
    actor: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[str] = mapped_column(sa.String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    total_seconds: Mapped[float | None] = mapped_column(sa.Float)
    rto_seconds: Mapped[float | None] = mapped_column(sa.Float)
    within_rto: Mapped[bool | None] = mapped_column(sa.Boolean)
    protocol: Mapped[str | None] = mapped_column(sa.Text)
    ledger_index: Mapped[int | None] = mapped_column(sa.Integer)


class BackupStateRow(Base):
    """The monitor's last reading per key (RPO per system, missed runs, overdue drills)."""

    __tablename__ = "backup_states"

    key: Mapped[str] = mapped_column(sa.String(300), primary_key=True)
    system: Mapped[str] = mapped_column(sa.String(100))
    kind: Mapped[str] = mapped_column(sa.String(32))
    status: Mapped[str] = mapped_column(sa.String(16))
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    measured_at: Mapped[datetime] = mapped_column(UTCDateTime)
    point: Mapped[datetime | None] = mapped_column(UTCDateTime)
    value: Mapped[float | None] = mapped_column(sa.Float)
    detail: Mapped[str] = mapped_column(sa.Text, default="{}")


def latest_runs(
    session: Session, *, system: str | None = None, statuses: Sequence[str] | None = None
) -> dict[tuple[str, str], BackupRunRow]:
    """The newest run per (system, row), optionally only with the given statuses."""
    newest = sa.select(sa.func.max(BackupRunRow.id)).group_by(BackupRunRow.system, BackupRunRow.row)
    if system is not None:
        newest = newest.where(BackupRunRow.system == system)
    if statuses is not None:
        newest = newest.where(BackupRunRow.status.in_(list(statuses)))
    rows = session.execute(sa.select(BackupRunRow).where(BackupRunRow.id.in_(newest))).scalars()
    return {(row.system, row.row): row for row in rows}


# -- runs ------------------------------------------------------------------------------------


def add_run(session: Session, row: BackupRunRow) -> BackupRunRow:
    """Insert a new run (its id is set by the flush)."""
    session.add(row)
    session.flush()
    return row


def run(session: Session, run_id: int) -> BackupRunRow | None:
    return session.get(BackupRunRow, run_id)


def run_by_key(session: Session, run_key: str) -> BackupRunRow | None:
    return session.execute(
        sa.select(BackupRunRow).where(BackupRunRow.run_key == run_key)
    ).scalar_one_or_none()


def runs(
    session: Session, *, system: str | None = None, row: str | None = None, limit: int = 50
) -> list[BackupRunRow]:
    """Runs, newest first."""
    stmt = sa.select(BackupRunRow).order_by(BackupRunRow.id.desc()).limit(limit)
    if system is not None:
        stmt = stmt.where(BackupRunRow.system == system)
    if row is not None:
        stmt = stmt.where(BackupRunRow.row == row)
    return list(session.execute(stmt).scalars())


def newest_run(session: Session, *, system: str, data: str, status: str) -> BackupRunRow | None:
    """The newest run of ``data`` for ``system`` with ``status`` (by start)."""
    return session.execute(
        sa.select(BackupRunRow)
        .where(
            BackupRunRow.system == system,
            BackupRunRow.data == data,
            BackupRunRow.status == status,
        )
        .order_by(BackupRunRow.started_at.desc(), BackupRunRow.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def first_run_start(session: Session, *, system: str, data: str, status: str) -> datetime | None:
    """When the first run of ``data`` for ``system`` with ``status`` started."""
    return session.execute(
        sa.select(sa.func.min(BackupRunRow.started_at)).where(
            BackupRunRow.system == system,
            BackupRunRow.data == data,
            BackupRunRow.status == status,
        )
    ).scalar_one_or_none()


def runs_since(session: Session, *, system: str, row: str, since: datetime) -> int:
    """How many runs of ``row`` for ``system`` were due or started at ``since`` or later."""
    return int(
        session.execute(
            sa.select(sa.func.count(BackupRunRow.id)).where(
                BackupRunRow.system == system,
                BackupRunRow.row == row,
                sa.or_(BackupRunRow.due_at >= since, BackupRunRow.started_at >= since),
            )
        ).scalar_one()
    )


# -- drills ----------------------------------------------------------------------------------


def add_drill(session: Session, row: DrillRow) -> DrillRow:
    """Insert a new drill (its id is set by the flush)."""
    session.add(row)
    session.flush()
    return row


def drill(session: Session, drill_id: int) -> DrillRow | None:
    return session.get(DrillRow, drill_id)


def drill_by_key(session: Session, drill_key: str) -> DrillRow | None:
    return session.execute(
        sa.select(DrillRow).where(DrillRow.drill_key == drill_key)
    ).scalar_one_or_none()


def drills(session: Session, *, system: str | None = None, limit: int = 50) -> list[DrillRow]:
    """Drills, newest first."""
    stmt = sa.select(DrillRow).order_by(DrillRow.id.desc()).limit(limit)
    if system is not None:
        stmt = stmt.where(DrillRow.system == system)
    return list(session.execute(stmt).scalars())


def latest_drill(session: Session, *, system: str, kind: str) -> DrillRow | None:
    """The drill of ``kind`` for ``system`` that started last."""
    return session.execute(
        sa.select(DrillRow)
        .where(DrillRow.system == system, DrillRow.kind == kind)
        .order_by(DrillRow.started_at.desc(), DrillRow.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def newest_drill_start(session: Session, *, system: str, kind: str, status: str) -> datetime | None:
    """When the newest drill of ``kind`` for ``system`` with ``status`` started."""
    return session.execute(
        sa.select(sa.func.max(DrillRow.started_at)).where(
            DrillRow.system == system, DrillRow.kind == kind, DrillRow.status == status
        )
    ).scalar_one_or_none()


def drill_seconds(session: Session, *, system: str, status: str) -> list[tuple[str, float | None]]:
    """(kind, total seconds) of every drill of ``system`` with ``status``, oldest first."""
    return [
        (kind, seconds)
        for kind, seconds in session.execute(
            sa.select(DrillRow.kind, DrillRow.total_seconds)
            .where(DrillRow.system == system, DrillRow.status == status)
            .order_by(DrillRow.started_at, DrillRow.id)
        )
    ]


# -- the monitor's readings ------------------------------------------------------------------


def state(session: Session, key: str) -> BackupStateRow | None:
    return session.get(BackupStateRow, key)


def add_state(session: Session, row: BackupStateRow) -> BackupStateRow:
    """Insert a new reading."""
    session.add(row)
    return row
