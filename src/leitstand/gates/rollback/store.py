"""The database side of the rollback test: scratch databases, a database's schema and heads.

The only module of the rollback test that speaks SQLAlchemy; the child runner and the parent
call these functions.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from leitstand.errors import LeitstandError

__all__ = [
    "MigrationError",
    "backend_of",
    "current_heads",
    "engine_for",
    "schema_of",
    "scratch_database",
]


class MigrationError(LeitstandError):
    """Migrations could not be run or checked; the message says where and why."""


def backend_of(url: str) -> str:
    """The database kind of ``url``: ``sqlite``, ``postgresql``, ..."""
    return make_url(url).get_backend_name()


@contextmanager
def scratch_database(server_url: str | None, work: Path) -> Iterator[str]:
    """A fresh empty database for a check: a SQLite file, or a new database on a PostgreSQL
    server (dropped afterwards)."""
    if server_url is None or server_url.startswith("sqlite"):
        path = work / f"scratch-{uuid.uuid4().hex[:8]}.db"
        try:
            yield f"sqlite:///{path}"
        finally:
            path.unlink(missing_ok=True)
        return
    url = make_url(server_url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    name = f"leitstand_check_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.SQLAlchemyError as exc:
        admin.dispose()
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise MigrationError(
            f"cannot create a scratch database on {url.render_as_string()}: {reason}"
        ) from exc
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@contextmanager
def engine_for(url: str) -> Iterator[Engine]:
    """An engine on ``url`` for a programmatic Alembic environment (disposed afterwards)."""
    engine = sa.create_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def schema_of(url: str) -> dict[str, Any]:
    """Tables with columns, primary key, indexes, unique and foreign keys (no alembic_version)."""
    engine = sa.create_engine(url)
    try:
        inspector = sa.inspect(engine)
        tables: dict[str, Any] = {}
        for table in sorted(inspector.get_table_names()):
            if table == "alembic_version":
                continue
            tables[table] = {
                "columns": [
                    [c["name"], str(c["type"]), bool(c["nullable"])]
                    for c in inspector.get_columns(table)
                ],
                "primary_key": inspector.get_pk_constraint(table).get("constrained_columns"),
                "indexes": sorted(
                    [i["name"] or "", list(i["column_names"]), bool(i["unique"])]
                    for i in inspector.get_indexes(table)
                ),
                "foreign_keys": sorted(
                    [list(f["constrained_columns"]), f["referred_table"]]
                    for f in inspector.get_foreign_keys(table)
                ),
            }
        return tables
    finally:
        engine.dispose()


def current_heads(url: str) -> list[str]:
    """The revisions the database at ``url`` is at (empty when never migrated)."""
    from alembic.runtime.migration import MigrationContext

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return sorted(MigrationContext.configure(conn).get_current_heads())
    finally:
        engine.dispose()
