"""The database rollback test as a gate check (``test.migrations``): a project with Alembic
migrations passes the test stage only when every revision has a working downgrade and upgrade ->
downgrade -> upgrade on a scratch database returns to the same schema; real Alembic in a child
process, on SQLite and on the PostgreSQL server."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from leitstand.gates.context import GateContext
from leitstand.gates.environment import PipOptions
from leitstand.gates.migrations_check import MIGRATIONS_CHECK
from leitstand.gates.model import Stage, Status
from leitstand.gates.project import load_project
from leitstand.gates.runner import stage_checks
from leitstand.policy import load_policy_text
from leitstand.testing import POSTGRES_URL

ENV_PY = """
from alembic import context
from sqlalchemy import engine_from_config, pool

from demo_models import TABLE  # the project's own code, importable from src/

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


def _project(
    root: Path, downgrade: str | None = GOOD, gates: dict[str, object] | None = None
) -> Path:
    (root / "src" / "demo_models").mkdir(parents=True)
    (root / "src" / "demo_models" / "__init__.py").write_text('TABLE = "contracts"\n')
    (root / "pyproject.toml").write_text('[project]\nname = "demo-app"\nversion = "1.0.0"\n')
    if downgrade is not None:
        versions = root / "db" / "migrations" / "versions"
        versions.mkdir(parents=True)
        (versions.parent / "env.py").write_text(ENV_PY)
        (versions / "a1_contracts.py").write_text(REV_1)
        (versions / "b2_broker.py").write_text(REV_2.format(downgrade=downgrade))
        (root / "db" / "alembic.ini").write_text(
            "[alembic]\nscript_location = %(here)s/migrations\nsqlalchemy.url = sqlite://\n"
        )
    policy = {"gates": {"migrations": {"alembic_config": ["db/alembic.ini"], **(gates or {})}}}
    (root / "leitstand.yaml").write_text(yaml.safe_dump(policy))
    return root


def _context(root: Path, extra: dict[str, object] | None = None) -> GateContext:
    policy = yaml.safe_load((root / "leitstand.yaml").read_text())
    policy.update(extra or {})
    return GateContext(
        project=load_project(root),
        policy=load_policy_text(yaml.safe_dump(policy)),
        out=root / "gate-report",
        today=date(2026, 12, 7),
        now=datetime(2026, 12, 7, 10, tzinfo=UTC),
        pip_options=PipOptions(),
    )


def test_the_test_stage_runs_the_round_trip_and_passes_working_migrations(
    tmp_path: Path,
) -> None:
    assert MIGRATIONS_CHECK in stage_checks(Stage.TEST)
    ctx = _context(_project(tmp_path / "app"))
    assert MIGRATIONS_CHECK.disabled(ctx) is None
    result = MIGRATIONS_CHECK.run(ctx)
    assert result.status is Status.PASS, result
    assert result.summary == (
        "2 revision(s), 5 steps upgrade -> downgrade -> upgrade on a scratch sqlite database"
    )


def test_a_downgrade_that_does_not_restore_the_schema_fails_the_gate(tmp_path: Path) -> None:
    result = MIGRATIONS_CHECK.run(_context(_project(tmp_path / "app", LOSSY)))
    assert result.status is Status.FAIL
    (finding,) = result.findings
    assert finding.rule == "rollback-round-trip" and finding.blocking
    assert "revision b2: downgrade() does not restore the schema of a1" in finding.message
    assert finding.file == "db/migrations/versions/b2_broker.py"


def test_a_revision_without_a_rollback_script_fails_the_gate_by_name(tmp_path: Path) -> None:
    result = MIGRATIONS_CHECK.run(_context(_project(tmp_path / "app", EMPTY)))
    assert result.status is Status.FAIL
    (finding,) = result.findings
    assert finding.rule == "no-rollback-script"
    assert finding.file == "db/migrations/versions/b2_broker.py"
    assert "revision b2: downgrade() does nothing" in finding.message


def test_a_project_without_migrations_passes_and_the_policy_can_switch_the_test_off(
    tmp_path: Path,
) -> None:
    none = MIGRATIONS_CHECK.run(_context(_project(tmp_path / "plain", None)))
    assert none.status is Status.PASS
    assert none.summary == "no Alembic migrations (db/alembic.ini), nothing to roll back"
    off = {"deployment": {"database_rollback": {"rollback_test_in_pipeline": False}}}
    ctx = _context(_project(tmp_path / "app"), off)
    assert MIGRATIONS_CHECK.disabled(ctx) == (
        "deployment.database_rollback.rollback_test_in_pipeline is false"
    )


SCRATCH_DATABASES = sa.text(
    "SELECT datname FROM pg_database WHERE datname LIKE 'leitstand_check_%'"
)


@pytest.mark.postgres
def test_the_scratch_database_is_created_on_the_configured_server_and_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _project(tmp_path / "app", gates={"scratch_url_env": "MIGRATION_SCRATCH_URL"})
    unset = MIGRATIONS_CHECK.run(_context(root))
    assert unset.status is Status.FAIL
    assert unset.findings[0].rule == "scratch-database-missing"
    monkeypatch.setenv("MIGRATION_SCRATCH_URL", POSTGRES_URL)
    # Only the check's own scratch databases: other tests create and drop databases meanwhile.
    engine = sa.create_engine(POSTGRES_URL)
    try:
        with engine.connect() as conn:
            before = set(conn.execute(SCRATCH_DATABASES).scalars())
        result = MIGRATIONS_CHECK.run(_context(root))
        with engine.connect() as conn:
            after = set(conn.execute(SCRATCH_DATABASES).scalars())
    finally:
        engine.dispose()
    assert result.status is Status.PASS, result
    assert result.summary.endswith("on a scratch postgresql database") and after == before


ROOT = Path(__file__).resolve().parents[2]


def test_leitstands_own_programmatic_migrations_are_round_tripped(tmp_path: Path) -> None:
    # leitstand has no alembic.ini: its revisions run through leitstand.migrations, which its
    # own gate settings (.ci/gates.yaml) name, so the check is not vacuous on leitstand itself.
    own = load_policy_text((ROOT / ".ci" / "gates.yaml").read_text())
    assert own.gates.migrations.packages == ["leitstand.migrations"]
    policy = {"gates": {"migrations": {"packages": ["leitstand.migrations"]}}}
    ctx = GateContext(
        project=load_project(ROOT),
        policy=load_policy_text(yaml.safe_dump(policy)),
        out=tmp_path / "gate-report",
        today=date(2026, 12, 7),
        now=datetime(2026, 12, 7, 10, tzinfo=UTC),
        pip_options=PipOptions(),
    )
    result = MIGRATIONS_CHECK.run(ctx)
    assert result.status is Status.PASS, result
    match = re.fullmatch(
        r"(\d+) revision\(s\), (\d+) steps upgrade -> downgrade -> upgrade on a scratch sqlite "
        r"database",
        result.summary,
    )
    assert match is not None, result.summary
    revisions, steps = int(match[1]), int(match[2])
    assert revisions >= 10 and steps == 2 * revisions + 1


def test_a_package_whose_downgrade_loses_a_column_fails_the_gate(tmp_path: Path) -> None:
    root = _project(tmp_path / "app", None)
    package = root / "src" / "demo_db"
    (package / "versions").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "env.py").write_text(PACKAGE_ENV_PY)
    (package / "versions" / "a1_contracts.py").write_text(REV_1)
    (package / "versions" / "b2_broker.py").write_text(REV_2.format(downgrade=LOSSY))
    policy = {
        "gates": {"migrations": {"alembic_config": ["db/alembic.ini"], "packages": ["demo_db"]}}
    }
    (root / "leitstand.yaml").write_text(yaml.safe_dump(policy))
    result = MIGRATIONS_CHECK.run(_context(root))
    assert result.status is Status.FAIL
    (finding,) = result.findings
    assert finding.rule == "rollback-round-trip"
    assert "revision b2: downgrade() does not restore the schema of a1" in finding.message
    assert finding.file == "src/demo_db/versions/b2_broker.py"


PACKAGE_ENV_PY = """
from alembic import context

from demo_models import TABLE  # the project's own code, importable from src/

# A programmatic environment: the engine comes from the caller, as leitstand.migrations does it.
engine = context.config.attributes["engine"]
with engine.connect() as connection:
    context.configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
"""
