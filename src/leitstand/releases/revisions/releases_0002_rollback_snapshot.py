"""Releases: when a rollback was decided and how long it took; the database snapshot taken;
the handover checklist's result; the owner of a follow-up task.

Revision ID: releases_0002
Revises: releases_0001
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from leitstand.db import UTCDateTime

revision = "releases_0002"
down_revision = "releases_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("releases") as batch:
        batch.add_column(sa.Column("rollback_started_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("rollback_seconds", sa.Float(), nullable=True))
        batch.add_column(sa.Column("snapshot", sa.Text(), nullable=True))
        batch.add_column(sa.Column("handover", sa.Text(), nullable=True))
    with op.batch_alter_table("release_tasks") as batch:
        batch.add_column(sa.Column("owner", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("release_tasks") as batch:
        batch.drop_column("owner")
    with op.batch_alter_table("releases") as batch:
        batch.drop_column("handover")
        batch.drop_column("snapshot")
        batch.drop_column("rollback_seconds")
        batch.drop_column("rollback_started_at")
