"""Incidents: the response process (phases, milestones, roles), action items, DORA assessments,
submitted reports, deadline alerts and recurring-incident findings.

Revision ID: incidents_0002
Revises: incidents_0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from leitstand.db import UTCDateTime

revision = "incidents_0002"
down_revision = "incidents_0001"
branch_labels = None
depends_on = None

_TEXT_COLUMNS = ("commander", "scribe", "communication")
_TIMES = (
    "occurred_at",
    "detected_at",
    "aware_at",
    "acknowledged_at",
    "contained_at",
    "recovered_at",
    "resolved_at",
    "closed_at",
    "gdpr_notified_at",
    "postmortem_at",
    "updated_at",
)


def _new_columns() -> list[sa.Column[object]]:
    columns: list[sa.Column[object]] = [
        sa.Column("phase", sa.String(16), nullable=False, server_default="detection"),
        sa.Column("systems", sa.Text(), nullable=False, server_default="[]"),
        sa.Column("tenants", sa.Text(), nullable=False, server_default="[]"),
    ]
    columns += [sa.Column(name, sa.String(200), nullable=True) for name in _TEXT_COLUMNS]
    columns += [
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("root_cause", sa.Text(), nullable=True),
        sa.Column("root_cause_key", sa.String(100), nullable=True),
        sa.Column("impact", sa.Text(), nullable=True),
        sa.Column(
            "personal_data_affected", sa.Boolean(), nullable=False, server_default=sa.false()
        ),
        sa.Column("postmortem_sha256", sa.String(64), nullable=True),
        sa.Column("informed", sa.Text(), nullable=False, server_default="[]"),
    ]
    columns += [sa.Column(name, UTCDateTime(), nullable=True) for name in _TIMES]
    return columns


def _incident_fk() -> sa.Column[str]:
    return sa.Column(
        "incident_id",
        sa.String(32),
        sa.ForeignKey("incidents.id", ondelete="CASCADE"),
        nullable=False,
    )


def upgrade() -> None:
    for column in _new_columns():
        op.add_column("incidents", column)
    op.create_index("ix_incidents_root_cause_key", "incidents", ["root_cause_key"])
    # Existing incidents: their one system and tenant become the lists, opening = detection.
    op.execute("UPDATE incidents SET systems = '[\"' || service || '\"]' WHERE service IS NOT NULL")
    op.execute("UPDATE incidents SET tenants = '[\"' || tenant || '\"]' WHERE tenant IS NOT NULL")
    op.execute("UPDATE incidents SET detected_at = opened_at, aware_at = opened_at")

    op.create_table(
        "incident_actions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _incident_fk(),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("done_at", UTCDateTime(), nullable=True),
        sa.UniqueConstraint("incident_id", "number", name="uq_incident_actions_number"),
    )
    op.create_index("ix_incident_actions_incident_id", "incident_actions", ["incident_id"])

    op.create_table(
        "incident_dora",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _incident_fk(),
        sa.Column("tenant", sa.String(100), nullable=False),
        sa.Column("entity_type", sa.String(64), nullable=False),
        sa.Column("inputs", sa.Text(), nullable=False),
        sa.Column("major", sa.Boolean(), nullable=False),
        sa.Column("criteria", sa.Text(), nullable=False),
        sa.Column("aware_at", UTCDateTime(), nullable=False),
        sa.Column("classified_at", UTCDateTime(), nullable=False),
        sa.Column("assessed_at", UTCDateTime(), nullable=False),
        sa.Column("assessed_by", sa.String(200), nullable=False),
        sa.Column("initial_submitted_at", UTCDateTime(), nullable=True),
        sa.Column("intermediate_submitted_at", UTCDateTime(), nullable=True),
        sa.Column("final_submitted_at", UTCDateTime(), nullable=True),
        sa.UniqueConstraint("incident_id", "tenant", name="uq_incident_dora_tenant"),
    )
    op.create_index("ix_incident_dora_incident_id", "incident_dora", ["incident_id"])
    op.create_index("ix_incident_dora_tenant", "incident_dora", ["tenant"])

    op.create_table(
        "incident_reports",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _incident_fk(),
        sa.Column("tenant", sa.String(100), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("submitted_at", UTCDateTime(), nullable=False),
        sa.Column("submitted_by", sa.String(200), nullable=False),
        sa.Column("reference", sa.String(200), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
    )
    op.create_index("ix_incident_reports_incident_id", "incident_reports", ["incident_id"])

    op.create_table(
        "incident_alerts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _incident_fk(),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("clock", sa.String(64), nullable=False),
        sa.Column("tenant", sa.String(100), nullable=True),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("raised_at", UTCDateTime(), nullable=False),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_incident_alerts_incident_id", "incident_alerts", ["incident_id"])
    op.create_index("ix_incident_alerts_fingerprint", "incident_alerts", ["fingerprint"])

    op.create_table(
        "incident_recurring",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(100), nullable=False),
        sa.Column("root_cause_key", sa.String(100), nullable=False),
        sa.Column("incidents", sa.String(500), nullable=False),
        sa.Column("criteria", sa.Text(), nullable=False),
        sa.Column("found_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("tenant", "root_cause_key", "incidents", name="uq_incident_recurring"),
    )


def downgrade() -> None:
    op.drop_table("incident_recurring")
    op.drop_index("ix_incident_alerts_fingerprint", table_name="incident_alerts")
    op.drop_index("ix_incident_alerts_incident_id", table_name="incident_alerts")
    op.drop_table("incident_alerts")
    op.drop_index("ix_incident_reports_incident_id", table_name="incident_reports")
    op.drop_table("incident_reports")
    op.drop_index("ix_incident_dora_tenant", table_name="incident_dora")
    op.drop_index("ix_incident_dora_incident_id", table_name="incident_dora")
    op.drop_table("incident_dora")
    op.drop_index("ix_incident_actions_incident_id", table_name="incident_actions")
    op.drop_table("incident_actions")
    op.drop_index("ix_incidents_root_cause_key", table_name="incidents")
    # Plain DROP COLUMN (SQLite >= 3.35, PostgreSQL): a batch copy of the table is not needed.
    for column in reversed(_new_columns()):
        op.execute(f"ALTER TABLE incidents DROP COLUMN {column.name}")
