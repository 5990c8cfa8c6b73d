"""Releases: the manifest digest of the image a release starts (the one the gates scanned).

Revision ID: releases_0003
Revises: releases_0002
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "releases_0003"
down_revision = "releases_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("releases") as batch:
        batch.add_column(sa.Column("image_digest", sa.String(71), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("releases") as batch:
        batch.drop_column("image_digest")
