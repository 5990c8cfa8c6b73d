"""Migrations: every revision rolls back, and the tables match the models."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from leitstand import migrations
from leitstand.db import Base, Database
from leitstand.settings import Settings


def _tables(db: Database) -> set[str]:
    return set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}


def test_upgrade_downgrade_upgrade_round_trips(settings: Settings) -> None:
    db = Database(settings.effective_database_url, schema=settings.database_schema)
    try:
        migrations.upgrade(db)
        assert migrations.is_current(db)
        assert {"ledger_entries", "ledger_state", "users", "scheduler_jobs"} <= _tables(db)
        migrations.downgrade(db, "base")
        assert migrations.current_heads(db) == frozenset()
        assert _tables(db) == set()
        migrations.upgrade(db)
        assert migrations.is_current(db)
        with db.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT size FROM ledger_state")).scalar_one() == 0
    finally:
        db.dispose()


def test_the_migrated_schema_matches_the_table_models(settings: Settings) -> None:
    db = Database(settings.effective_database_url, schema=settings.database_schema)
    try:
        migrations.upgrade(db)
        import leitstand.tables  # noqa: F401

        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn)
            diff = compare_metadata(context, Base.metadata)
        assert diff == []
    finally:
        db.dispose()
