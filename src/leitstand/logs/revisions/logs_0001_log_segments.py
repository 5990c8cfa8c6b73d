"""Sealed log segments.

Revision ID: logs_0001
Revises: 0001
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from leitstand.db import UTCDateTime

revision = "logs_0001"
down_revision = "0001"
branch_labels = ("logs",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_segments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("log_type", sa.String(64), nullable=False),
        sa.Column("path", sa.String(1000), nullable=False, unique=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sealed_at", UTCDateTime(), nullable=False),
        sa.Column("ledger_index", sa.Integer(), nullable=False),
        sa.Column("expired_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_log_segments_log_type", "log_segments", ["log_type"])


def downgrade() -> None:
    op.drop_index("ix_log_segments_log_type", table_name="log_segments")
    op.drop_table("log_segments")
