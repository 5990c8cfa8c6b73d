"""The gate's own run records (admission reads these, never ledger payloads).

Revision ID: gates_0001
Revises: 0001
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from leitstand.db import UTCDateTime

revision = "gates_0001"
down_revision = "0001"
branch_labels = ("gates",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gate_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("role", sa.String(64), nullable=False),
        sa.Column("service", sa.String(200), nullable=False),
        sa.Column("project", sa.String(200), nullable=False),
        sa.Column("version", sa.String(100), nullable=False),
        sa.Column("commit", sa.String(100), nullable=True),
        sa.Column("change_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("stages", sa.Text(), nullable=False),
        sa.Column("not_run", sa.Text(), nullable=False),
        sa.Column("artifact_digests", sa.Text(), nullable=False),
        sa.Column("report_sha256", sa.String(64), nullable=True),
        sa.Column("ledger_index", sa.BigInteger(), nullable=True),
    )
    op.create_index("ix_gate_runs_service", "gate_runs", ["service"])
    op.create_index("ix_gate_runs_change_id", "gate_runs", ["change_id"])


def downgrade() -> None:
    op.drop_index("ix_gate_runs_change_id", table_name="gate_runs")
    op.drop_index("ix_gate_runs_service", table_name="gate_runs")
    op.drop_table("gate_runs")
