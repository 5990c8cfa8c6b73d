"""The database rollback test as a gate check (``test.migrations``).

The seed's "Rollback-Test ist Teil der Deployment-Pipeline" (policy
``deployment.database_rollback.rollback_test_in_pipeline``): a project with Alembic migrations
(an ``alembic.ini`` found by ``gates.migrations.alembic_config``, or a package with a
programmatic Alembic environment named in ``gates.migrations.packages``, as leitstand's own
``leitstand.migrations``) passes the test stage only when
every revision has a working ``downgrade()`` and the round trip upgrade -> downgrade -> upgrade
on a scratch database returns to the same schema at every step. It is the same check as
``leitstand release migration-check``: both run ``leitstand.gates.rollback``.

The scratch database is a SQLite file by default; ``gates.migrations.scratch_url_env`` names an
environment variable with a PostgreSQL server URL, on which a fresh database is created and
dropped afterwards. The application's ``env.py`` runs in a child process with the project's
``src`` folder and root on ``PYTHONPATH``, so it can import the project's models.
"""

from __future__ import annotations

import os
from pathlib import Path

from leitstand.errors import LeitstandError, ValidationError
from leitstand.gates.checks import Check
from leitstand.gates.context import GateContext
from leitstand.gates.model import CheckResult, Finding

__all__ = ["MIGRATIONS_CHECK", "alembic_configs", "migrations_check"]

CHECK_ID = "test.migrations"


def alembic_configs(root: Path, patterns: list[str]) -> list[Path]:
    """The project's Alembic configurations, in pattern order, each once."""
    found: list[Path] = []
    for pattern in patterns:
        for path in sorted(root.glob(pattern)):
            if path.is_file() and path not in found and "gate-report" not in path.parts:
                found.append(path)
    return found


def _environ(root: Path) -> dict[str, str]:
    paths = [str(p) for p in (root / "src", root) if p.is_dir()]
    env = dict(os.environ)
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def migrations_check(ctx: GateContext) -> CheckResult:
    """Static check and round trip of every Alembic configuration of the project."""
    from leitstand.gates.rollback import AlembicRunner, MigrationTarget

    settings = ctx.gates.migrations
    root = ctx.project.root
    targets = [MigrationTarget(config=c) for c in alembic_configs(root, settings.alembic_config)]
    targets += [MigrationTarget(package=name) for name in settings.packages]
    if not targets:  # nothing to roll back: passes, as "no feature flags" does
        patterns = ", ".join(settings.alembic_config)
        return CheckResult.judge(
            CHECK_ID, [], summary=f"no Alembic migrations ({patterns}), nothing to roll back"
        )
    scratch: str | None = None
    if settings.scratch_url_env is not None:
        scratch = os.environ.get(settings.scratch_url_env) or None
        if scratch is None:
            finding = Finding(
                rule="scratch-database-missing",
                message=f"${settings.scratch_url_env} (gates.migrations.scratch_url_env) is not "
                "set: no database server for the scratch database",
            )
            return CheckResult.judge(CHECK_ID, [finding], summary="no scratch database")
    runner = AlembicRunner(environ=_environ(root), cwd=root)
    timeout = settings.timeout.total_seconds()
    findings: list[Finding] = []
    steps = 0
    revisions = 0
    kinds: set[str] = set()
    for target in targets:
        where = ctx.rel(target.config) if target.config is not None else None
        try:
            result = runner.check(target, scratch=scratch, timeout=timeout)
        except ValidationError as exc:  # revisions without a working downgrade, by name
            findings += [
                Finding(
                    rule="no-rollback-script",
                    message=f"{ctx.rel(Path(issue.path))}: {issue.message}",
                    file=ctx.rel(Path(issue.path)),
                )
                for issue in exc.issues
            ]
            continue
        except LeitstandError as exc:
            findings.append(Finding(rule="migration-check-failed", message=exc.message, file=where))
            continue
        kinds.add(str(result["scratch"]))
        revisions += len(result["revisions"])
        steps += len(result["steps"])
        findings += [
            Finding(
                rule="rollback-round-trip",
                message=f"revision {p['revision']}: {p['message']}",
                file=ctx.rel(Path(p["path"])) if p.get("path") else where,
            )
            for p in result["problems"]
        ]
    scratch_kind = ", ".join(sorted(kinds)) or "no"
    summary = (
        f"{revisions} revision(s), {steps} steps upgrade -> downgrade -> upgrade on a scratch "
        f"{scratch_kind} database"
        if not findings
        else f"{len(findings)} migration problem(s): the database rollback test failed"
    )
    return CheckResult.judge(CHECK_ID, findings, summary=summary, measured=len(findings))


def _disabled(ctx: GateContext) -> str | None:
    if ctx.policy.deployment.database_rollback.rollback_test_in_pipeline:
        return None
    return "deployment.database_rollback.rollback_test_in_pipeline is false"


MIGRATIONS_CHECK = Check(
    CHECK_ID,
    ("Datenbank-Rollback-Test (Migrationen)", "Database rollback test (migrations)"),
    migrations_check,
    _disabled,
)
