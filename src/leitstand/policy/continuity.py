"""Systems with their recovery objectives, the backup schedule and the mandatory recovery tests."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import AfterValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from leitstand.policy.backup_targets import (
    BackupKeys,
    BackupMonitoring,
    BackupSites,
    DrillSettings,
    SystemBackup,
)
from leitstand.policy.base import Frequency, PolicyModel, Rules, Text
from leitstand.policy.durations import DurationOrUnlimited, PositiveDuration, format_duration
from leitstand.policy.values import describe

__all__ = [
    "CONTINUOUS",
    "ON_CHANGE",
    "BackupData",
    "BackupFrequency",
    "BackupLocation",
    "BackupMethod",
    "BackupRow",
    "BackupsPolicy",
    "Encryption",
    "Priority",
    "RecoveryDocumentation",
    "RecoveryTest",
    "ServicePolicy",
]

CONTINUOUS = "continuous"
ON_CHANGE = "on_change"


class Priority(StrEnum):
    """A system's recovery priority (Kritisch, Hoch, Normal)."""

    CRITICAL = "critical"
    HIGH = "high"
    NORMAL = "normal"


class ServicePolicy(PolicyModel):
    """A system (the seed's "System") with its recovery time and recovery point objectives."""

    name: str
    name_en: str | None = None
    rto: PositiveDuration
    rpo: PositiveDuration
    priority: Priority

    @model_validator(mode="after")
    def _rpo_within_rto(self) -> Self:
        # Losing more data than the time allowed to restore would make the RTO meaningless.
        rules = Rules()
        if self.rpo > self.rto:
            rto, rpo = format_duration(self.rto), format_duration(self.rpo)
            rules.add(
                "rpo",
                f"must not be longer than rto ({rto}) (got {rpo})",
                ("rto", f"must not be shorter than rpo ({rpo}) (got {rto})"),
            )
        rules.check()
        return self


class BackupData(StrEnum):
    """What a backup row protects."""

    DATABASE = "database"
    FILES = "files"
    CONFIGURATION = "configuration"
    SECRETS = "secrets"


class BackupMethod(StrEnum):
    """How the data is backed up."""

    FULL = "full"
    INCREMENTAL = "incremental"
    WAL = "wal"  # continuous WAL/binlog archiving
    GIT = "git"
    VAULT_SNAPSHOT = "vault_snapshot"


class Encryption(StrEnum):
    """Encryption of the backup at rest."""

    AES_256 = "AES-256"
    GPG = "GPG"


class BackupLocation(StrEnum):
    """Where the backup lands; both are in Germany."""

    SECONDARY_SITE_DE = "secondary_site_de"
    GIT_REPOSITORY_DE = "git_repository_de"


def _frequency(value: str) -> str:
    text = " ".join(value.split())
    if text in (CONTINUOUS, ON_CHANGE):
        return text
    if len(text.split(" ")) == 5 and croniter.is_valid(text):
        return text
    raise PydanticCustomError(
        "frequency",
        f"a five-field cron expression such as '0 2 * * *', '{CONTINUOUS}' or '{ON_CHANGE}' "
        f"(got {describe(value)})",
    )


BackupFrequency = Annotated[str, AfterValidator(_frequency)]


class BackupRow(PolicyModel):
    """One row of the backup schedule; cron times are in the schedule's time zone."""

    data: BackupData
    name: Text
    method: BackupMethod
    frequency: BackupFrequency
    retention: DurationOrUnlimited
    encryption: Encryption
    location: BackupLocation

    @model_validator(mode="after")
    def _retention_positive(self) -> Self:
        rules = Rules()
        if self.retention != "unlimited" and not self.retention:
            rules.add("retention", "a duration longer than 0s or 'unlimited' (got 0s)")
        rules.check()
        return self


class RecoveryDocumentation(StrEnum):
    """What a recovery test must leave behind."""

    TEST_RECORD_WITH_DURATION = "test_record_with_duration"  # Testprotokoll + Dauer
    FULL_DR_REPORT = "full_dr_report"  # Vollständiger DR-Bericht


class RecoveryTest(PolicyModel):
    """A mandatory recovery test (drill)."""

    name: Text
    frequency: Frequency
    documentation: RecoveryDocumentation


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise PydanticCustomError(
            "timezone", f"an IANA time zone such as 'Europe/Berlin' (got {describe(value)})"
        ) from None
    return value


class BackupsPolicy(PolicyModel):
    """Backup schedule and recovery tests (DORA Art. 11)."""

    timezone: Annotated[str, AfterValidator(_timezone)]
    schedule: dict[str, BackupRow]
    recovery_tests: dict[str, RecoveryTest]
    # Where each system's data is and where backups land (leitstand's; the seed names no hosts).
    systems: dict[str, SystemBackup] = Field(default_factory=dict)
    sites: BackupSites = Field(default_factory=BackupSites)
    keys: BackupKeys = Field(default_factory=BackupKeys)
    drills: DrillSettings = Field(default_factory=DrillSettings)
    monitoring: BackupMonitoring = Field(default_factory=BackupMonitoring)
