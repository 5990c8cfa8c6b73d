"""Change records and their approvals.

Revision ID: changes_0001
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from leitstand.db import UTCDateTime

revision = "changes_0001"
down_revision = "0001"
branch_labels = ("changes",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "changes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("service", sa.String(200), nullable=False),
        sa.Column("version", sa.String(100), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("what", sa.Text(), nullable=False),
        sa.Column("why", sa.Text(), nullable=False),
        sa.Column("rollback", sa.Text(), nullable=False),
        sa.Column("tests", sa.Text(), nullable=False),
        sa.Column("requester", sa.String(200), nullable=False),
        sa.Column("requester_role", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("retrospective_due_at", UTCDateTime(), nullable=True),
        sa.Column("deployed_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_changes_service", "changes", ["service"])
    op.create_index("ix_changes_version", "changes", ["version"])
    op.create_table(
        "change_approvals",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "change_id",
            sa.Integer(),
            sa.ForeignKey("changes.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("approved", sa.Boolean(), nullable=False),
        sa.Column("approver", sa.String(200), nullable=False),
        sa.Column("role", sa.String(64), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_change_approvals_change_id", "change_approvals", ["change_id"])


def downgrade() -> None:
    op.drop_index("ix_change_approvals_change_id", table_name="change_approvals")
    op.drop_table("change_approvals")
    op.drop_index("ix_changes_version", table_name="changes")
    op.drop_index("ix_changes_service", table_name="changes")
    op.drop_table("changes")
