"""A self-contained scratch installation: a source cluster, both sites and keys in one folder.

``leitstand drill run pitr --scratch`` builds one of these, the benchmark and the integration
tests too. Everything lives below one temporary folder handed to the database's OS user, and
leaving the context stops every cluster and removes the folder, also on an error or Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from leitstand.backups.fsutil import (
    blocking_ancestor,
    ensure_dir,
    owner_ids,
    remove_tree,
    write_private,
)
from leitstand.backups.postgres import SHORT_TMP, Cluster, socket_folder
from leitstand.backups.process import Runner
from leitstand.policy.model import Policy

__all__ = ["SCRATCH_SYSTEM", "ScratchLab", "free_local_port"]

SCRATCH_SYSTEM = "scratch-demo"
DEFAULT_BIN = "/usr/lib/postgresql/15/bin"


def default_os_user() -> str | None:
    """PostgreSQL refuses root: as root run clusters as ``postgres``, otherwise as oneself."""
    return "postgres" if os.geteuid() == 0 else None


def free_local_port() -> int:
    import socket

    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ScratchLab:
    """A temporary folder with a source cluster and a policy that backs it up to two sites."""

    base: Policy
    runner: Runner = field(default_factory=Runner)
    os_user: str | None = field(default_factory=lambda: default_os_user())
    bin_dir: str = DEFAULT_BIN
    system: str = SCRATCH_SYSTEM
    parent: Path | None = None
    archive_timeout: int = 60
    with_files: bool = True
    #: Small WAL segments archive faster; a scratch cluster has no reason for 16 MB ones.
    wal_segment_mb: int = 16
    root: Path = field(init=False)
    clusters: list[Cluster] = field(default_factory=list)
    _entered: bool = False
    _sockets: dict[str, Path] = field(default_factory=dict)

    def __enter__(self) -> ScratchLab:
        base = self.parent or Path(tempfile.gettempdir())
        if blocking_ancestor(base / "x", self.os_user) is not None:
            base = SHORT_TMP  # the database's OS user must reach every folder of the lab
        self.root = Path(tempfile.mkdtemp(prefix="leitstand-scratch-", dir=base))
        self._entered = True
        owner = owner_ids(self.os_user)
        ensure_dir(self.root, owner=owner)
        self.root.chmod(0o700)
        for name in ("pgbackrest", "sites", "run"):
            ensure_dir(self.root / name, owner=owner)
        ensure_dir(self.root / "keys")
        for name in ("pgbackrest", "restic", "secrets"):
            # Throwaway keys of a throwaway installation.
            write_private(self.root / "keys" / f"{name}.key", secrets.token_urlsafe(48) + "\n")
        if self.with_files:
            ensure_dir(self.root / "files" / "uploads")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()

    def cleanup(self) -> None:
        """Stop every cluster and remove the folder; safe to call twice."""
        for cluster in self.clusters:
            with contextlib.suppress(Exception):
                cluster.kill()
        for folder in self._sockets.values():
            if folder.parent == SHORT_TMP:
                remove_tree(folder)
        if self._entered:
            remove_tree(self.root)
            self._entered = False

    # -- the source ----------------------------------------------------------------------------

    @property
    def source_data(self) -> Path:
        return self.root / "source" / "data"

    @property
    def source_socket(self) -> Path:
        if self._sockets.get("source") is None:
            self._sockets["source"] = socket_folder(self.root / "source" / "run")
        return self._sockets["source"]

    def cluster(self, name: str, *, port: int | None = None) -> Cluster:
        socket = self.source_socket if name == "source" else socket_folder(self.root / name / "run")
        cluster = Cluster(
            data_dir=self.root / name / "data",
            socket_dir=socket,
            port=port or free_local_port(),
            bin_dir=self.bin_dir,
            runner=self.runner,
            os_user=self.os_user,
        )
        owner = owner_ids(self.os_user)
        ensure_dir(self.root / name, owner=owner)
        self.clusters.append(cluster)
        return cluster

    def start_source(self, archive_command: str, *, port: int | None = None) -> Cluster:
        """initdb a source cluster with WAL archiving through ``archive_command`` and start it."""
        cluster = self.cluster("source", port=port)
        cluster.initdb(wal_segment_mb=self.wal_segment_mb)
        cluster.settings(
            {
                "port": str(cluster.port),
                "listen_addresses": "",
                "unix_socket_directories": str(cluster.socket_dir),
                "wal_level": "replica",
                "archive_mode": "on",
                "archive_timeout": str(self.archive_timeout),
                "archive_command": archive_command,
                "max_wal_senders": "4",
                "fsync": "on",
            }
        )
        cluster.start(timeout=120)
        return cluster

    # -- the policy ----------------------------------------------------------------------------

    def policy(self, port: int, *, extra: dict[str, Any] | None = None, **database: Any) -> Policy:
        """The base policy plus this lab's system, sites and key files.

        ``database`` overrides fields of the system's database target; ``extra`` adds parts of
        the system (configuration, secrets, files.consistency).
        """
        data = self.base.model_dump(mode="json")
        data["services"][self.system] = {
            "name": "Scratch-Demo",
            "name_en": "Scratch demo",
            "rto": "2h",
            "rpo": "15m",
            "priority": "normal",
        }
        db: dict[str, Any] = {
            "data_dir": str(self.source_data),
            "host": str(self.source_socket),
            "port": port,
            "user": "postgres",
            "dbname": "postgres",
            "os_user": self.os_user,
            "bin_dir": self.bin_dir,
            "pgbackrest_dir": str(self.root / "pgbackrest"),
        }
        db.update(database)
        system: dict[str, Any] = {"database": db}
        if self.with_files:
            system["files"] = {"paths": [str(self.root / "files" / "uploads")]}
        for part, value in (extra or {}).items():
            if isinstance(value, dict) and isinstance(system.get(part), dict):
                system[part] = {**system[part], **value}
            else:
                system[part] = value
        backups = data["backups"]
        backups["systems"] = {**backups.get("systems", {}), self.system: system}
        backups["sites"] = {
            "primary": {
                "path": str(self.root / "sites" / "primary"),
                "name": backups["sites"]["primary"]["name"],
            },
            "secondary": {
                "path": str(self.root / "sites" / "secondary"),
                "name": backups["sites"]["secondary"]["name"],
            },
        }
        backups["keys"] = {
            name: f"file:{self.root / 'keys' / f'{name}.key'}"
            for name in ("pgbackrest", "restic", "secrets")
        }
        backups["drills"] = {**backups["drills"], "scratch_dir": str(self.root / "drills")}
        return Policy.model_validate(data)
