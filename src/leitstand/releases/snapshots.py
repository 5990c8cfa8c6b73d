"""The database snapshot before a release's migrations (the seed: "Vor jeder Migration").

``deployment.database_rollback.snapshot_method`` says how: ``dump`` (``pg_dump`` custom format,
or SQLite's backup API, into the leitstand home, with its SHA-256) or ``backup`` (a pgBackRest
backup of the service's system through the backups domain, on every site and verified). The
snapshot is recorded on the release (``snapshot``) and in the ledger; when it fails the release
does not start (nothing was migrated, no instance started, traffic untouched).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from leitstand.errors import ConfigError
from leitstand.policy.continuity import BackupData
from leitstand.policy.delivery import SnapshotMethod
from leitstand.policy.model import Policy
from leitstand.policy.releases import MigrationSettings
from leitstand.releases.flow import SYSTEM
from leitstand.releases.migrations import MigrationError, MigrationRunner

if TYPE_CHECKING:
    from leitstand.backups.service import BackupService

__all__ = ["Snapshots"]


class Snapshots:
    """Takes the pre-migration snapshot with the policy's method."""

    def __init__(
        self, *, policy: Policy, migrations: MigrationRunner, backups: BackupService | None
    ) -> None:
        self.policy = policy
        self.migrations = migrations
        self.backups = backups

    @property
    def wanted(self) -> bool:
        return self.policy.deployment.database_rollback.snapshot_before_migration

    def take(self, settings: MigrationSettings, *, service: str, env: str) -> dict[str, Any]:
        """The snapshot's record (method, where, how big, checksum or backup run); raises a
        LeitstandError saying why it could not be taken."""
        method = self.policy.deployment.database_rollback.snapshot_method
        if method is SnapshotMethod.BACKUP:
            return self._backup(service)
        return {"method": method.value, **self.migrations.snapshot_for(settings, service, env)}

    def _backup(self, service: str) -> dict[str, Any]:
        if self.backups is None:
            raise ConfigError("snapshot_method backup needs the backups domain (not wired here)")
        rollback = self.policy.deployment.database_rollback
        row = rollback.snapshot_backup_row
        if row is None:
            rows = [
                r
                for r in self.backups.runnable_rows(service)
                if self.backups.schedule_row(r).data is BackupData.DATABASE
            ]
            if not rows:
                raise ConfigError(
                    f"snapshot_method backup: {service} has no database backup in the "
                    "backup schedule (backups.systems / deployment.database_rollback."
                    "snapshot_backup_row)"
                )
            row = rows[0]
        run = self.backups.run(system=service, row=row, actor=SYSTEM, trigger="release")
        if run.status != "succeeded":
            raise MigrationError(
                f"backup run #{run.id} ({run.engine}, {row}) {run.status}: {run.error or '?'}"
            )
        return {
            "method": SnapshotMethod.BACKUP.value,
            "engine": run.engine,
            "backup_run": run.id,
            "row": row,
            "sites": [s.get("site") for s in run.sites],
            "bytes": run.size_bytes,
        }
