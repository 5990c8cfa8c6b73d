"""Tenant filters run in SQL: an old open incident of a tenant is never cut off by newer ones,
on both backends; the join table follows every change of the list and the migration fills it."""

from __future__ import annotations

import sqlalchemy as sa

from leitstand import migrations
from leitstand.bootstrap import Container
from leitstand.db import Database
from leitstand.settings import Settings
from leitstand.testing import ManualClock

from .conftest import NORD, OPS, SUED, WEST, crowd


def test_an_old_open_incident_of_a_tenant_stays_in_its_list(
    container: Container, clock: ManualClock
) -> None:
    old = crowd(container, clock, "tenants", old=NORD, new=SUED)
    assert len(container.incidents.list()) == 200  # the newest 200, none of them NORD's
    assert old not in {i.id for i in container.incidents.list()}
    assert [i.id for i in container.incidents.list(tenant=NORD)] == [old]
    assert [i.id for i in container.incidents.list(status="open", tenant=NORD)] == [old]
    assert len(container.incidents.list(tenant=SUED, limit=1000)) == 205
    assert container.incidents.list(tenant=WEST) == []


def test_the_filter_follows_changes_of_the_tenant_list(container: Container) -> None:
    incident = container.incidents.create(
        title="Portal langsam", severity="SEV-4", actor=OPS, details={"tenants": [NORD, SUED]}
    ).id
    assert [i.id for i in container.incidents.list(tenant=SUED)] == [incident]
    container.incidents.update(incident, {"tenants": [WEST]}, actor=OPS)
    assert container.incidents.list(tenant=SUED) == []
    assert container.incidents.list(tenant=NORD) == []
    assert [i.id for i in container.incidents.list(tenant=WEST)] == [incident]
    container.incidents.update(incident, {"tenants": []}, actor=OPS)
    assert container.incidents.list(tenant=WEST) == []


def test_migration_indexes_existing_incidents_and_downgrades(settings: Settings) -> None:
    db = Database(settings.effective_database_url, schema=settings.database_schema)
    try:
        migrations.upgrade(db)
        migrations.downgrade(db, "incidents_0002")
        assert "incident_tenants" not in sa.inspect(db.engine).get_table_names()
        with db.engine.begin() as conn:
            for n, tenants in enumerate(('["a", "b", "a"]', "[]", "not json"), start=1):
                conn.execute(
                    sa.text(
                        "INSERT INTO incidents (id, year, sequence, title, severity, status, "
                        "opened_at, opened_by, source, tenants) VALUES "
                        "(:id, 2026, :n, 't', 'SEV-4', 'open', :at, 'anna', 'manual', :tenants)"
                    ),
                    {"id": f"INC-2026-{n:04d}", "n": n, "at": "2026-12-01", "tenants": tenants},
                )
        migrations.upgrade(db)
        with db.engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT incident_id, tenant FROM incident_tenants ORDER BY tenant")
            ).all()
        assert [tuple(r) for r in rows] == [("INC-2026-0001", "a"), ("INC-2026-0001", "b")]
        migrations.downgrade(db, "incidents_0002")
        assert "incident_tenants" not in sa.inspect(db.engine).get_table_names()
    finally:
        db.dispose()
