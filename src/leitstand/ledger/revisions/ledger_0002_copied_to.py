"""Ledger: the folder each kept checkpoint was copied to.

Several instances share one database but may each keep their own copy folder; verification
checks a folder for the checkpoints copied to it, not for those another instance copied
elsewhere. Rows copied before this revision keep NULL and count for every folder.

Revision ID: ledger_0002
Revises: ledger_0001
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ledger_0002"
down_revision = "ledger_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ledger_checkpoints") as batch:
        batch.add_column(sa.Column("copied_to", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ledger_checkpoints") as batch:
        batch.drop_column("copied_to")
