"""Incidents: the affected tenants as rows (``incident_tenants``), so tenant filters run in SQL.

The JSON list in ``incidents.tenants`` stays the incident's own record; the join table is an
index of it, filled here from the existing incidents. Downgrade drops the table (nothing is lost).

Revision ID: incidents_0003
Revises: incidents_0002
Create Date: 2026-12-07
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "incidents_0003"
down_revision = "incidents_0002"
branch_labels = None
depends_on = None


def _tenants(text: str | None) -> list[str]:
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return []
    if not isinstance(value, list):
        return []
    return list(dict.fromkeys(str(t) for t in value if t))


def upgrade() -> None:
    table = op.create_table(
        "incident_tenants",
        sa.Column(
            "incident_id",
            sa.String(32),
            sa.ForeignKey("incidents.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("tenant", sa.String(100), primary_key=True),
    )
    op.create_index("ix_incident_tenants_tenant", "incident_tenants", ["tenant"])
    bind = op.get_bind()
    incidents = sa.table("incidents", sa.column("id", sa.String), sa.column("tenants", sa.Text))
    rows = [
        {"incident_id": incident_id, "tenant": tenant}
        for incident_id, text in bind.execute(sa.select(incidents.c.id, incidents.c.tenants))
        for tenant in _tenants(text)
    ]
    if rows:
        op.bulk_insert(table, rows)


def downgrade() -> None:
    op.drop_index("ix_incident_tenants_tenant", table_name="incident_tenants")
    op.drop_table("incident_tenants")
