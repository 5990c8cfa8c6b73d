"""Feature flags: one row per flag, its targeting per environment.

Revision ID: flags_0001
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from leitstand.db import UTCDateTime

revision = "flags_0001"
down_revision = "0001"
branch_labels = ("flags",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "flags",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(100), nullable=False, unique=True),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("value_type", sa.String(16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(200), nullable=True),
        sa.Column("variants", sa.Text(), nullable=False),
        sa.Column("off_variant", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("archived_at", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "flag_targeting",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "flag_id", sa.Integer(), sa.ForeignKey("flags.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("environment", sa.String(64), nullable=False),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("full_rollout_since", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("flag_id", "environment", name="uq_flag_targeting_flag_environment"),
    )
    op.create_index("ix_flag_targeting_flag_id", "flag_targeting", ["flag_id"])


def downgrade() -> None:
    op.drop_index("ix_flag_targeting_flag_id", table_name="flag_targeting")
    op.drop_table("flag_targeting")
    op.drop_table("flags")
