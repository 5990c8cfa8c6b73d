"""Affected systems are rows (``incident_systems``): a system filter runs in SQL on both
backends, the rows follow every change of the list (in its order), and the migration moves the
old JSON column into the table and back."""

from __future__ import annotations

import sqlalchemy as sa

from leitstand import migrations
from leitstand.bootstrap import Container
from leitstand.db import Database
from leitstand.settings import Settings
from leitstand.testing import ManualClock

from .conftest import OPS, PORTAL, crowd

API = "enterprise-api"


def test_an_old_incident_of_a_system_is_not_cut_off_by_the_limit(
    container: Container, clock: ManualClock
) -> None:
    old = crowd(container, clock, "systems", old=PORTAL, new=API)
    assert old not in {i.id for i in container.incidents.list()}
    assert [i.id for i in container.incidents.list(system=PORTAL)] == [old]
    assert [i.id for i in container.incidents.list(status="open", system=PORTAL)] == [old]
    assert len(container.incidents.list(system=API, limit=1000)) == 205
    assert container.incidents.list(system="nowhere") == []


def test_the_rows_follow_changes_of_the_system_list_in_order(container: Container) -> None:
    incident = container.incidents.create(
        title="Portal langsam", severity="SEV-4", actor=OPS, details={"systems": [API, PORTAL]}
    ).id
    assert container.incidents.get(incident).systems == [API, PORTAL]
    assert [i.id for i in container.incidents.list(system=API)] == [incident]
    container.incidents.update(incident, {"systems": [PORTAL, API]}, actor=OPS)
    assert container.incidents.get(incident).systems == [PORTAL, API]
    container.incidents.update(incident, {"systems": [PORTAL]}, actor=OPS)
    assert container.incidents.get(incident).systems == [PORTAL]
    assert container.incidents.list(system=API) == []
    container.incidents.update(incident, {"systems": []}, actor=OPS)
    assert container.incidents.get(incident).systems == []
    assert container.incidents.list(system=PORTAL) == []


def test_migration_moves_the_json_column_into_rows_and_back(settings: Settings) -> None:
    db = Database(settings.effective_database_url, schema=settings.database_schema)
    try:
        migrations.upgrade(db)
        migrations.downgrade(db, "incidents_0004")
        assert "incident_systems" not in sa.inspect(db.engine).get_table_names()
        with db.engine.begin() as conn:
            for n, systems in enumerate(('["b", "a", "b"]', "[]", "not json"), start=1):
                conn.execute(
                    sa.text(
                        "INSERT INTO incidents (id, year, sequence, title, severity, status, "
                        "opened_at, opened_by, source, systems) VALUES "
                        "(:id, 2026, :n, 't', 'SEV-4', 'open', :at, 'anna', 'manual', :systems)"
                    ),
                    {"id": f"INC-2026-{n:04d}", "n": n, "at": "2026-12-01", "systems": systems},
                )
            conn.execute(
                sa.text("INSERT INTO incident_tenants (incident_id, tenant) VALUES (:id, 'nord')"),
                {"id": "INC-2026-0001"},
            )
        migrations.upgrade(db)
        columns = {c["name"] for c in sa.inspect(db.engine).get_columns("incidents")}
        assert "systems" not in columns
        with db.engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT incident_id, system, position FROM incident_systems "
                    "ORDER BY incident_id, position"
                )
            ).all()
        assert [tuple(r) for r in rows] == [("INC-2026-0001", "b", 0), ("INC-2026-0001", "a", 1)]
        migrations.downgrade(db, "incidents_0004")
        assert "incident_systems" not in sa.inspect(db.engine).get_table_names()
        with db.engine.connect() as conn:
            restored = conn.execute(sa.text("SELECT id, systems FROM incidents ORDER BY id")).all()
        assert [tuple(r) for r in restored] == [
            ("INC-2026-0001", '["b", "a"]'),
            ("INC-2026-0002", "[]"),
            ("INC-2026-0003", "[]"),
        ]
        # The rows that refer to incidents survive the downgrade (SQLite copies the table).
        with db.engine.connect() as conn:
            tenants = conn.execute(sa.text("SELECT incident_id, tenant FROM incident_tenants"))
            assert [tuple(r) for r in tenants] == [("INC-2026-0001", "nord")]
    finally:
        db.dispose()
