"""Backups: runs, recovery drills and the monitor's readings.

Revision ID: backups_0001
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from leitstand.db import UTCDateTime

revision = "backups_0001"
down_revision = "0001"
branch_labels = ("backups",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "backup_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_key", sa.String(300), nullable=False, unique=True),
        sa.Column("system", sa.String(100), nullable=False),
        sa.Column("row", sa.String(100), nullable=False),
        sa.Column("data", sa.String(32), nullable=False),
        sa.Column("method", sa.String(32), nullable=False),
        sa.Column("engine", sa.String(32), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=True),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("stored_bytes", sa.BigInteger(), nullable=True),
        sa.Column("sites", sa.Text(), nullable=False),
        sa.Column("verification", sa.Text(), nullable=False),
        sa.Column("expired", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
    )
    op.create_index("ix_backup_runs_status", "backup_runs", ["status"])
    op.create_index(
        "ix_backup_runs_system_row_started", "backup_runs", ["system", "row", "started_at"]
    )
    op.create_table(
        "backup_drills",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("drill_key", sa.String(300), nullable=False, unique=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("system", sa.String(100), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("total_seconds", sa.Float(), nullable=True),
        sa.Column("rto_seconds", sa.Float(), nullable=True),
        sa.Column("within_rto", sa.Boolean(), nullable=True),
        sa.Column("protocol", sa.Text(), nullable=True),
        sa.Column("ledger_index", sa.Integer(), nullable=True),
    )
    op.create_index("ix_backup_drills_system", "backup_drills", ["system"])
    op.create_table(
        "backup_states",
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("system", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("since", UTCDateTime(), nullable=False),
        sa.Column("measured_at", UTCDateTime(), nullable=False),
        sa.Column("point", UTCDateTime(), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("backup_states")
    op.drop_index("ix_backup_drills_system", table_name="backup_drills")
    op.drop_table("backup_drills")
    op.drop_index("ix_backup_runs_system_row_started", table_name="backup_runs")
    op.drop_index("ix_backup_runs_status", table_name="backup_runs")
    op.drop_table("backup_runs")
