"""Migration safety: a rollback script for every revision, a snapshot before every migration.

The seed's "Datenbank-Rollback": every migration has a rollback script (a revision whose
``downgrade()`` does nothing is refused), a database snapshot is taken before any migration, and
the rollback test (upgrade -> downgrade -> upgrade on a scratch database) is a pipeline step.

The ``dump`` snapshot is a ``pg_dump`` (custom format) of the target database, or a copy through
SQLite's backup API; ``leitstand.releases.snapshots`` chooses it or a pgBackRest backup through
the backups domain (``deployment.database_rollback.snapshot_method``).

The SQLAlchemy side of the project's database (URLs, the scratch database) lives in
``leitstand.releases.store.project_db``; Alembic itself runs in a child process
(``leitstand.gates.rollback.runner``, shared with the gate check test.migrations).
"""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from leitstand.clock import Clock
from leitstand.errors import ConfigError
from leitstand.gates.rollback import AlembicRunner, MigrationError, scratch_database
from leitstand.policy.releases import MigrationSettings
from leitstand.releases.instances import fill
from leitstand.releases.store.project_db import backend_name, database_path, libpq

__all__ = ["MigrationError", "MigrationRunner", "scratch_database"]


class MigrationRunner(AlembicRunner):
    """Checks and runs an application's Alembic migrations in a child process (the runner and
    the round trip are the gate check's, ``leitstand.gates.rollback``), and snapshots its
    database before a release migrates it."""

    def __init__(self, *, home: Path, clock: Clock, environ: Mapping[str, str] | None = None):
        super().__init__(environ=environ)
        self.home = home
        self.clock = clock

    def _path(self, template: str, values: Mapping[str, str]) -> Path:
        path = Path(fill(template, values)).expanduser()
        return path if path.is_absolute() else self.home / path

    def snapshot(self, url: str, folder: Path, label: str, timeout: float) -> dict[str, Any]:
        """Copy the database before a migration: pg_dump (custom format) or SQLite backup."""
        folder.mkdir(parents=True, exist_ok=True)
        stamp = self.clock.now().strftime("%Y%m%dT%H%M%SZ")
        backend = backend_name(url)
        if backend == "sqlite":
            target = folder / f"{label}-{stamp}.sqlite"
            source_path = database_path(url)
            try:
                with sqlite3.connect(source_path) as source, sqlite3.connect(target) as copy:
                    source.backup(copy)
            except sqlite3.Error as exc:
                raise MigrationError(f"snapshot of {source_path} failed: {exc}") from exc
        elif backend == "postgresql":
            target = folder / f"{label}-{stamp}.dump"
            uri, secret = libpq(url)
            argv = ["pg_dump", "--format=custom", "--no-password", f"--file={target}", uri]
            env = {**{k: v for k, v in self.environ.items() if not k.startswith("PG")}, **secret}
            try:
                done = subprocess.run(  # noqa: S603 - fixed argument list
                    argv, capture_output=True, text=True, timeout=timeout, env=env, check=False
                )
            except FileNotFoundError as exc:
                raise ConfigError(
                    "pg_dump is not installed (Debian package postgresql-client)"
                ) from exc
            except subprocess.TimeoutExpired as exc:
                raise MigrationError(f"pg_dump took longer than {timeout:g} s") from exc
            if done.returncode != 0:
                target.unlink(missing_ok=True)
                detail = (done.stderr.strip().splitlines() or ["?"])[0]
                raise MigrationError(f"pg_dump failed: {detail}")
        else:
            raise MigrationError(f"no snapshot method for {backend} databases")
        digest = hashlib.sha256(target.read_bytes()).hexdigest()
        return {"file": str(target), "bytes": target.stat().st_size, "sha256": digest}

    def _target(
        self, settings: MigrationSettings, service: str, env: str
    ) -> tuple[Path, str, float, dict[str, str]]:
        values = {"service": service, "env": env}
        config = self._path(settings.alembic_config, values)
        url = self.environ.get(settings.url_env)
        if not url:
            raise ConfigError(f"{settings.url_env} is not set: it must hold the database URL")
        return config, url, settings.timeout.total_seconds(), values

    def refuse(self, settings: MigrationSettings, *, service: str, env: str) -> list[str]:
        """Refuse revisions without a working rollback script (before anything is touched)."""
        config, _url, timeout, _values = self._target(settings, service, env)
        return self.refuse_without_downgrade(config, timeout)

    def snapshot_for(self, settings: MigrationSettings, service: str, env: str) -> dict[str, Any]:
        """The ``dump`` snapshot of the service's database into ``snapshot_dir``."""
        _config, url, timeout, values = self._target(settings, service, env)
        folder = (
            self._path(settings.snapshot_dir, values)
            if settings.snapshot_dir
            else self.home / "releases" / "snapshots"
        )
        return self.snapshot(url, folder, f"{service}-{env}", timeout)

    def upgrade(self, settings: MigrationSettings, *, service: str, env: str) -> dict[str, Any]:
        """``alembic upgrade heads`` in the child process."""
        config, url, timeout, _values = self._target(settings, service, env)
        upgraded = self.run("upgrade", config, url, timeout)
        return {"revisions": upgraded, "at": _iso(self.clock.now())}

    def migrate(self, settings: MigrationSettings, *, service: str, env: str) -> dict[str, Any]:
        """Refuse revisions without rollback, snapshot the database, then upgrade it."""
        self.refuse(settings, service=service, env=env)
        snapshot = self.snapshot_for(settings, service, env)
        return {"snapshot": snapshot, **self.upgrade(settings, service=service, env=env)}


def _iso(when: datetime) -> str:
    return when.isoformat()
