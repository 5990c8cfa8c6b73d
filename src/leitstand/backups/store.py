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
    "dump",
    "latest_runs",
    "load",
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
