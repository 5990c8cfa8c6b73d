"""Display words for the policy's ids and durations, in German (default) and English."""

from __future__ import annotations

import re
from datetime import timedelta
from enum import StrEnum

from leitstand.policy.base import Frequency, Role
from leitstand.policy.continuity import (
    CONTINUOUS,
    ON_CHANGE,
    BackupLocation,
    BackupMethod,
    Priority,
    RecoveryDocumentation,
)
from leitstand.policy.delivery import ApprovalMode, ChangeField, Strategy
from leitstand.policy.durations import YEAR, format_duration
from leitstand.policy.environments import DataClass
from leitstand.policy.pipeline import DeployMode

__all__ = ["frequency_label", "human_duration", "label", "roles_label"]

# (German, English) per enum value; values without an entry are shown as they are.
_PAIRS: list[tuple[StrEnum, tuple[str, str]]] = [
    (Role.DEVOPS, ("DevOps", "DevOps")),
    (Role.DEVELOPER, ("Entwicklung", "Developers")),
    (Role.ONCALL, ("On-Call", "On-call")),
    (Role.COMPLIANCE_OFFICER, ("Compliance Officer", "Compliance officer")),
    (Role.SECURITY, ("Security", "Security")),
    (Role.QA, ("QA", "QA")),
    (Role.PRODUCT_OWNER, ("Product Owner", "Product owner")),
    (Role.MANAGEMENT, ("Management", "Management")),
    (Role.AUDITOR, ("Auditor", "Auditor")),
    (Priority.CRITICAL, ("Kritisch", "Critical")),
    (Priority.HIGH, ("Hoch", "High")),
    (Priority.NORMAL, ("Normal", "Normal")),
    (Frequency.MONTHLY, ("Monatlich", "Monthly")),
    (Frequency.QUARTERLY, ("Quartalsweise", "Quarterly")),
    (Frequency.SEMI_ANNUAL, ("Halbjährlich", "Semi-annual")),
    (Frequency.ANNUAL, ("Jährlich", "Annual")),
    (BackupMethod.FULL, ("Full Backup", "Full backup")),
    (BackupMethod.INCREMENTAL, ("Incremental", "Incremental")),
    (BackupMethod.WAL, ("WAL/Binlog", "WAL/binlog")),
    (BackupMethod.GIT, ("Git-versioniert", "Git-versioned")),
    (BackupMethod.VAULT_SNAPSHOT, ("Vault Backup", "Vault backup")),
    (BackupLocation.SECONDARY_SITE_DE, ("Sekundäres RZ DE", "Secondary data centre DE")),
    (BackupLocation.GIT_REPOSITORY_DE, ("Git-Repository DE", "Git repository DE")),
    (
        RecoveryDocumentation.TEST_RECORD_WITH_DURATION,
        (
            "Testprotokoll + Dauer",
            "Test record + duration",
        ),
    ),
    (RecoveryDocumentation.FULL_DR_REPORT, ("Vollständiger DR-Bericht", "Full DR report")),
    (ApprovalMode.AUTOMATIC, ("Automatisch (Pipeline)", "Automatic (pipeline)")),
    (ApprovalMode.BEFORE_DEPLOYMENT, ("vor dem Deployment", "before deployment")),
    (ApprovalMode.RETROSPECTIVE, ("nachträgliche Genehmigung", "retrospective approval")),
    (ChangeField.WHAT, ("Was wurde geändert (technisch)", "What was changed (technical)")),
    (
        ChangeField.WHY,
        (
            "Warum wurde es geändert (fachlich/regulatorisch)",
            "Why it was changed (business/regulatory)",
        ),
    ),
    (ChangeField.APPROVED_BY, ("Wer hat die Änderung genehmigt", "Who approved the change")),
    (ChangeField.DEPLOYED_AT, ("Wann wurde die Änderung deployed", "When it was deployed")),
    (
        ChangeField.ROLLBACK,
        (
            "Wie kann die Änderung rückgängig gemacht werden (Rollback)",
            "How it can be undone (rollback)",
        ),
    ),
    (ChangeField.TESTS, ("Welche Tests wurden durchgeführt", "Which tests were run")),
    (Strategy.BLUE_GREEN, ("Blue-Green", "Blue-green")),
    (Strategy.CANARY, ("Canary", "Canary")),
    (DeployMode.AUTOMATIC, ("Automatisch", "Automatic")),
    (
        DeployMode.MANUAL_APPROVAL,
        (
            "Manueller Approval-Step erforderlich",
            "Manual approval step required",
        ),
    ),
    (DataClass.SYNTHETIC, ("Synthetische Testdaten", "Synthetic test data")),
    (DataClass.ANONYMISED_COPY, ("Anonymisierte Kopie", "Anonymised copy")),
    (DataClass.REAL, ("Echtdaten", "Real data")),
]


# Keyed by enum class too: ApprovalMode.AUTOMATIC and DeployMode.AUTOMATIC are equal strings.
_LABELS = {(type(member), member.value): pair for member, pair in _PAIRS}


def label(value: StrEnum, lang: str) -> str:
    """Return the display word for an enum value."""
    pair = _LABELS.get((type(value), value.value))
    if pair is None:
        return str(value.value)
    return pair[1] if lang == "en" else pair[0]


def roles_label(roles: list[Role], lang: str) -> str:
    """Return roles joined with " + " as the seed writes them."""
    return " + ".join(label(r, lang) for r in roles) or "–"


def human_duration(value: timedelta | str, lang: str) -> str:
    """Return a duration in words for documents ("5 Jahre", "30 days", "15min")."""
    if isinstance(value, str):
        words = {
            "unlimited": ("Unbegrenzt", "Unlimited"),
            "next_business_day": ("Nächster Arbeitstag", "Next business day"),
            "next_opportunity": ("bei nächster Gelegenheit", "at the next opportunity"),
            "immediately": ("sofort", "immediately"),
        }.get(value, (value, value))
        return words[1] if lang == "en" else words[0]
    day, hour, zero = timedelta(days=1), timedelta(hours=1), timedelta(0)
    if value >= day and value % YEAR == zero:
        n = value // YEAR
        return f"{n} " + (("year" if n == 1 else "years") if lang == "en" else _jahr(n))
    # The seed writes "72 h" and "24h" but "30 Tage": hours up to a week, days beyond.
    if value >= timedelta(days=7) and value % day == zero:
        return f"{value // day} " + ("days" if lang == "en" else "Tage")
    if value >= hour and value % hour == zero:
        return f"{value // hour}h"
    if value < timedelta(minutes=2) and value % timedelta(seconds=1) == zero:
        return f"{int(value.total_seconds())}s"
    text = format_duration(value)
    return re.sub(r"(\d)m$", r"\1min", text)


def _jahr(n: int) -> str:
    return "Jahr" if n == 1 else "Jahre"


_DAILY = re.compile(r"^(\d{1,2}) (\d{1,2}) \* \* \*$")


def frequency_label(frequency: str, lang: str) -> str:
    """Return a backup frequency in words where the cron expression is a simple one."""
    en = lang == "en"
    if frequency == CONTINUOUS:
        return "Continuous" if en else "Kontinuierlich"
    if frequency == ON_CHANGE:
        return "On change" if en else "Bei Änderung"
    if frequency == "0 * * * *":
        return "Hourly" if en else "Stündlich"
    match = _DAILY.match(frequency)
    if match:
        minute, hour = int(match.group(1)), int(match.group(2))
        return f"{'Daily' if en else 'Täglich'} {hour:02d}:{minute:02d}"
    return f"`{frequency}`"
