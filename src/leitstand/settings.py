"""Installation settings (where things live, how to reach them), read from ``LEITSTAND_*``.

These are not policy: the policy (thresholds, schedules, roles) lives in ``leitstand.yaml``.
Settings say where the home folder, database, signing key and policy file are.
"""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path
from typing import Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "tighten_permissions"]


class Settings(BaseSettings):
    """Where leitstand keeps its state and how it serves; every field has an env override."""

    model_config = SettingsConfigDict(env_prefix="LEITSTAND_", extra="ignore", frozen=True)

    home: Path = Field(default=Path(".leitstand"), description="State folder (SQLite, keys, logs)")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default SQLite file in the home folder"
    )
    database_url_file: Path | None = Field(
        default=None,
        description="File holding the database URL (a mounted secret or systemd credential); "
        "read when database_url is not set",
    )
    database_schema: str | None = Field(
        default=None, description="PostgreSQL schema to use (search_path); default public"
    )
    policy: Path | None = Field(default=None, description="Policy file; default ./leitstand.yaml")
    signing_key: Path | None = Field(
        default=None, description="Ed25519 key for checkpoints; default <home>/keys/ledger.pem"
    )
    host: str = "127.0.0.1"
    tls_cert: Path | None = Field(
        default=None, description="PEM certificate (chain) to serve HTTPS; needs tls_key"
    )
    tls_key: Path | None = Field(default=None, description="PEM private key of tls_cert")
    port: int = Field(default=8080, ge=0, le=65535)
    log_level: str = "info"
    auth_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How long a resolved API token is trusted without a database lookup; "
        "revocations through another process take effect within this time (0: no cache)",
    )
    scheduler_poll_seconds: float = Field(default=1.0, gt=0)
    scheduler_batch: int = Field(default=20, ge=1)
    scheduler_workers: int = Field(default=2, ge=1, description="Threads for long duties")
    instance_id: str = Field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    verify_interval_seconds: int = Field(
        default=3600,
        ge=60,
        description="How often the running control plane re-verifies the ledger",
    )

    @model_validator(mode="after")
    def _url_from_file(self) -> Self:
        if self.database_url or self.database_url_file is None:
            return self
        path = self.database_url_file.expanduser()
        try:
            text = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ValueError(
                f"LEITSTAND_DATABASE_URL_FILE: cannot read {path} ({reason}); expected a file "
                "holding the database URL"
            ) from None
        if not text or "\n" in text:
            raise ValueError(
                f"LEITSTAND_DATABASE_URL_FILE: {path} must hold the database URL on one line "
                f"(got {'an empty file' if not text else 'several lines'})"
            )
        object.__setattr__(self, "database_url", text)
        return self

    @field_validator("home")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def effective_database_url(self) -> str:
        """The configured database URL, or the embedded SQLite file under the home folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'leitstand.db'}"

    @property
    def signing_key_path(self) -> Path:
        """Path of the ledger's checkpoint signing key."""
        if self.signing_key is not None:
            return self.signing_key.expanduser().resolve()
        return self.home / "keys" / "ledger-ed25519.pem"

    @property
    def is_embedded(self) -> bool:
        """True when running on the embedded SQLite default."""
        return self.effective_database_url.startswith("sqlite")

    @property
    def database_files(self) -> list[Path]:
        """The embedded SQLite file and its journals (none on PostgreSQL)."""
        if not self.is_embedded:
            return []
        url = self.effective_database_url
        path = Path(url.split(":///", 1)[1]) if ":///" in url else None
        if path is None or str(path) in ("", ":memory:"):
            return []
        return [path.with_name(path.name + suffix) for suffix in ("", "-wal", "-shm", "-journal")]


def tighten_permissions(settings: Settings) -> list[str]:
    """Owner-only access to the home folder (0700) and the database files (0600).

    Run on every start: a folder or file loosened since (a restore, a copy, a umask) is
    tightened again. Returns what could not be tightened (not ours), for a warning.
    """
    problems: list[str] = []
    targets: list[tuple[Path, int]] = [(settings.home, 0o700)]
    targets += [(path, 0o600) for path in settings.database_files]
    for path, mode in targets:
        try:
            current = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            continue
        if current == mode:
            continue
        try:
            path.chmod(mode)
        except PermissionError:
            problems.append(f"{path}: mode {current:o}, cannot change it to {mode:o}")
    return problems
