"""Flags: variants and targeting (with its tenant lists) become JSON columns.

Revision ID: flags_0002
Revises: flags_0001
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "flags_0002"
down_revision = "flags_0001"
branch_labels = None
depends_on = None

# (table, column): the JSON text columns of revision flags_0001.
_COLUMNS = (("flags", "variants"), ("flag_targeting", "config"))


def upgrade() -> None:
    for table, column in _COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(
                column,
                type_=sa.JSON(),
                existing_type=sa.Text(),
                existing_nullable=False,
                postgresql_using=f"{column}::json",
            )


def downgrade() -> None:
    for table, column in _COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(
                column,
                type_=sa.Text(),
                existing_type=sa.JSON(),
                existing_nullable=False,
                postgresql_using=f"{column}::text",
            )
