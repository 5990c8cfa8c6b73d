"""What the backup schedule protects per system, where it lands, and where its keys come from.

The seed names the schedule and the recovery objectives but no hosts, so nothing is configured
by default: a system gets backups once ``backups.systems.<id>`` says where its database, files,
configuration repository and secrets directory are. Keys and passwords are never in the policy,
only the environment variable or file that holds them.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Self

from croniter import croniter
from pydantic import AfterValidator, Field, StrictInt, model_validator
from pydantic_core import PydanticCustomError

from leitstand.policy.base import Percent, PolicyModel, Rules, Text
from leitstand.policy.durations import PositiveDuration
from leitstand.policy.values import describe

__all__ = [
    "BackupKeys",
    "BackupMonitoring",
    "BackupSite",
    "BackupSites",
    "ConfigurationTarget",
    "DatabaseTarget",
    "DrillSettings",
    "FileConsistency",
    "FilesTarget",
    "Invariant",
    "PitrCheck",
    "SecretRef",
    "SecretsTarget",
    "SystemBackup",
]

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
_ENV = re.compile(r"^[A-Z_][A-Z0-9_]*$")


def _identifier(value: str) -> str:
    if not _IDENT.match(value):
        raise PydanticCustomError(
            "identifier",
            f"a SQL name such as audit_log or app.audit_log (got {describe(value)})",
        )
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("text", "a non-empty text (got '')")
    return value


def _cron(value: str) -> str:
    text = " ".join(value.split())
    if len(text.split(" ")) != 5 or not croniter.is_valid(text):
        raise PydanticCustomError(
            "cron", f"a five-field cron expression such as '0 5 * * *' (got {describe(value)})"
        )
    return text


Identifier = Annotated[str, AfterValidator(_identifier)]
PathText = Annotated[str, AfterValidator(_not_blank)]
Cron = Annotated[str, AfterValidator(_cron)]


def _secret_ref(value: str) -> str:
    kind, _, rest = value.partition(":")
    if kind == "env" and _ENV.match(rest):
        return value
    if kind == "file" and rest.strip():
        return value
    raise PydanticCustomError(
        "secret_ref",
        "env:VARIABLE or file:/path/to/key (where the key is; the key itself never goes here) "
        f"(got {describe(value)})",
    )


#: Where a key or password is read from: ``env:NAME`` or ``file:path`` (owner-only; a
#: relative path is below the leitstand home). One string, so an override replaces it whole.
SecretRef = Annotated[str, AfterValidator(_secret_ref)]


class BackupSite(PolicyModel):
    """A backup repository location; the secondary one stands for the second data centre."""

    path: PathText  # absolute, or relative to the leitstand home
    name: Text


class BackupSites(PolicyModel):
    """Both sites: a backup counts as done only when it is on both."""

    primary: BackupSite = Field(
        default_factory=lambda: BackupSite(
            path="backups/primary", name=Text(de="Primäres RZ", en="Primary data centre")
        )
    )
    secondary: BackupSite = Field(
        default_factory=lambda: BackupSite(
            path="backups/secondary",
            name=Text(de="Sekundäres RZ DE", en="Secondary data centre DE"),
        )
    )


class BackupKeys(PolicyModel):
    """Where the repository keys come from (generated on first set-up when a file is missing)."""

    pgbackrest: SecretRef = "file:keys/pgbackrest.key"
    restic: SecretRef = "file:keys/restic.key"
    secrets: SecretRef = "file:keys/secrets-export.key"


class Invariant(PolicyModel):
    """An application check on a restored database: a query returning one number."""

    name: str
    sql: Annotated[str, AfterValidator(_not_blank)]
    expect: int | None = None
    min: int | None = None
    max: int | None = None

    @model_validator(mode="after")
    def _has_bound(self) -> Self:
        rules = Rules()
        if self.expect is None and self.min is None and self.max is None:
            rules.add("expect", "at least one of expect, min or max")
        rules.check()
        return self


class PitrCheck(PolicyModel):
    """An append-only table whose rows up to the target time prove a point-in-time restore."""

    table: Identifier
    time_column: Identifier = "created_at"
    key_column: Identifier = "id"


class FileConsistency(PolicyModel):
    """A query listing the files the database refers to (relative path, optional SHA-256)."""

    sql: Annotated[str, AfterValidator(_not_blank)]


class DatabaseTarget(PolicyModel):
    """A PostgreSQL cluster backed up with pgBackRest (WAL archiving through archive_command)."""

    data_dir: PathText
    host: str = "/var/run/postgresql"  # a socket directory or a host name
    port: Annotated[StrictInt, Field(ge=1, le=65535)] = 5432
    user: str = "postgres"
    dbname: str = "postgres"
    password: SecretRef | None = None
    os_user: str | None = "postgres"  # pgBackRest runs as the owner of the data directory
    bin_dir: PathText = "/usr/lib/postgresql/15/bin"
    process_max: Annotated[StrictInt, Field(ge=1, le=64)] = 2
    # Generated pgbackrest.conf, log, lock and spool; os_user must reach it (the archive_command
    # runs as the database server). Default: <home>/backups/<system>/pgbackrest.
    pgbackrest_dir: PathText | None = None
    invariants: list[Invariant] = Field(default_factory=list)
    pitr_check: PitrCheck | None = None


class FilesTarget(PolicyModel):
    """Upload folders backed up with restic."""

    paths: Annotated[list[PathText], Field(min_length=1)]
    consistency: FileConsistency | None = None


class ConfigurationTarget(PolicyModel):
    """The git repository that versions the system's configuration."""

    git_repository: PathText


class SecretsTarget(PolicyModel):
    """A secrets folder exported encrypted to both sites."""

    directory: PathText


class SystemBackup(PolicyModel):
    """What is backed up for one system (a key of ``services``)."""

    database: DatabaseTarget | None = None
    files: FilesTarget | None = None
    configuration: ConfigurationTarget | None = None
    secrets: SecretsTarget | None = None


class DrillSettings(PolicyModel):
    """How recovery drills run (leitstand's defaults; the seed sets only their frequency)."""

    scratch_dir: PathText = "drills"  # segregated from every source; relative to the home
    check: Cron = "0 5 * * *"  # when due drills start
    pitr_target_age: PositiveDuration = timedelta(hours=3)
    timeout: PositiveDuration = timedelta(hours=2)


class BackupMonitoring(PolicyModel):
    """How often objectives are measured and when a run counts as missed."""

    rpo_interval: PositiveDuration = timedelta(seconds=60)
    on_change_interval: PositiveDuration = timedelta(minutes=5)
    missed_after: PositiveDuration = timedelta(minutes=30)
    verify_read_percent: Percent = 5
    timeout: PositiveDuration = timedelta(hours=6)
