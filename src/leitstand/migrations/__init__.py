"""Alembic migrations, run programmatically (no alembic.ini needed).

Every revision has a working downgrade: the seed demands a rollback script for every migration,
and a test runs upgrade -> downgrade -> upgrade on SQLite and PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from leitstand.db import Database

__all__ = ["current_revision", "downgrade", "head_revision", "upgrade"]

_HERE = Path(__file__).parent


def _config(db: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_HERE))
    config.attributes["engine"] = db.engine
    return config


def upgrade(db: Database, revision: str = "head") -> None:
    """Migrate the database up to ``revision``."""
    command.upgrade(_config(db), revision)


def downgrade(db: Database, revision: str) -> None:
    """Migrate the database down to ``revision`` (``base`` removes every table)."""
    command.downgrade(_config(db), revision)


def head_revision(db: Database) -> str | None:
    """The newest revision shipped with this version of leitstand."""
    return ScriptDirectory.from_config(_config(db)).get_current_head()


def current_revision(db: Database) -> str | None:
    """The revision the database is at (None when never migrated)."""
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
