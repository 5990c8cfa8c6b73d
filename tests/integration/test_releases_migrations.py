"""Migration safety: no revision without a working downgrade, a snapshot before migrating, and
upgrade -> downgrade -> upgrade on a scratch database as a pipeline step."""

from __future__ import annotations

import hashlib
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from leitstand.auth.model import Actor
from leitstand.bootstrap import build
from leitstand.errors import ValidationError
from leitstand.ledger.service import EntryQuery
from leitstand.policy.loader import load_policy_text
from leitstand.releases.model import Phase
from leitstand.settings import Settings
from leitstand.testing import POSTGRES_URL, ManualClock
from leitstand.testing.cli import cli_token, run_cli
from support.gate_runs import gated_start

OPS = Actor(name="olaf", role="devops")

ENV_PY = """
from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config
engine = engine_from_config(
    config.get_section(config.config_ini_section), prefix="sqlalchemy.", poolclass=pool.NullPool
)
with engine.connect() as connection:
    context.configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()
"""

REV_1 = """
from alembic import op
import sqlalchemy as sa

revision = "a1"
down_revision = None


def upgrade():
    op.create_table("contracts", sa.Column("id", sa.Integer, primary_key=True))


def downgrade():
    op.drop_table("contracts")
"""

REV_2 = """
from alembic import op
import sqlalchemy as sa

revision = "b2"
down_revision = "a1"


def upgrade():
    op.add_column("contracts", sa.Column("broker", sa.String(64)))
    op.create_index("ix_contracts_broker", "contracts", ["broker"])


def downgrade():
{downgrade}
"""

GOOD = """    op.drop_index("ix_contracts_broker", table_name="contracts")
    op.drop_column("contracts", "broker")"""
EMPTY = """    pass"""
LOSSY = """    op.drop_index("ix_contracts_broker", table_name="contracts")"""


def project(root: Path, downgrade: str = GOOD) -> Path:
    (root / "migrations" / "versions").mkdir(parents=True)
    (root / "migrations" / "env.py").write_text(ENV_PY)
    (root / "migrations" / "versions" / "a1_contracts.py").write_text(REV_1)
    (root / "migrations" / "versions" / "b2_broker.py").write_text(
        REV_2.format(downgrade=downgrade)
    )
    ini = root / "alembic.ini"
    ini.write_text("[alembic]\nscript_location = %(here)s/migrations\nsqlalchemy.url = sqlite://\n")
    return ini


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEITSTAND_")}
    env.update({"LEITSTAND_HOME": str(tmp_path / "home"), "COLUMNS": "200"})
    env["LEITSTAND_TOKEN"] = cli_token(tmp_path / "home")  # a devops user acts
    return run_cli(args, env=env, cwd=tmp_path)


def test_a_migration_with_working_downgrades_passes_the_pipeline_check(tmp_path: Path) -> None:
    ini = project(tmp_path / "app")
    done = cli(tmp_path, "release", "migration-check", "--config", str(ini))
    assert done.returncode == 0, done.stderr
    assert "migrations OK: 2 revision(s), 5 steps on a scratch sqlite database" in done.stdout


def test_a_revision_whose_downgrade_does_nothing_is_refused_by_name(tmp_path: Path) -> None:
    ini = project(tmp_path / "app", EMPTY)
    done = cli(tmp_path, "release", "migration-check", "--config", str(ini))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "b2_broker.py: revision b2: downgrade() does nothing" in done.stderr


def test_a_downgrade_that_does_not_restore_the_schema_fails_the_round_trip(
    tmp_path: Path,
) -> None:
    ini = project(tmp_path / "app", LOSSY)
    done = cli(tmp_path, "release", "migration-check", "--config", str(ini))
    assert done.returncode == 2
    assert (
        "revision b2: downgrade() does not restore the schema of a1: tables changed: contracts"
        in (done.stderr)
    )


@pytest.mark.postgres
def test_the_round_trip_runs_on_a_scratch_postgresql_database_that_is_dropped(
    tmp_path: Path,
) -> None:
    ini = project(tmp_path / "app")
    engine = sa.create_engine(POSTGRES_URL)
    try:
        with engine.connect() as conn:
            before = set(conn.execute(sa.text("SELECT datname FROM pg_database")).scalars())
        done = cli(
            tmp_path, "release", "migration-check", "--config", str(ini), "--scratch",
            POSTGRES_URL, "--json",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        with engine.connect() as conn:
            after = set(conn.execute(sa.text("SELECT datname FROM pg_database")).scalars())
    finally:
        engine.dispose()
    assert '"scratch": "postgresql"' in done.stdout and after == before


@pytest.fixture
def app_database() -> Iterator[str]:
    name = f"app_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield sa.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _release_with_migrations(
    tmp_path: Path, ini: Path, url: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[Phase, str | None, list[str], Path]:
    phase, reason, actions, home, _snapshot = _release_with_snapshot(
        tmp_path, ini, url, monkeypatch
    )
    return phase, reason, actions, home


def _release_with_snapshot(
    tmp_path: Path, ini: Path, url: str, monkeypatch: pytest.MonkeyPatch, method: str = "dump"
) -> tuple[Phase, str | None, list[str], Path, Any]:
    monkeypatch.setenv("APP_DB_URL", url)
    target = {
        "start": {"kind": "kubernetes", "image": "r/{service}", "output_dir": str(tmp_path / "k")},
        "health": {"interval": "1s", "within": "2s"},
        "migrations": {"url_env": "APP_DB_URL", "alembic_config": str(ini)},
        "environments": {
            "staging": {
                "router": {
                    "kind": "kubernetes",
                    "service": "api",
                    "output_dir": str(tmp_path / "k"),
                },
                "instances": {"blue": {"port": 1}, "green": {"port": 2}},
            }
        },
    }
    # The release engine is under test; admission (Fail = Stop) has its own tests.
    gates = {"deployment": {"required_gates": {"staging": []}}}
    policy = load_policy_text(
        yaml.safe_dump(
            {
                "deployment": {
                    "releases": {"enterprise-api": target},
                    "database_rollback": {"snapshot_method": method},
                },
                "pipeline": gates,
            }
        )
    )
    clock = ManualClock()
    home = tmp_path / "home"
    c = build(Settings(home=home), clock=clock, migrate=True, policy=policy)
    try:
        info = gated_start(c, service="enterprise-api", version="2.0", env="staging", actor=OPS)
        for _ in range(10):
            c.scheduler.run_due()
            c.scheduler.leases.drain(timeout=120)
            if c.releases.get(info.id).phase not in (Phase.MIGRATING, Phase.CLEANING_UP):
                break
        info = c.releases.get(info.id)
        with c.db.reader() as session:
            actions = [
                e.action
                for e in c.ledger.entries(
                    session, EntryQuery(subject=f"release:{info.id}", newest_first=False)
                )
            ]
        return info.phase, info.reason, actions, home, info.snapshot
    finally:
        c.close()


@pytest.mark.postgres
def test_a_release_snapshots_the_database_with_pg_dump_before_it_migrates(
    tmp_path: Path, app_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ini = project(tmp_path / "app")
    phase, _reason, actions, home, snapshot = _release_with_snapshot(
        tmp_path, ini, app_database, monkeypatch
    )
    assert phase is Phase.STARTING
    assert actions[:3] == ["release.started", "release.snapshot_taken", "release.migrated"]
    (dump,) = (home / "releases" / "snapshots").glob("enterprise-api-staging-*.dump")
    # Recorded on the release: method, file and checksum (also in the ledger entry).
    assert snapshot["method"] == "dump" and snapshot["file"] == str(dump)
    assert snapshot["sha256"] == hashlib.sha256(dump.read_bytes()).hexdigest()
    listing = subprocess.run(
        ["pg_restore", "--list", str(dump)], capture_output=True, text=True, timeout=60,
        check=True,
    )  # fmt: skip
    assert "contracts" not in listing.stdout  # taken before the migration ran
    engine = sa.create_engine(app_database)
    try:
        with engine.connect() as conn:
            columns = {c["name"] for c in sa.inspect(conn).get_columns("contracts")}
    finally:
        engine.dispose()
    assert columns == {"id", "broker"}


@pytest.mark.postgres
def test_a_failed_snapshot_stops_the_release_before_anything_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ini = project(tmp_path / "app")
    missing = sa.make_url(POSTGRES_URL).set(database=f"gone_{uuid.uuid4().hex[:8]}")
    phase, reason, actions, _home, snapshot = _release_with_snapshot(
        tmp_path, ini, missing.render_as_string(hide_password=False), monkeypatch
    )
    assert phase is Phase.FAILED and snapshot is None
    assert reason is not None and "database snapshot failed, the release does not start" in reason
    assert "pg_dump failed" in reason
    assert "release.migrated" not in actions and "release.instance_started" not in actions


def test_a_backup_snapshot_that_cannot_be_taken_stops_the_release(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # snapshot_method backup: the backups domain runs it; enterprise-api has no backup set up.
    ini = project(tmp_path / "app")
    url = f"sqlite:///{tmp_path / 'app.db'}"
    phase, reason, actions, _home, snapshot = _release_with_snapshot(
        tmp_path, ini, url, monkeypatch, method="backup"
    )
    assert phase is Phase.FAILED and snapshot is None
    assert reason is not None and "database snapshot failed, the release does not start" in reason
    assert "has no backup configuration" in reason
    assert "release.migrated" not in actions and not (tmp_path / "app.db").exists()


@pytest.mark.postgres
def test_a_release_whose_migration_has_no_rollback_is_refused_before_anything_changes(
    tmp_path: Path, app_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ini = project(tmp_path / "app", EMPTY)
    phase, reason, actions, home = _release_with_migrations(
        tmp_path, ini, app_database, monkeypatch
    )
    assert phase is Phase.FAILED
    assert reason is not None and "migration refused" in reason and "b2_broker.py" in reason
    assert "release.migrated" not in actions
    assert not (home / "releases" / "snapshots").exists()
    engine = sa.create_engine(app_database)
    try:
        with engine.connect() as conn:
            assert sa.inspect(conn).get_table_names() == []
    finally:
        engine.dispose()


def test_the_static_check_alone_names_every_revision_without_rollback(tmp_path: Path) -> None:
    from leitstand.releases.migrations import MigrationRunner

    ini = project(tmp_path / "app", EMPTY)
    runner = MigrationRunner(home=tmp_path, clock=ManualClock())
    with pytest.raises(ValidationError) as err:
        runner.refuse_without_downgrade(ini, 60)
    assert [i.message for i in err.value.issues] == [
        "revision b2: downgrade() does nothing (pass, ... or NotImplementedError): "
        "no rollback script"
    ]
