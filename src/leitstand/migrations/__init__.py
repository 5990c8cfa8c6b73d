"""Alembic migrations, run programmatically (no alembic.ini needed).

Every revision has a working downgrade: the seed demands a rollback script for every migration,
and a test runs upgrade -> downgrade -> upgrade on SQLite and PostgreSQL.

The foundation (revisions 0001-0003, in ``migrations/versions``) is the root; each domain keeps
its revisions on its own branch in its own folder (``leitstand/<domain>/revisions/``,
``branch_labels = ("flags",)``, first ``down_revision = "0001"``), so domains evolve
independently. "Current" therefore means: at every head.
"""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from leitstand.db import Database

__all__ = ["current_heads", "downgrade", "heads", "is_current", "upgrade"]

_HERE = Path(__file__).parent


def _config(db: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_HERE))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", os.pathsep.join(map(str, version_locations())))
    config.attributes["engine"] = db.engine
    return config


def version_locations() -> list[Path]:
    """The foundation's revisions and every domain's ``revisions/`` folder."""
    return [_HERE / "versions", *sorted(_HERE.parent.glob("*/revisions"))]


def upgrade(db: Database, revision: str = "heads") -> None:
    """Migrate the database up to ``revision`` (default: every branch to its newest)."""
    command.upgrade(_config(db), revision)


def downgrade(db: Database, revision: str) -> None:
    """Migrate the database down to ``revision`` (``base`` removes every table)."""
    command.downgrade(_config(db), revision)


def heads(db: Database) -> frozenset[str]:
    """The newest revision of every branch shipped with this version of leitstand."""
    return frozenset(ScriptDirectory.from_config(_config(db)).get_heads())


def current_heads(db: Database) -> frozenset[str]:
    """The revisions the database is at (empty when never migrated)."""
    with db.engine.connect() as conn:
        return frozenset(MigrationContext.configure(conn).get_current_heads())


def is_current(db: Database) -> bool:
    """True when the database is at every shipped head."""
    return current_heads(db) == heads(db)
