"""Pick the engine for a kind of data of a system, from the policy."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from leitstand.backups.engines.base import BackupEngine, Retention
from leitstand.backups.engines.gitconfig import GitConfigEngine
from leitstand.backups.engines.pgbackrest import PgBackRestEngine
from leitstand.backups.engines.restic import ResticEngine
from leitstand.backups.process import Runner
from leitstand.backups.targets import KeyStore, SystemTargets, resolve_path
from leitstand.errors import Issue, ValidationError
from leitstand.policy.continuity import BackupData, BackupMethod, BackupsPolicy

__all__ = ["build_engine", "retention_for"]


def build_engine(
    policy: BackupsPolicy,
    targets: SystemTargets,
    data: BackupData,
    *,
    keys: KeyStore,
    runner: Runner,
    home: Path,
) -> BackupEngine:
    """The engine that backs up ``data`` of ``targets.system``."""
    config = targets.config
    timeout = policy.monitoring.timeout.total_seconds()
    where = f"backups.systems.{targets.system}"
    if data is BackupData.DATABASE and config.database is not None:
        return PgBackRestEngine(
            system=targets.system,
            database=config.database,
            targets=targets,
            keys=keys,
            runner=runner,
            timeout=timeout,
        )
    if data is BackupData.FILES and config.files is not None:
        return ResticEngine(
            system=targets.system,
            purpose="files",
            paths=[resolve_path(p, home) for p in config.files.paths],
            targets=targets,
            keys=keys,
            runner=runner,
            read_percent=float(policy.monitoring.verify_read_percent),
            timeout=timeout,
        )
    if data is BackupData.SECRETS and config.secrets is not None:
        return ResticEngine(
            system=targets.system,
            purpose="secrets",
            paths=[resolve_path(config.secrets.directory, home)],
            targets=targets,
            keys=keys,
            runner=runner,
            read_percent=100.0,
            timeout=timeout,
        )
    if data is BackupData.CONFIGURATION and config.configuration is not None:
        return GitConfigEngine(
            system=targets.system,
            repository=resolve_path(config.configuration.git_repository, home),
            runner=runner,
            timeout=min(timeout, 600.0),
        )
    raise ValidationError(
        [
            Issue(
                f"{where}.{data.value}",
                f"not configured: {targets.system} has no {data.value} to back up",
            )
        ]
    )


def retention_for(policy: BackupsPolicy, data: BackupData) -> Retention:
    """The schedule's retention for ``data`` (``unlimited`` becomes None)."""
    by_method: dict[BackupMethod, timedelta | None] = {}
    for row in policy.schedule.values():
        if row.data is data and row.method not in by_method:
            retention = row.retention
            by_method[row.method] = retention if isinstance(retention, timedelta) else None

    def first(*methods: BackupMethod) -> timedelta | None:
        for method in methods:
            if method in by_method:
                return by_method[method]
        return None

    if data is BackupData.DATABASE:
        return Retention(
            full=first(BackupMethod.FULL),
            incremental=first(BackupMethod.INCREMENTAL, BackupMethod.FULL),
            wal=first(BackupMethod.WAL, BackupMethod.INCREMENTAL),
        )
    return Retention(full=first(*BackupMethod))
