"""Resolve the policy's backup section into concrete paths and keys for one system."""

from __future__ import annotations

import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import structlog

from leitstand.backups.fsutil import write_private
from leitstand.backups.model import Site
from leitstand.errors import ConfigError, Issue, NotFoundError, ValidationError
from leitstand.policy.backup_targets import BackupKeys, SystemBackup
from leitstand.policy.continuity import BackupsPolicy

__all__ = ["KeyName", "KeyStore", "SystemTargets", "resolve_path", "system_targets"]

log = structlog.get_logger(__name__)
KeyName = Literal["pgbackrest", "restic", "secrets"]


def resolve_path(value: str, home: Path) -> Path:
    """A policy path: absolute as written, relative ones under the leitstand home."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else (home / path).resolve()


class KeyStore:
    """Reads repository keys from the environment or owner-only files; never logs them."""

    def __init__(self, keys: BackupKeys, home: Path) -> None:
        self._keys = keys
        self._home = home
        self._cache: dict[str, str] = {}

    def ref(self, name: KeyName) -> tuple[str, str]:
        """("env", variable) or ("file", path) of a key."""
        kind, _, where = str(getattr(self._keys, name)).partition(":")
        return kind, where

    def where(self, name: KeyName) -> str:
        """Where the key comes from, for messages (never the value)."""
        kind, where = self.ref(name)
        if kind == "env":
            return f"environment variable {where}"
        return f"file {resolve_path(where, self._home)}"

    def get(self, name: KeyName, *, create: bool = False) -> str:
        """The key; with ``create`` a missing key file is generated (owner-only, 384 bits)."""
        if name in self._cache:
            return self._cache[name]
        kind, where = self.ref(name)
        field = f"backups.keys.{name}"
        if kind == "env":
            value = os.environ.get(where, "")
            if not value:
                raise ConfigError(f"{field}: environment variable {where} is not set")
        else:
            path = resolve_path(where, self._home)
            if not path.exists():
                if not create:
                    raise ConfigError(
                        f"{field}: key file {path} does not exist: run "
                        "`leitstand backup setup SYSTEM` (it generates one) or provide it"
                    )
                write_private(path, secrets.token_urlsafe(48) + "\n")
                log.warning("backup_key_generated", key=name, path=str(path))
            mode = path.stat().st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise ConfigError(
                    f"{field}: key file {path} is readable by others: chmod 600 {path}"
                )
            value = path.read_text(encoding="utf-8").strip()
            if not value:
                raise ConfigError(f"{field}: key file {path} is empty")
        self._cache[name] = value
        return value

    def loaded(self) -> list[str]:
        """Every key read so far (for masking tool output)."""
        return list(self._cache.values())


@dataclass(frozen=True, slots=True)
class SystemTargets:
    """Concrete locations of one system's backups."""

    system: str
    config: SystemBackup
    sites: dict[Site, Path]
    state_dir: Path
    pgbackrest_dir: Path

    def pgbackrest_repo(self, site: Site) -> Path:
        return self.sites[site] / "pgbackrest" / self.system

    def restic_repo(self, site: Site, purpose: Literal["files", "secrets"]) -> Path:
        return self.sites[site] / "restic" / f"{self.system}-{purpose}"

    @property
    def restic_cache(self) -> Path:
        return self.state_dir / "restic-cache"


def system_targets(policy: BackupsPolicy, system: str, *, home: Path) -> SystemTargets:
    """The targets of ``system``; a clear error when it has no backup configuration."""
    config = policy.systems.get(system)
    if config is None:
        configured = ", ".join(policy.systems) or "none"
        raise NotFoundError(
            f"system {system!r} has no backup configuration (configured: {configured}); "
            f"add backups.systems.{system} to leitstand.yaml"
        )
    if not any((config.database, config.files, config.configuration, config.secrets)):
        raise ValidationError(
            [Issue(f"backups.systems.{system}", "names nothing to back up")],
        )
    state = home / "backups" / system
    database = config.database
    pgbr = (
        resolve_path(database.pgbackrest_dir, home)
        if database is not None and database.pgbackrest_dir
        else state / "pgbackrest"
    )
    return SystemTargets(
        system=system,
        config=config,
        sites={
            Site.PRIMARY: resolve_path(policy.sites.primary.path, home),
            Site.SECONDARY: resolve_path(policy.sites.secondary.path, home),
        },
        state_dir=state,
        pgbackrest_dir=pgbr,
    )
