"""Ledger witnesses: the durable queue of kept checkpoints per witness, and their cosignatures.

Revision ID: ledger_0001
Revises: 0001
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from leitstand.db import UTCDateTime

revision = "ledger_0001"
down_revision = "0001"
branch_labels = ("ledger",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_witness_deliveries",
        sa.Column("witness", sa.String(100), primary_key=True),
        sa.Column("size", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("queued_at", UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("old_size", sa.BigInteger(), nullable=True),
        sa.Column("proof", sa.Text(), nullable=True),
        sa.Column("cosignature", sa.Text(), nullable=True),
        sa.Column("cosigned_time", sa.BigInteger(), nullable=True),
        sa.Column("cosigned_at", UTCDateTime(), nullable=True),
        sa.Column("skipped", sa.Boolean(), nullable=False),
    )
    op.create_index(
        "ix_ledger_witness_deliveries_cosigned_at",
        "ledger_witness_deliveries",
        ["cosigned_at"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_ledger_witness_deliveries_cosigned_at", table_name="ledger_witness_deliveries"
    )
    op.drop_table("ledger_witness_deliveries")
