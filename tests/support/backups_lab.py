"""Test support for the backup domain: a real scratch system with real engines.

Nothing here is a fake: ``backup_lab`` starts a PostgreSQL cluster (as the ``postgres`` OS
user when run as root), configures pgBackRest and restic on two site folders, optionally a git
configuration repository and a secrets folder, and builds a leitstand container whose policy
backs that system up. Leaving the context stops every cluster and removes every file.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from leitstand.auth.model import Actor
from leitstand.backups.postgres import ARCHIVE_WAIT_S, Cluster, connect, switch_and_archive
from leitstand.backups.process import CommandResult, Runner
from leitstand.backups.schemas import RunView
from leitstand.backups.scratch import ScratchLab, free_local_port
from leitstand.backups.store import BackupRunRow
from leitstand.bootstrap import Container, build
from leitstand.clock import Clock
from leitstand.policy.continuity import BackupData
from leitstand.policy.model import Policy, default_policy
from leitstand.settings import Settings

__all__ = [
    "ADMIN",
    "EnvRunner",
    "LabSystem",
    "backup_lab",
    "make_git_repository",
    "sha256_file",
    "store_backup_run",
]

ADMIN = Actor(name="local:test", role="local")


def store_backup_run(
    container: Container,
    system: str,
    row: str,
    data: str,
    started: datetime,
    status: str = "succeeded",
) -> None:
    """Store a finished backup run as the engines would have (for monitor and page tests)."""
    with container.db.transaction() as session:
        session.add(
            BackupRunRow(
                run_key=f"{system}:{row}:{started.isoformat()}:{status}",
                system=system,
                row=row,
                data=data,
                method="incremental",
                engine="restic",
                trigger="schedule",
                actor="test",
                status=status,
                attempts=1,
                due_at=None,
                started_at=started,
                finished_at=started + timedelta(minutes=2),
                sites='[{"site": "primary", "ok": true}, {"site": "secondary", "ok": true}]',
                verification="[]",
                expired="[]",
            )
        )


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_git_repository(path: Path, files: dict[str, str]) -> str:
    """A git repository with one commit of ``files``; returns the commit id."""
    path.mkdir(parents=True, exist_ok=True)

    def git(*args: str) -> str:
        command = ["git", "-c", f"safe.directory={path}", "-C", str(path), *args]
        done = subprocess.run(
            command,
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return done.stdout.strip()

    git("init", "--quiet", "--initial-branch=main")
    git("config", "user.email", "ops@example.invalid")
    git("config", "user.name", "leitstand test")
    for name, text in files.items():
        (path / name).write_text(text, encoding="utf-8")
    git("add", "--all")
    git("commit", "--quiet", "-m", "configuration")
    return git("rev-parse", "HEAD")


@dataclass
class EnvRunner(Runner):
    """A runner that adds ``extra`` to every tool's environment: a cluster started through it
    runs with it (e.g. libfaketime's ``LD_PRELOAD`` and ``FAKETIME``), its children too."""

    extra: dict[str, str] = field(default_factory=dict)

    def run(
        self,
        args: Sequence[str],
        *,
        timeout: float,
        env: Mapping[str, str] | None = None,
        user: str | None = None,
        cwd: str | Path | None = None,
        check: bool = True,
        what: str | None = None,
    ) -> CommandResult:
        return super().run(
            args,
            timeout=timeout,
            env={**self.extra, **(env or {})},
            user=user,
            cwd=cwd,
            check=check,
            what=what,
        )


@dataclass
class LabSystem:
    """A configured system on a real cluster, with a container that backs it up."""

    lab: ScratchLab
    container: Container
    cluster: Cluster
    policy: Policy

    @property
    def system(self) -> str:
        return self.lab.system

    @property
    def root(self) -> Path:
        return self.lab.root

    def sql(self, statement: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        with connect(self.cluster.address()) as conn:
            cursor = conn.execute(statement, params)
            return list(cursor.fetchall()) if cursor.description else []

    def backup(self, row: str) -> RunView:
        return self.container.backups.run(system=self.system, row=row, actor=ADMIN)

    def archive_now(self, timeout: float = ARCHIVE_WAIT_S) -> None:
        """Switch WAL and wait until the closed segment is archived (a stable recovery point)."""
        switch_and_archive(self.cluster.address(), timeout=timeout)

    def engine(self, data: BackupData) -> Any:
        return self.container.backups.engine(self.system, data)

    def restart_source(self, environ: Mapping[str, str] | None = None) -> None:
        """Restart the source cluster with ``environ`` added to its environment (none: as the
        lab starts clusters), e.g. back on the real clock after a faked one."""
        self.cluster.stop()
        self.cluster.runner = EnvRunner(extra=dict(environ)) if environ else self.lab.runner
        self.cluster.start(timeout=120)
        self.cluster.wait_writable(timeout=120)


@contextmanager
def backup_lab(
    *,
    home: Path,
    clock: Clock | None = None,
    base: Policy | None = None,
    files: bool = True,
    configuration: bool = False,
    secrets: bool = False,
    extra: dict[str, Any] | None = None,
    database: dict[str, Any] | None = None,
    setup: bool = True,
    archive_timeout: int = 60,
    wal_segment_mb: int = 1,
    environ: Mapping[str, str] | None = None,
) -> Iterator[LabSystem]:
    """A scratch system backed up by a leitstand container (SQLite store under ``home``).

    ``environ`` is added to the source cluster's environment (its server and archive command),
    e.g. libfaketime's ``LD_PRELOAD``/``FAKETIME`` for a history that lies hours back;
    ``LabSystem.restart_source`` puts it back on the real clock."""
    lab = ScratchLab(
        base=base or default_policy(),
        archive_timeout=archive_timeout,
        wal_segment_mb=wal_segment_mb,
        with_files=files,
    )
    with lab:
        parts: dict[str, Any] = dict(extra or {})
        if configuration:
            make_git_repository(lab.root / "config", {"app.yaml": "replicas: 2\n"})
            parts["configuration"] = {"git_repository": str(lab.root / "config")}
        if secrets:
            folder = lab.root / "secrets"
            folder.mkdir()
            (folder / "db-password").write_text("not-a-real-secret\n")
            (folder / "api-key").write_text("also-not-real\n")
            parts["secrets"] = {"directory": str(folder)}
        port = free_local_port()
        policy = lab.policy(port, extra=parts, **(database or {}))
        container = build(Settings(home=home), clock=clock, policy=policy, migrate=True)
        try:
            backups = container.backups
            backups.keys.get("pgbackrest", create=True)
            engine = backups.engine(lab.system, BackupData.DATABASE)
            engine.write_config()  # type: ignore[attr-defined]
            plain = lab.runner
            if environ:
                lab.runner = EnvRunner(extra=dict(environ))  # only the source cluster's
            try:
                cluster = lab.start_source(engine.archive_command(), port=port)  # type: ignore[attr-defined]
            finally:
                lab.runner = plain
            if files:
                (lab.root / "files" / "uploads" / "welcome.txt").write_text("hello\n")
            if setup:
                backups.setup(system=lab.system, actor=ADMIN)
            yield LabSystem(lab=lab, container=container, cluster=cluster, policy=policy)
        finally:
            container.close()
