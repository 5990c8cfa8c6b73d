"""Incidents: a duplicate merged into another incident names it (``merged_into``).

Downgrade drops the column; the merge stays on record in the ledger (``incident.merged``).

Revision ID: incidents_0004
Revises: incidents_0003
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "incidents_0004"
down_revision = "incidents_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("merged_into", sa.String(32), nullable=True))
        batch.create_index("ix_incidents_merged_into", ["merged_into"])


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_index("ix_incidents_merged_into")
        batch.drop_column("merged_into")
