"""Backup and recovery rules: run outcomes, retention, RPO, RTO and drill due dates (pure).

Every function takes ``now`` as a plain argument; nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from croniter import croniter

from leitstand.policy.base import Frequency
from leitstand.policy.continuity import BackupData, BackupMethod

__all__ = [
    "DRILL_TESTS",
    "ArchiveStatus",
    "BackupSet",
    "Check",
    "DrillKind",
    "DrillStatus",
    "Phase",
    "RetentionPlan",
    "RpoReading",
    "RunStatus",
    "Site",
    "SiteResult",
    "Snapshot",
    "add_months",
    "database_restorable_until",
    "drill_due",
    "last_occurrence",
    "overall_status",
    "plan_pgbackrest_retention",
    "plan_snapshot_retention",
    "rpo_reading",
    "rto_estimate",
    "same_occurrence",
    "superseding_full",
]


class Site(StrEnum):
    """A backup location: the primary one and the second data centre."""

    PRIMARY = "primary"
    SECONDARY = "secondary"

    @property
    def repo(self) -> int:
        """pgBackRest's repository number for this site."""
        return 1 if self is Site.PRIMARY else 2


class RunStatus(StrEnum):
    """The outcome of one backup run."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"  # on every site and verified
    PARTIAL = "partial"  # on some sites only: does not count as done
    FAILED = "failed"
    SKIPPED = "skipped"  # e.g. an hourly incremental at the moment of the daily full
    INTERRUPTED = "interrupted"  # the process died or was stopped mid-run


class DrillStatus(StrEnum):
    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


class DrillKind(StrEnum):
    """The seed's five recovery tests, as command-line names."""

    FULL_RESTORE = "full-restore"
    PITR = "pitr"
    APPLICATION_RESTORE = "application-restore"
    FAILOVER = "failover"
    DISASTER_RECOVERY = "disaster-recovery"


#: Drill kind -> key of ``policy.backups.recovery_tests``.
DRILL_TESTS: Mapping[DrillKind, str] = {
    DrillKind.FULL_RESTORE: "database_restore_full",
    DrillKind.PITR: "point_in_time_recovery",
    DrillKind.APPLICATION_RESTORE: "application_restore",
    DrillKind.FAILOVER: "failover",
    DrillKind.DISASTER_RECOVERY: "disaster_recovery",
}


@dataclass(frozen=True, slots=True)
class SiteResult:
    """What one engine call achieved on one site."""

    site: str
    ok: bool
    engine_id: str | None = None
    size_bytes: int | None = None
    stored_bytes: int | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Check:
    """One verification with its result, as the Testprotokoll lists it.

    ``name`` is a stable key (``checksums``, ``invariant:orders``); ``values`` fill the
    Testprotokoll's wording in either language, ``detail`` is the English one-liner.
    """

    name: str
    ok: bool
    detail: str = ""
    skipped: bool = False
    values: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Phase:
    """A measured phase of a drill."""

    name: str
    seconds: float
    counts_for_rto: bool = True


def overall_status(backups: Sequence[SiteResult], verifications: Sequence[Check]) -> RunStatus:
    """Done only when on every site and verified; on some sites only is partial."""
    if not backups or not any(r.ok for r in backups):
        return RunStatus.FAILED
    if any(not c.ok and not c.skipped for c in verifications):
        return RunStatus.FAILED
    if all(r.ok for r in backups):
        return RunStatus.SUCCEEDED
    return RunStatus.PARTIAL


# -- retention -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BackupSet:
    """A pgBackRest backup set as ``info --output=json`` reports it."""

    label: str
    type: str  # full, diff, incr
    started: datetime
    stopped: datetime
    prior: str | None = None
    size_bytes: int = 0
    stored_bytes: int = 0
    error: bool = False


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A restic snapshot."""

    id: str
    time: datetime
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RetentionPlan:
    """What to remove: backup sets (with everything that depends on them) and WAL."""

    expire: tuple[str, ...]
    keep: tuple[str, ...]
    #: Backups (newest first, any type) whose continuous WAL stays; None keeps all WAL.
    wal_backups: int | None = None


def plan_pgbackrest_retention(
    sets: Sequence[BackupSet],
    *,
    now: datetime,
    full: timedelta | None,
    incremental: timedelta | None,
    wal: timedelta | None,
) -> RetentionPlan:
    """Decide which sets are past the policy's retention (None: unlimited).

    A full backup is kept for ``full``, an incremental or differential for ``incremental``;
    a set that a kept set depends on is kept too, and the newest full backup is never removed.
    WAL is kept from the newest backup started at or before ``now - wal`` onwards, so any point
    of the WAL retention window stays restorable.
    """
    by_label = {s.label: s for s in sets}
    fulls = sorted((s for s in sets if s.type == "full"), key=lambda s: s.started)
    newest_full = fulls[-1].label if fulls else None

    def expired(s: BackupSet) -> bool:
        limit = full if s.type == "full" else incremental
        if limit is None or s.label == newest_full:
            return False
        return now - s.stopped > limit

    keep = {s.label for s in sets if not expired(s)}
    # A kept set keeps its whole chain of priors.
    for label in list(keep):
        prior = by_label[label].prior
        while prior is not None and prior in by_label:
            keep.add(prior)
            prior = by_label[prior].prior
    ordered = sorted(sets, key=lambda s: s.started)
    expire = tuple(s.label for s in ordered if s.label not in keep)
    kept = [s for s in ordered if s.label in keep]
    wal_backups: int | None = None
    if wal is not None and kept:
        horizon = now - wal
        older = [s for s in kept if s.started <= horizon]
        anchor = older[-1] if older else kept[0]
        wal_backups = sum(1 for s in kept if s.started >= anchor.started)
    return RetentionPlan(expire=expire, keep=tuple(s.label for s in kept), wal_backups=wal_backups)


def plan_snapshot_retention(
    snapshots: Sequence[Snapshot], *, now: datetime, retention: timedelta | None
) -> RetentionPlan:
    """Snapshots older than the retention go, except the newest one."""
    ordered = sorted(snapshots, key=lambda s: s.time)
    if retention is None or not ordered:
        return RetentionPlan(expire=(), keep=tuple(s.id for s in ordered))
    newest = ordered[-1].id
    expire = tuple(s.id for s in ordered if s.id != newest and now - s.time > retention)
    return RetentionPlan(expire=expire, keep=tuple(s.id for s in ordered if s.id not in expire))


# -- recovery point objective ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ArchiveStatus:
    """WAL archiving as ``pg_stat_archiver`` and the WAL position show it."""

    last_archived_wal: str | None
    last_archived_time: datetime | None
    last_failed_time: datetime | None
    failed_count: int
    pending_segments: int
    pending_bytes: int


@dataclass(frozen=True, slots=True)
class RpoReading:
    """How much data a loss right now would cost, against the objective."""

    restorable_until: datetime | None
    seconds: float | None
    objective_seconds: float
    breach: bool
    reason: str = ""
    details: Mapping[str, object] = field(default_factory=dict)


def database_restorable_until(
    status: ArchiveStatus, *, now: datetime, last_backup: datetime | None
) -> tuple[datetime | None, str]:
    """The newest point a restore reaches: now if every WAL byte is archived, else the last
    archived segment; nothing without a backup on both sites."""
    if last_backup is None:
        return None, "no backup on both sites yet"
    if status.pending_bytes <= 0 and status.pending_segments == 0:
        return now, ""
    point = status.last_archived_time
    if point is None or point < last_backup:
        # Nothing archived since the backup: the backup's own end is the newest point.
        point = last_backup
    failing = status.last_failed_time is not None and (
        status.last_archived_time is None or status.last_failed_time > status.last_archived_time
    )
    reason = f"{status.pending_segments} WAL segment(s) not archived yet"
    if failing:
        reason += f"; archive_command failing ({status.failed_count} failures)"
    return point, reason


def rpo_reading(
    points: Mapping[str, datetime | None],
    *,
    now: datetime,
    objective: timedelta,
    reasons: Mapping[str, str] | None = None,
) -> RpoReading:
    """Combine the restorable points of a system's data (database, files): the oldest counts."""
    reasons = reasons or {}
    objective_s = objective.total_seconds()
    if not points:
        return RpoReading(None, None, objective_s, False, "no backup configured")
    missing = [name for name, point in points.items() if point is None]
    if missing:
        why = "; ".join(f"{n}: {reasons.get(n) or 'no restorable point'}" for n in missing)
        return RpoReading(None, None, objective_s, True, why)
    oldest_name, oldest = min(
        ((n, p) for n, p in points.items() if p is not None), key=lambda item: item[1]
    )
    seconds = max(0.0, (now - oldest).total_seconds())
    breach = seconds > objective_s
    reason = reasons.get(oldest_name, "") if breach else ""
    return RpoReading(
        oldest,
        seconds,
        objective_s,
        breach,
        f"{oldest_name}: {reason}" if reason else (oldest_name if breach else ""),
        {name: p.isoformat() for name, p in points.items() if p is not None},
    )


# -- schedules -------------------------------------------------------------------------------


def last_occurrence(expression: str, timezone: str, *, before: datetime) -> datetime:
    """The newest occurrence of a cron expression at or before ``before`` (aware UTC)."""
    local = before.astimezone(ZoneInfo(timezone)) + timedelta(microseconds=1)
    previous: datetime = croniter(expression, local).get_prev(datetime)
    return previous.astimezone(UTC)


def same_occurrence(expression: str, timezone: str, when: datetime) -> bool:
    """True when ``when`` is an occurrence of the cron expression (e.g. the daily full at 02:00)."""
    return last_occurrence(expression, timezone, before=when) == when.astimezone(UTC)


def superseding_full(
    schedule: Mapping[str, tuple[BackupData, BackupMethod, str]],
    *,
    row: str,
    due: datetime,
    tz: str,
) -> str | None:
    """The full backup row due at the same moment as incremental ``row`` (it takes precedence)."""
    data, method, _ = schedule[row]
    if method is not BackupMethod.INCREMENTAL:
        return None
    for key, (other_data, other_method, cron) in schedule.items():
        same_data = key != row and other_data is data and other_method is BackupMethod.FULL
        if same_data and len(cron.split()) == 5 and same_occurrence(cron, tz, due):
            return key
    return None


# -- drills ----------------------------------------------------------------------------------

_MONTHS = {
    Frequency.MONTHLY: 1,
    Frequency.QUARTERLY: 3,
    Frequency.SEMI_ANNUAL: 6,
    Frequency.ANNUAL: 12,
}


def add_months(when: datetime, months: int) -> datetime:
    """The same day ``months`` later (clamped to the month's last day)."""
    month_index = when.month - 1 + months
    year, month = when.year + month_index // 12, month_index % 12 + 1
    day = when.day
    while True:
        try:
            return when.replace(year=year, month=month, day=day)
        except ValueError:
            day -= 1


def drill_due(
    frequency: Frequency, *, last_passed: datetime | None, configured_since: datetime
) -> datetime:
    """When the next drill is due: one period after the last passed one, or, before the first,
    one period after set-up (the first backup): the schedule's first period, not at once."""
    return add_months(last_passed or configured_since, _MONTHS[frequency])


def rto_estimate(latest_passed: Iterable[float]) -> float | None:
    """The RTO estimate: the slowest of the latest passed drill of every kind (conservative)."""
    values = list(latest_passed)
    return max(values) if values else None
