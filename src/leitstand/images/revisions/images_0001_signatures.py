"""The image service's own record of each signature (admission reads these).

Revision ID: images_0001
Revises: 0001
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from leitstand.db import UTCDateTime

revision = "images_0001"
down_revision = "0001"
branch_labels = ("images",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "image_signatures",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("tag", sa.String(128), nullable=False),
        sa.Column("manifest_digest", sa.String(71), nullable=False),
        sa.Column("sbom_digest", sa.String(71), nullable=False),
        sa.Column("gate_run_id", sa.Integer(), nullable=False),
        sa.Column("service", sa.String(200), nullable=False),
        sa.Column("keyid", sa.String(64), nullable=False),
        sa.Column("envelope", sa.Text(), nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_image_signatures_manifest_digest", "image_signatures", ["manifest_digest"])


def downgrade() -> None:
    op.drop_index("ix_image_signatures_manifest_digest", table_name="image_signatures")
    op.drop_table("image_signatures")
