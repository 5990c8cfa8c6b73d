"""Releases: targets (routing per service and environment), slots, releases, analyses, tasks.

Revision ID: releases_0001
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from leitstand.db import UTCDateTime

revision = "releases_0001"
down_revision = "0001"
branch_labels = ("releases",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "release_targets",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("service", sa.String(200), nullable=False),
        sa.Column("env", sa.String(64), nullable=False),
        sa.Column("active_slot", sa.String(64), nullable=True),
        sa.Column("active_version", sa.String(100), nullable=True),
        sa.Column("previous_slot", sa.String(64), nullable=True),
        sa.Column("previous_version", sa.String(100), nullable=True),
        sa.Column("previous_warm", sa.Boolean(), nullable=False),
        sa.Column("routing", sa.Text(), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("service", "env", name="uq_release_targets_service_env"),
    )
    op.create_table(
        "release_slots",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("service", sa.String(200), nullable=False),
        sa.Column("env", sa.String(64), nullable=False),
        sa.Column("slot", sa.String(64), nullable=False),
        sa.Column("version", sa.String(100), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("service", "env", "slot", name="uq_release_slots_service_env_slot"),
    )
    op.create_table(
        "releases",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("service", sa.String(200), nullable=False),
        sa.Column("env", sa.String(64), nullable=False),
        sa.Column("version", sa.String(100), nullable=False),
        sa.Column("strategy", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("phase", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("target_slot", sa.String(64), nullable=False),
        sa.Column("stable_slot", sa.String(64), nullable=True),
        sa.Column("stable_version", sa.String(100), nullable=True),
        sa.Column("change_id", sa.Integer(), nullable=True),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("requested_role", sa.String(64), nullable=False),
        sa.Column("approved_by", sa.String(200), nullable=True),
        sa.Column("approved_role", sa.String(64), nullable=True),
        sa.Column("approved_at", UTCDateTime(), nullable=True),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("passes", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("deadline", UTCDateTime(), nullable=True),
        sa.Column("last_check", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("switched_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_releases_service", "releases", ["service"])
    op.create_index("ix_releases_phase", "releases", ["phase"])
    op.create_index("ix_releases_change_id", "releases", ["change_id"])
    op.create_table(
        "release_analyses",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "release_id",
            sa.Integer(),
            sa.ForeignKey("releases.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=False),
        sa.Column("verdict", sa.String(32), nullable=False),
        sa.Column("canary", sa.Text(), nullable=False),
        sa.Column("stable", sa.Text(), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(200), nullable=True),
    )
    op.create_index("ix_release_analyses_release_id", "release_analyses", ["release_id"])
    op.create_table(
        "release_tasks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "release_id",
            sa.Integer(),
            sa.ForeignKey("releases.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("service", sa.String(200), nullable=False),
        sa.Column("env", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("done_at", UTCDateTime(), nullable=True),
        sa.Column("done_by", sa.String(200), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
    )
    op.create_index("ix_release_tasks_release_id", "release_tasks", ["release_id"])


def downgrade() -> None:
    op.drop_index("ix_release_tasks_release_id", table_name="release_tasks")
    op.drop_table("release_tasks")
    op.drop_index("ix_release_analyses_release_id", table_name="release_analyses")
    op.drop_table("release_analyses")
    op.drop_index("ix_releases_change_id", table_name="releases")
    op.drop_index("ix_releases_phase", table_name="releases")
    op.drop_index("ix_releases_service", table_name="releases")
    op.drop_table("releases")
    op.drop_table("release_slots")
    op.drop_table("release_targets")
