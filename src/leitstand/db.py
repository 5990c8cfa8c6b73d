"""Database access: one engine per process, write transactions, dialect quirks in one place.

SQLite (the embedded default) runs in WAL mode with ``BEGIN IMMEDIATE`` so that concurrent
writers queue on the database lock instead of failing on a lock upgrade; PostgreSQL uses row locks
(``FOR UPDATE``, ``SKIP LOCKED``) for the same guarantees.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from leitstand.errors import ConfigError, StoreError

__all__ = [
    "Base",
    "Database",
    "IntegrityError",
    "Session",
    "UTCDateTime",
    "normalise_url",
    "safe_url",
]


class Base(DeclarativeBase):
    """Declarative base for every table; Alembic migrations must match this metadata."""


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps ISO text, PostgreSQL timestamptz)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def normalise_url(url: str) -> URL:
    """Parse a database URL, choosing psycopg 3 for plain ``postgresql://`` URLs."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(
            f"LEITSTAND_DATABASE_URL: expected a URL like postgresql://user@host:5432/db "
            f"or sqlite:///path (got {url!r})"
        ) from exc
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"LEITSTAND_DATABASE_URL: expected a sqlite or postgresql URL "
            f"(got {parsed.get_backend_name()})"
        )
    return parsed


def safe_url(url: URL) -> str:
    """Render a URL for messages, never showing the password."""
    return url.render_as_string(hide_password=True)


class Database:
    """An engine plus a session factory; ``transaction()`` is the unit of work."""

    def __init__(self, url: str, *, schema: str | None = None, echo: bool = False) -> None:
        self.url = normalise_url(url)
        self.schema = schema
        self.dialect = self.url.get_backend_name()
        connect_args: dict[str, Any] = {}
        kwargs: dict[str, Any] = {"echo": echo, "future": True}
        if self.dialect == "sqlite":
            database = self.url.database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            connect_args["check_same_thread"] = False
            connect_args["timeout"] = 60
        else:
            connect_args["connect_timeout"] = 5
            if schema:
                connect_args["options"] = f"-csearch_path={schema}"
            kwargs["pool_pre_ping"] = True
        self.engine: Engine = sa.create_engine(self.url, connect_args=connect_args, **kwargs)
        if self.dialect == "sqlite":
            _configure_sqlite(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False, autoflush=True)
        # Readers take no write lock on SQLite (plain deferred BEGIN); see _configure_sqlite.
        self._read_engine = self.engine.execution_options(leitstand_read=True)

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self._sessions

    def check(self) -> None:
        """Connect once and fail with a one-line StoreError when the database is unreachable."""
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except SQLAlchemyError as exc:
            raise StoreError(
                f"database {safe_url(self.url)} is not reachable: {_first_line(exc)}"
            ) from exc

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Open a session in a transaction; commit on success, roll back on any error."""
        session = self._sessions()
        try:
            with session.begin():
                yield session
        except OperationalError as exc:
            raise StoreError(f"database error: {_first_line(exc)}") from exc
        finally:
            session.close()

    @contextmanager
    def reader(self) -> Iterator[Session]:
        """A session for reads only; nothing is committed."""
        session = self._sessions(bind=self._read_engine)
        try:
            yield session
        except OperationalError as exc:
            raise StoreError(f"database error: {_first_line(exc)}") from exc
        finally:
            session.rollback()
            session.close()

    @contextmanager
    def advisory_lock(self, key: int) -> Iterator[None]:
        """Hold a PostgreSQL session advisory lock (several instances: one at a time)."""
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": key})
            try:
                yield
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                conn.commit()

    def dispose(self) -> None:
        self.engine.dispose()


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling defers BEGIN and cannot take the write lock up front;
    # SQLAlchemy's documented recipe: disable it and emit BEGIN ourselves.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a committed (acknowledged) transaction survives power loss, not only a crash.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # Writers take the write lock up front so two writers queue instead of deadlocking on a
        # lock upgrade; readers in WAL mode never wait for writers.
        if conn.get_execution_options().get("leitstand_read"):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def _first_line(exc: BaseException) -> str:
    original = getattr(exc, "orig", None) or exc
    text = str(original).strip().splitlines()
    return text[0] if text else type(original).__name__
