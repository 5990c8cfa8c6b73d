"""The images a gate run's image scan checked, with their SBOM digests (image signing reads
them from the gate's own record).

Revision ID: gates_0002
Revises: gates_0001
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "gates_0002"
down_revision = "gates_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("gate_runs") as batch:
        batch.add_column(sa.Column("images", sa.Text(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("gate_runs") as batch:
        batch.drop_column("images")
