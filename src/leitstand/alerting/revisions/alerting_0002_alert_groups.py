"""Alerting: the Alertmanager group of an alert (``alerts.group_key``).

An Alertmanager group (the webhook's ``groupKey``) is one alert group in leitstand: escalation
opens at most one incident per group, and later alerts of the group join it. The key is stored
as its SHA-256 (hex), indexed for the lookup of a group's incident. Existing alerts have no group.

Revision ID: alerting_0002
Revises: alerting_0001
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "alerting_0002"
down_revision = "alerting_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("group_key", sa.String(64), nullable=True))
    op.create_index("ix_alerts_group_key", "alerts", ["group_key"])
    op.create_index("ix_alert_escalations_incident_id", "alert_escalations", ["incident_id"])


def downgrade() -> None:
    op.drop_index("ix_alert_escalations_incident_id", table_name="alert_escalations")
    op.drop_index("ix_alerts_group_key", table_name="alerts")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("group_key")
