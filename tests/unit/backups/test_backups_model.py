"""The pure rules: retention, RPO, schedules, drill due dates and run outcomes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from leitstand.backups.model import (
    ArchiveStatus,
    BackupSet,
    Check,
    RunStatus,
    SiteResult,
    Snapshot,
    add_months,
    database_restorable_until,
    drill_due,
    last_occurrence,
    overall_status,
    plan_pgbackrest_retention,
    plan_snapshot_retention,
    rpo_reading,
    rto_estimate,
    superseding_full,
)
from leitstand.backups.postgres import segment_end_lsn
from leitstand.policy.base import Frequency
from leitstand.policy.continuity import BackupData, BackupMethod
from leitstand.policy.model import default_policy

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
D = timedelta(days=1)


def _set(label: str, kind: str, age: timedelta, prior: str | None = None) -> BackupSet:
    when = NOW - age
    return BackupSet(label, kind, when - timedelta(minutes=5), when, prior)


def test_incrementals_go_after_seven_days_and_fulls_after_thirty() -> None:
    sets = [
        _set("F1", "full", 40 * D),
        _set("I1", "incr", 39 * D, "F1"),
        _set("F2", "full", 10 * D),
        _set("I2", "incr", 9 * D, "F2"),
        _set("I3", "incr", 2 * D, "I2"),
        _set("F3", "full", 1 * D),
    ]
    plan = plan_pgbackrest_retention(sets, now=NOW, full=30 * D, incremental=7 * D, wal=7 * D)
    # I2 is older than 7 days but I3, which is kept, builds on it.
    assert plan.expire == ("F1", "I1")
    assert plan.keep == ("F2", "I2", "I3", "F3")
    # WAL is kept from the newest backup older than 7 days (I2), so 7 days stay restorable.
    assert plan.wal_backups == 3


def test_the_newest_full_backup_is_never_removed() -> None:
    sets = [
        _set("F1", "full", 90 * D),
        _set("F2", "full", 60 * D),
        _set("I1", "incr", 59 * D, "F2"),
    ]
    plan = plan_pgbackrest_retention(sets, now=NOW, full=30 * D, incremental=7 * D, wal=None)
    assert plan.expire == ("F1", "I1")
    assert plan.keep == ("F2",)
    assert plan.wal_backups is None


def test_unlimited_retention_keeps_everything() -> None:
    sets = [_set("F1", "full", 900 * D)]
    plan = plan_pgbackrest_retention(sets, now=NOW, full=None, incremental=None, wal=None)
    assert plan.expire == ()


def test_old_snapshots_go_but_the_newest_stays() -> None:
    snaps = [Snapshot("a", NOW - 40 * D), Snapshot("b", NOW - 31 * D), Snapshot("c", NOW - 35 * D)]
    assert plan_snapshot_retention(snaps, now=NOW, retention=30 * D).expire == ("a", "c")
    assert plan_snapshot_retention(snaps[:1], now=NOW, retention=30 * D).expire == ()


def test_a_backup_counts_only_when_on_every_site_and_verified() -> None:
    ok = SiteResult("primary", True, "F1")
    other = SiteResult("secondary", True, "F2")
    down = SiteResult("secondary", False, error="disk full")
    assert overall_status([ok, other], [Check("v", True), Check("v2", True)]) is RunStatus.SUCCEEDED
    assert overall_status([ok, down], [Check("v", True)]) is RunStatus.PARTIAL
    assert overall_status([ok, other], [Check("v", False, "bad")]) is RunStatus.FAILED
    assert overall_status([down], []) is RunStatus.FAILED


def _archive(
    pending: int, *, archived: datetime | None, failed: datetime | None = None
) -> ArchiveStatus:
    return ArchiveStatus(
        "000000010000000000000003", archived, failed, 2 if failed else 0, pending, pending * 16
    )


def test_an_idle_fully_archived_database_loses_nothing() -> None:
    point, reason = database_restorable_until(
        _archive(0, archived=NOW - 2 * D), now=NOW, last_backup=NOW - 3 * D
    )
    assert point == NOW and reason == ""


def test_pending_wal_makes_the_last_archived_segment_the_newest_point() -> None:
    archived = NOW - timedelta(minutes=20)
    point, reason = database_restorable_until(
        _archive(3, archived=archived, failed=NOW - timedelta(minutes=1)),
        now=NOW,
        last_backup=NOW - D,
    )
    assert point == archived
    assert "3 WAL segment(s) not archived yet" in reason and "archive_command failing" in reason


def test_without_a_backup_nothing_is_restorable() -> None:
    point, reason = database_restorable_until(_archive(0, archived=NOW), now=NOW, last_backup=None)
    assert point is None and "no backup" in reason


def test_the_oldest_restorable_point_of_a_system_decides_its_rpo() -> None:
    reading = rpo_reading(
        {"database": NOW - timedelta(minutes=5), "files": NOW - timedelta(hours=20)},
        now=NOW,
        objective=timedelta(minutes=15),
    )
    assert reading.seconds == 20 * 3600 and reading.breach
    assert reading.restorable_until == NOW - timedelta(hours=20)
    fine = rpo_reading(
        {"database": NOW - timedelta(minutes=5)}, now=NOW, objective=timedelta(minutes=15)
    )
    assert not fine.breach and fine.seconds == 300
    unknown = rpo_reading(
        {"database": None}, now=NOW, objective=timedelta(hours=1), reasons={"database": "down"}
    )
    assert unknown.breach and unknown.seconds is None and "database: down" in unknown.reason


def test_cron_occurrences_are_in_berlin_time() -> None:
    # 27 Nov 2026, 09:00 UTC is 10:00 in Berlin: the last 02:00 Berlin was 01:00 UTC.
    assert last_occurrence("0 2 * * *", "Europe/Berlin", before=NOW) == datetime(
        2026, 11, 27, 1, 0, tzinfo=UTC
    )
    summer = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    assert last_occurrence("0 2 * * *", "Europe/Berlin", before=summer).hour == 0


def test_the_daily_full_supersedes_the_hourly_incremental_at_the_same_time() -> None:
    schedule = {
        key: (row.data, row.method, row.frequency)
        for key, row in default_policy().backups.schedule.items()
    }
    at_two = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)  # 02:00 Berlin
    assert superseding_full(
        schedule, row="database_incremental", due=at_two, tz="Europe/Berlin"
    ) == ("database_full")
    at_three = at_two + timedelta(hours=1)
    assert (
        superseding_full(schedule, row="database_incremental", due=at_three, tz="Europe/Berlin")
        is None
    )
    assert superseding_full(schedule, row="files", due=at_two, tz="Europe/Berlin") is None
    assert schedule["database_full"][:2] == (BackupData.DATABASE, BackupMethod.FULL)


def test_drills_are_due_one_period_after_the_last_passed_one() -> None:
    last = datetime(2026, 8, 31, 10, 0, tzinfo=UTC)
    assert drill_due(Frequency.QUARTERLY, last_passed=last, configured_since=NOW) == datetime(
        2026, 11, 30, 10, 0, tzinfo=UTC
    )
    # Never drilled: due one period after set-up, not the moment the first backup exists.
    assert drill_due(Frequency.ANNUAL, last_passed=None, configured_since=NOW) == add_months(
        NOW, 12
    )
    assert add_months(datetime(2026, 1, 31, tzinfo=UTC), 1) == datetime(2026, 2, 28, tzinfo=UTC)
    assert add_months(datetime(2026, 11, 15, tzinfo=UTC), 6) == datetime(2027, 5, 15, tzinfo=UTC)


def test_the_rto_estimate_is_the_slowest_latest_drill() -> None:
    assert rto_estimate([12.5, 40.0, 3.0]) == 40.0
    assert rto_estimate([]) is None


def test_wal_segment_names_map_to_their_end_position() -> None:
    size = 16 * 1024 * 1024
    assert segment_end_lsn("000000010000000000000003", size) == 4 * size
    assert segment_end_lsn("000000010000000100000000", size) == (256 + 1) * size
    assert segment_end_lsn("00000002.history", size) is None
