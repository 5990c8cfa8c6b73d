"""The one protocol every backup engine implements, and the values it exchanges."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from leitstand.backups.model import Check, SiteResult
from leitstand.policy.continuity import BackupMethod

__all__ = ["BackupEngine", "RestorePoint", "Retention"]


@dataclass(frozen=True, slots=True)
class Retention:
    """How long each kind of backup is kept (None: unlimited), from the policy's schedule."""

    full: timedelta | None = None
    incremental: timedelta | None = None
    wal: timedelta | None = None


@dataclass(frozen=True, slots=True)
class RestorePoint:
    """Something a restore can start from: a backup set, a snapshot, a commit."""

    site: str
    id: str
    time: datetime
    kind: str = ""
    size_bytes: int | None = None


class BackupEngine(Protocol):
    """Back up one kind of data to every site, verify it and apply retention.

    Implementations drive the tool's machine interface and exit codes; keys reach the tool only
    through the environment or owner-only files.
    """

    engine: str

    @property
    def sites(self) -> tuple[str, ...]:
        """The sites a backup must reach to count as done."""
        ...

    def prepare(self) -> list[str]:
        """Create or check the repositories on every site (idempotent); returns what was done."""
        ...

    def backup(self, method: BackupMethod) -> list[SiteResult]:
        """Back up to every site; one result per site, never raising for one site's failure."""
        ...

    def verify(self, site: str) -> Check:
        """Check the repository on ``site`` (checksums, readable, decryptable)."""
        ...

    def points(self, site: str) -> list[RestorePoint]:
        """Restorable points on ``site``, oldest first."""
        ...

    def expire(self, site: str, retention: Retention, *, now: datetime) -> list[str]:
        """Remove what is past the retention on ``site``; returns the removed ids."""
        ...
