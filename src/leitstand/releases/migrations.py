"""Migration safety: a rollback script for every revision, a snapshot before every migration.

The seed's "Datenbank-Rollback": every migration has a rollback script (a revision whose
``downgrade()`` does nothing is refused), a database snapshot is taken before any migration, and
the rollback test (upgrade -> downgrade -> upgrade on a scratch database) is a pipeline step.

The ``dump`` snapshot is a ``pg_dump`` (custom format) of the target database, or a copy through
SQLite's backup API; ``leitstand.releases.snapshots`` chooses it or a pgBackRest backup through
the backups domain (``deployment.database_rollback.snapshot_method``).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from leitstand.clock import Clock
from leitstand.errors import ConfigError, Issue, LeitstandError, ValidationError
from leitstand.policy.releases import MigrationSettings
from leitstand.releases.instances import fill

__all__ = ["MigrationError", "MigrationRunner", "scratch_database"]


class MigrationError(LeitstandError):
    """Migrations could not be run or checked; the message says where and why."""


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URI without the password, and the environment that carries it."""
    parsed = make_url(url)
    env = {"PGPASSWORD": parsed.password} if parsed.password else {}
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


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


class MigrationRunner:
    """Checks and runs an application's Alembic migrations in a child process."""

    def __init__(self, *, home: Path, clock: Clock, environ: Mapping[str, str] | None = None):
        self.home = home
        self.clock = clock
        self.environ = dict(os.environ if environ is None else environ)

    def _path(self, template: str, values: Mapping[str, str]) -> Path:
        path = Path(fill(template, values)).expanduser()
        return path if path.is_absolute() else self.home / path

    def run(self, action: str, config: Path, url: str | None, timeout: float) -> dict[str, Any]:
        """One runner call; raises MigrationError with the runner's own words."""
        env = {k: v for k, v in self.environ.items() if not k.startswith("LEITSTAND_")}
        if url:
            env["LEITSTAND_MIGRATION_URL"] = url
        argv = [sys.executable, "-m", "leitstand.releases.migration_runner", action, str(config)]
        try:
            done = subprocess.run(  # noqa: S603 - fixed argument list
                argv,
                capture_output=True,
                text=True,
                timeout=timeout,
                env=env,
                cwd=config.parent,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise MigrationError(f"{config}: {action} took longer than {timeout:g} s") from exc
        try:
            answer = json.loads(done.stdout.strip().splitlines()[-1])
        except (IndexError, ValueError):
            tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise MigrationError(f"{config}: {action} failed: {tail}") from None
        if "error" in answer:
            raise MigrationError(f"{config}: {action} failed: {answer['error']}")
        return dict(answer)

    def refuse_without_downgrade(self, config: Path, timeout: float) -> list[str]:
        """Raise ValidationError naming every revision without a working downgrade."""
        answer = self.run("static", config, None, timeout)
        problems = answer.get("problems", [])
        if problems:
            raise ValidationError(
                [Issue(p["path"], f"revision {p['revision']}: {p['message']}") for p in problems],
                summary="migrations without a working rollback script are refused:",
            )
        return list(answer.get("revisions", []))

    def check(self, config: Path, *, scratch: str | None, timeout: float) -> dict[str, Any]:
        """The pipeline step: static check, then upgrade -> downgrade -> upgrade on scratch."""
        if not config.is_file():
            raise ValidationError([Issue("config", f"an alembic.ini file (got {config})")])
        revisions = self.refuse_without_downgrade(config, timeout)
        with (
            tempfile.TemporaryDirectory(prefix="leitstand-mcheck-") as work,
            scratch_database(scratch, Path(work)) as url,
        ):
            answer = self.run("roundtrip", config, url, timeout)
            kind = make_url(url).get_backend_name()
        return {
            "config": str(config),
            "scratch": kind,
            "revisions": revisions,
            "steps": answer.get("steps", []),
            "problems": answer.get("problems", []),
            "ok": not answer.get("problems"),
        }

    def snapshot(self, url: str, folder: Path, label: str, timeout: float) -> dict[str, Any]:
        """Copy the database before a migration: pg_dump (custom format) or SQLite backup."""
        folder.mkdir(parents=True, exist_ok=True)
        stamp = self.clock.now().strftime("%Y%m%dT%H%M%SZ")
        backend = make_url(url).get_backend_name()
        if backend == "sqlite":
            target = folder / f"{label}-{stamp}.sqlite"
            source_path = make_url(url).database or ""
            try:
                with sqlite3.connect(source_path) as source, sqlite3.connect(target) as copy:
                    source.backup(copy)
            except sqlite3.Error as exc:
                raise MigrationError(f"snapshot of {source_path} failed: {exc}") from exc
        elif backend == "postgresql":
            target = folder / f"{label}-{stamp}.dump"
            uri, secret = _libpq(url)
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
