"""Defaults from the seed's "Backup & Recovery" section, plus example tenants."""

from __future__ import annotations

from leitstand.policy.base import Frequency
from leitstand.policy.continuity import (
    CONTINUOUS,
    ON_CHANGE,
    BackupData,
    BackupLocation,
    BackupMethod,
    BackupRow,
    BackupsPolicy,
    Encryption,
    Priority,
    RecoveryDocumentation,
    RecoveryTest,
    ServicePolicy,
)
from leitstand.policy.defaults._helpers import days, hours, minutes, t
from leitstand.policy.tenants import TenantPolicy

__all__ = ["backups", "services", "tenants"]


def services() -> dict[str, ServicePolicy]:
    """The four systems with RTO, RPO and priority ("Recovery Objectives")."""
    return {
        "smart-bav-portal": ServicePolicy(
            name="smart!bAV Portal", rto=hours(4), rpo=hours(1), priority=Priority.CRITICAL
        ),
        "enterprise-api": ServicePolicy(
            name="Enterprise API", rto=hours(2), rpo=minutes(15), priority=Priority.CRITICAL
        ),
        "batch-processing": ServicePolicy(
            name="Batch-Verarbeitung",
            name_en="Batch processing",
            rto=hours(8),
            rpo=hours(4),
            priority=Priority.HIGH,
        ),
        "internal-tools": ServicePolicy(
            name="Interne Tools",
            name_en="Internal tools",
            rto=hours(24),
            rpo=hours(24),
            priority=Priority.NORMAL,
        ),
    }


def _example(name: str, contact: str, *, critical: bool = False) -> TenantPolicy:
    return TenantPolicy(
        name=name,
        contact=contact,
        critical=critical,
        services=["smart-bav-portal", "enterprise-api"],
        example=True,
    )


def tenants() -> dict[str, TenantPolicy]:
    """Fictional example broker houses; the seed names none. A user's tenants replace them."""
    return {
        "example-makler-nord": _example(
            "Beispiel Makler Nord GmbH", "betrieb@makler-nord.example", critical=True
        ),
        "example-makler-sued": _example("Beispiel Makler Süd AG", "it@makler-sued.example"),
        "example-vorsorge-west": _example(
            "Beispiel Vorsorge West KG", "service@vorsorge-west.example"
        ),
    }


_SECONDARY = BackupLocation.SECONDARY_SITE_DE


def backups() -> BackupsPolicy:
    """The backup schedule and the mandatory recovery tests (DORA Art. 11)."""
    return BackupsPolicy(
        timezone="Europe/Berlin",
        schedule={
            "database_full": BackupRow(
                data=BackupData.DATABASE,
                name=t("Datenbank", "Database"),
                method=BackupMethod.FULL,
                frequency="0 2 * * *",
                retention=days(30),
                encryption=Encryption.AES_256,
                location=_SECONDARY,
            ),
            "database_incremental": BackupRow(
                data=BackupData.DATABASE,
                name=t("Datenbank", "Database"),
                method=BackupMethod.INCREMENTAL,
                frequency="0 * * * *",
                retention=days(7),
                encryption=Encryption.AES_256,
                location=_SECONDARY,
            ),
            "database_wal": BackupRow(
                data=BackupData.DATABASE,
                name=t("Datenbank", "Database"),
                method=BackupMethod.WAL,
                frequency=CONTINUOUS,
                retention=days(7),
                encryption=Encryption.AES_256,
                location=_SECONDARY,
            ),
            "files": BackupRow(
                data=BackupData.FILES,
                name=t("Dateien/Uploads", "Files/uploads"),
                method=BackupMethod.INCREMENTAL,
                frequency="0 3 * * *",
                retention=days(30),
                encryption=Encryption.AES_256,
                location=_SECONDARY,
            ),
            "configuration": BackupRow(
                data=BackupData.CONFIGURATION,
                name=t("Konfiguration", "Configuration"),
                method=BackupMethod.GIT,
                frequency=ON_CHANGE,
                retention="unlimited",
                encryption=Encryption.GPG,
                location=BackupLocation.GIT_REPOSITORY_DE,
            ),
            "secrets": BackupRow(
                data=BackupData.SECRETS,
                name=t("Secrets", "Secrets"),
                method=BackupMethod.VAULT_SNAPSHOT,
                frequency="0 4 * * *",
                retention=days(30),
                encryption=Encryption.AES_256,
                location=_SECONDARY,
            ),
        },
        recovery_tests={
            "database_restore_full": _test(
                "Datenbank-Restore (Full)", "Database restore (full)", Frequency.QUARTERLY
            ),
            "point_in_time_recovery": _test(
                "Point-in-Time-Recovery", "Point-in-time recovery", Frequency.QUARTERLY
            ),
            "application_restore": _test(
                "Anwendungs-Restore (komplett)",
                "Application restore (complete)",
                Frequency.SEMI_ANNUAL,
            ),
            "failover": _test("Failover-Test", "Failover test", Frequency.SEMI_ANNUAL),
            "disaster_recovery": _test(
                "Disaster Recovery (voll)",
                "Disaster recovery (full)",
                Frequency.ANNUAL,
                RecoveryDocumentation.FULL_DR_REPORT,
            ),
        },
    )


def _test(
    de: str,
    en: str,
    frequency: Frequency,
    documentation: RecoveryDocumentation = RecoveryDocumentation.TEST_RECORD_WITH_DURATION,
) -> RecoveryTest:
    return RecoveryTest(name=t(de, en), frequency=frequency, documentation=documentation)
