"""Alembic environment: runs against the engine handed over by ``leitstand.migrations``."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Engine

import leitstand.tables  # noqa: F401  (registers every table on the metadata)
from leitstand.db import Base

target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = context.config.attributes.get("engine")
    if not isinstance(engine, Engine):
        raise RuntimeError("leitstand migrations run through leitstand.migrations, not the CLI")
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            transaction_per_migration=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
