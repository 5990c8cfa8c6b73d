"""Incidents: the minimal table that escalations open incidents in.

Revision ID: incidents_0001
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from leitstand.db import UTCDateTime

revision = "incidents_0001"
down_revision = "0001"
branch_labels = ("incidents",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("opened_by", sa.String(200), nullable=False),
        sa.Column("service", sa.String(100), nullable=True),
        sa.Column("tenant", sa.String(100), nullable=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("alert_fingerprint", sa.String(64), nullable=True),
        sa.Column("escalation_id", sa.Integer(), nullable=True, unique=True),
        sa.UniqueConstraint("year", "sequence", name="uq_incidents_year_sequence"),
    )
    op.create_index("ix_incidents_status", "incidents", ["status"])
    op.create_index("ix_incidents_tenant", "incidents", ["tenant"])


def downgrade() -> None:
    op.drop_index("ix_incidents_tenant", table_name="incidents")
    op.drop_index("ix_incidents_status", table_name="incidents")
    op.drop_table("incidents")
