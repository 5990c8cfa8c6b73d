"""Scheduler leases for long duties that run outside the claiming transaction.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from leitstand.db import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("scheduler_jobs", sa.Column("claimed_by", sa.String(200), nullable=True))
    op.add_column("scheduler_jobs", sa.Column("lease_until", UTCDateTime(), nullable=True))


def downgrade() -> None:
    op.execute("UPDATE scheduler_jobs SET status = 'pending' WHERE status = 'running'")
    # Plain DROP COLUMN (SQLite >= 3.35): a batch table copy would drop and re-create
    # scheduler_jobs, and the ON DELETE CASCADE would take the run history with it.
    op.execute("ALTER TABLE scheduler_jobs DROP COLUMN lease_until")
    op.execute("ALTER TABLE scheduler_jobs DROP COLUMN claimed_by")
