"""The verifier's own records of full ledger verifications.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from leitstand.db import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_verifications",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("verified_at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("entries_checked", sa.BigInteger(), nullable=False),
        sa.Column("first_bad_index", sa.BigInteger(), nullable=True),
        sa.Column("problems", sa.Text(), nullable=False),
        sa.Column("incomplete", sa.Text(), nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=True),
    )
    op.create_index("ix_ledger_verifications_verified_at", "ledger_verifications", ["verified_at"])


def downgrade() -> None:
    op.drop_index("ix_ledger_verifications_verified_at", table_name="ledger_verifications")
    op.drop_table("ledger_verifications")
