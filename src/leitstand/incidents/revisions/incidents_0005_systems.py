"""Incidents: the affected systems as rows (``incident_systems``), so system filters run in SQL.

The JSON list in ``incidents.systems`` moves into the join table (one row per system, in the
list's order) and the column is dropped. Downgrade restores the column from the rows.

Revision ID: incidents_0005
Revises: incidents_0004
Create Date: 2026-12-07
"""

from __future__ import annotations

import json
from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision = "incidents_0005"
down_revision = "incidents_0004"
branch_labels = None
depends_on = None

_incidents = sa.table("incidents", sa.column("id", sa.String), sa.column("systems", sa.Text))


def _systems(text: str | None) -> list[str]:
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return []
    if not isinstance(value, list):
        return []
    return list(dict.fromkeys(str(s) for s in value if s))


def upgrade() -> None:
    table = op.create_table(
        "incident_systems",
        sa.Column(
            "incident_id",
            sa.String(32),
            sa.ForeignKey("incidents.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("system", sa.String(100), primary_key=True),
        sa.Column("position", sa.Integer(), nullable=False),
    )
    op.create_index("ix_incident_systems_system", "incident_systems", ["system"])
    bind = op.get_bind()
    rows = [
        {"incident_id": incident_id, "system": system, "position": position}
        for incident_id, text in bind.execute(sa.select(_incidents.c.id, _incidents.c.systems))
        for position, system in enumerate(_systems(text))
    ]
    if rows:
        op.bulk_insert(table, rows)
    # Plain DROP COLUMN (SQLite >= 3.35): a batch table copy would drop and re-create
    # incidents, and the ON DELETE CASCADE would take the systems, tenants and actions with it.
    op.execute("ALTER TABLE incidents DROP COLUMN systems")


def _add_column_back(bind: sa.Connection) -> None:
    """``incidents.systems`` where it stood (after ``phase``). SQLite can only append a column,
    so there the table is copied; dropping the old copy cascades to the tables that refer to
    incidents (foreign keys are on), so their rows are kept aside and put back."""
    column = sa.Column("systems", sa.Text(), nullable=False, server_default="[]")
    if bind.dialect.name != "sqlite":
        op.add_column("incidents", column)
        return
    inspector = sa.inspect(bind)
    children = [
        sa.Table(name, sa.MetaData(), autoload_with=bind)
        for name in inspector.get_table_names()
        if any(fk["referred_table"] == "incidents" for fk in inspector.get_foreign_keys(name))
    ]
    kept = {t.name: [dict(r._mapping) for r in bind.execute(sa.select(t))] for t in children}
    with op.batch_alter_table("incidents", recreate="always") as batch:
        batch.add_column(column, insert_after="phase")
    for table in children:
        bind.execute(sa.delete(table))
        if kept[table.name]:
            bind.execute(sa.insert(table), kept[table.name])


def downgrade() -> None:
    bind = op.get_bind()
    _add_column_back(bind)
    table = sa.table(
        "incident_systems",
        sa.column("incident_id", sa.String),
        sa.column("system", sa.String),
        sa.column("position", sa.Integer),
    )
    systems: dict[str, list[str]] = defaultdict(list)
    for incident_id, system in bind.execute(
        sa.select(table.c.incident_id, table.c.system).order_by(
            table.c.incident_id, table.c.position
        )
    ):
        systems[incident_id].append(system)
    for incident_id, names in systems.items():
        bind.execute(
            sa.update(_incidents)
            .where(_incidents.c.id == incident_id)
            .values(systems=json.dumps(names))
        )
    op.drop_index("ix_incident_systems_system", table_name="incident_systems")
    op.drop_table("incident_systems")
