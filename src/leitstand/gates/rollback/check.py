"""The parent side of the rollback test: run the child runner, read its JSON answer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leitstand.errors import Issue, ValidationError
from leitstand.gates.rollback.runner import PACKAGE_PREFIX
from leitstand.gates.rollback.store import MigrationError, backend_of, scratch_database

__all__ = ["RUNNER_MODULE", "AlembicRunner", "MigrationTarget"]

#: The child process: ``python -m leitstand.gates.rollback.runner ACTION TARGET``.
RUNNER_MODULE = "leitstand.gates.rollback.runner"


@dataclass(frozen=True, slots=True)
class MigrationTarget:
    """What to migrate: an ``alembic.ini`` file, or a package with a programmatic environment."""

    config: Path | None = None
    package: str | None = None

    @classmethod
    def of(cls, target: Path | MigrationTarget) -> MigrationTarget:
        return target if isinstance(target, MigrationTarget) else cls(config=target)

    @property
    def argument(self) -> str:
        """The runner's TARGET argument."""
        return f"{PACKAGE_PREFIX}{self.package}" if self.package else str(self.config)

    def __str__(self) -> str:
        return f"package {self.package}" if self.package else str(self.config)


class AlembicRunner:
    """Checks and runs a project's Alembic migrations in a child process.

    Args:
        environ: the child's environment (default: this process's); ``LEITSTAND_*`` variables
            are never passed on, the database URL travels as ``LEITSTAND_MIGRATION_URL``.
        cwd: the child's working folder for package targets (an ``alembic.ini`` target runs in
            its own folder).
    """

    def __init__(self, *, environ: Mapping[str, str] | None = None, cwd: Path | None = None):
        self.environ = dict(os.environ if environ is None else environ)
        self.cwd = cwd

    def run(
        self, action: str, config: Path | MigrationTarget, url: str | None, timeout: float
    ) -> dict[str, Any]:
        """One runner call; raises MigrationError with the runner's own words."""
        target = MigrationTarget.of(config)
        env = {k: v for k, v in self.environ.items() if not k.startswith("LEITSTAND_")}
        if url:
            env["LEITSTAND_MIGRATION_URL"] = url
        argv = [sys.executable, "-m", RUNNER_MODULE, action, target.argument]
        cwd = target.config.parent if target.config is not None else self.cwd
        try:
            done = subprocess.run(  # noqa: S603 - fixed argument list
                argv,
                capture_output=True,
                text=True,
                timeout=timeout,
                env=env,
                cwd=cwd,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise MigrationError(f"{target}: {action} took longer than {timeout:g} s") from exc
        try:
            answer = json.loads(done.stdout.strip().splitlines()[-1])
        except (IndexError, ValueError):
            tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise MigrationError(f"{target}: {action} failed: {tail}") from None
        if "error" in answer:
            raise MigrationError(f"{target}: {action} failed: {answer['error']}")
        return dict(answer)

    def refuse_without_downgrade(self, config: Path | MigrationTarget, timeout: float) -> list[str]:
        """Raise ValidationError naming every revision without a working downgrade."""
        answer = self.run("static", config, None, timeout)
        problems = answer.get("problems", [])
        if problems:
            raise ValidationError(
                [Issue(p["path"], f"revision {p['revision']}: {p['message']}") for p in problems],
                summary="migrations without a working rollback script are refused:",
            )
        return list(answer.get("revisions", []))

    def check(
        self, config: Path | MigrationTarget, *, scratch: str | None, timeout: float
    ) -> dict[str, Any]:
        """The pipeline step: static check, then upgrade -> downgrade -> upgrade on scratch."""
        target = MigrationTarget.of(config)
        if target.config is not None and not target.config.is_file():
            raise ValidationError([Issue("config", f"an alembic.ini file (got {target.config})")])
        revisions = self.refuse_without_downgrade(target, timeout)
        with (
            tempfile.TemporaryDirectory(prefix="leitstand-mcheck-") as work,
            scratch_database(scratch, Path(work)) as url,
        ):
            answer = self.run("roundtrip", target, url, timeout)
            kind = backend_of(url)
        return {
            "config": str(target),
            "scratch": kind,
            "revisions": revisions,
            "steps": answer.get("steps", []),
            "problems": answer.get("problems", []),
            "ok": not answer.get("problems"),
        }
