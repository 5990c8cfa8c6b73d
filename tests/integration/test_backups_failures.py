"""What goes wrong with backups, on real engines: retention, corruption, wrong keys,
interruptions, missing tools, unreachable databases, and schedules that did not run.

The module's clock is a manual one so that retention and schedules can be judged at chosen
times; it is set to the wall clock before every step that talks to the engines.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from leitstand.alerting.schemas import AlertOut
from leitstand.auth.model import SYSTEM_ACTOR, Role
from leitstand.backups.alertbook import AlertBook
from leitstand.backups.alerts import LedgerSink
from leitstand.backups.model import DrillKind, Site
from leitstand.backups.service import BackupService
from leitstand.backups.store import BackupRunRow
from leitstand.backups.wiring import schedule_backup_jobs
from leitstand.clock import SystemClock
from leitstand.ledger.service import EntryQuery
from leitstand.policy.continuity import BackupData, BackupMethod
from leitstand.policy.model import Policy, default_policy
from leitstand.policy.render import render_policy
from leitstand.testing import ManualClock
from support.backups_lab import ADMIN, LabSystem, backup_lab

pytestmark = pytest.mark.integration
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture(scope="module")
def clock() -> ManualClock:
    return ManualClock(SystemClock().now())


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, clock: ManualClock) -> Iterator[LabSystem]:
    data = default_policy().model_dump(mode="json")
    data["backups"]["monitoring"]["verify_read_percent"] = 100
    data["backups"]["drills"]["timeout"] = "2m"
    home = tmp_path_factory.mktemp("backup-failures") / "home"
    with backup_lab(home=home, clock=clock, base=Policy.model_validate(data)) as system:
        system.sql(
            "CREATE TABLE ledger_lines (id bigint PRIMARY KEY, memo text);"
            "INSERT INTO ledger_lines SELECT g, repeat('x', 80) FROM generate_series(1, 20000) g"
        )
        yield system


@pytest.fixture(autouse=True)
def _wall_clock(clock: ManualClock) -> None:
    clock.set(SystemClock().now())


def _listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def _backup_dirs(lab: LabSystem) -> list[str]:
    found = []
    for site in Site:
        path = lab.root / "sites" / site.value / "pgbackrest" / lab.system / "backup" / lab.system
        found += sorted(f"{site.value}:{p.name}" for p in path.iterdir() if p.is_dir())
    return found


def _forget_cached_keys(lab: LabSystem) -> None:
    lab.container.backups.keys._cache.clear()


def _alerts(lab: LabSystem, name: str) -> list[AlertOut]:
    return [a for a in lab.container.alerting.queries.alert_list(status=None) if a.name == name]


def test_timers_follow_the_policy_schedule_in_berlin_time(
    lab: LabSystem, clock: ManualClock
) -> None:
    keys = schedule_backup_jobs(lab.container)
    assert keys == [
        f"backups.run:{row}:{lab.system}"
        for row in ("database_full", "database_incremental", "files")
    ]
    jobs = {j.key: j for j in lab.container.scheduler.jobs(limit=1000)}
    full = jobs[f"backups.run:database_full:{lab.system}"]
    assert full.recurrence == "0 2 * * *"
    due = full.due_at.astimezone(BERLIN)
    assert (due.hour, due.minute) == (2, 0) and full.due_at > clock.now()
    assert jobs["backups.monitor"].recurrence == "every 60s"
    assert jobs["backups.drills.check"].recurrence == "0 5 * * *"


def test_a_scheduled_backup_runs_once_as_a_leased_duty(lab: LabSystem, clock: ManualClock) -> None:
    scheduler = lab.container.scheduler
    schedule_backup_jobs(lab.container)  # idempotent: unchanged timers keep their due time
    key = f"backups.run:database_incremental:{lab.system}"

    def due_of(job_key: str) -> datetime:
        return next(j for j in scheduler.jobs(limit=1000) if j.key == job_key).due_at

    def fire(at: datetime) -> None:
        clock.set(at)
        assert scheduler.run_due(limit=10) >= 1  # the monitor's timer is due as well
        assert scheduler.leases.drain(timeout=180)

    due = due_of(key)
    if due == due_of(f"backups.run:database_full:{lab.system}"):
        # Started between one and two o'clock (Berlin): the next incremental is the one at two,
        # which yields to the daily full. That occurrence is recorded as skipped, once; the
        # one after it is the run under test.
        fire(due)
        [skipped] = lab.container.backups.runs(system=lab.system, row="database_incremental")
        assert skipped.status == "skipped" and skipped.due_at == due
        due = due_of(key)
    fire(due)
    runs = [
        r
        for r in lab.container.backups.runs(system=lab.system, row="database_incremental", limit=5)
        if r.due_at == due
    ]
    assert len(runs) == 1, runs
    run = runs[0]
    assert run.trigger == "schedule" and run.status == "succeeded", run.error
    assert run.run_key == f"{key}@{due.isoformat()}"
    # At-least-once: the same occurrence handled again (after a crash) is not run twice.
    again = lab.container.backups.run(
        system=lab.system,
        row="database_incremental",
        actor=ADMIN,
        trigger="schedule",
        due_at=due,
        key=run.run_key,
    )
    assert again.id == run.id
    assert [
        r.id
        for r in lab.container.backups.runs(system=lab.system, row="database_incremental")
        if r.due_at == due
    ] == [run.id]


def test_a_missed_scheduled_run_raises_an_alert_once(lab: LabSystem, clock: ManualClock) -> None:
    schedule_backup_jobs(lab.container)  # idempotent; the test does not rely on an earlier one
    job = next(
        j
        for j in lab.container.scheduler.jobs(limit=1000)
        if j.key == f"backups.run:database_incremental:{lab.system}"
    )
    # Nothing ran for the next two hourly occurrences: the scheduler was down.
    clock.set(job.due_at + timedelta(hours=1, minutes=31))
    lab.container.backup_monitor.measure(actor=ADMIN)
    lab.container.backup_monitor.measure(actor=ADMIN)
    # Only the incremental row is asserted: when the test runs late in the evening (Berlin),
    # the 02:00 full falls into the same window and is rightly reported missed as well.
    missed = [a for a in _alerts(lab, "BackupMissed") if a.labels["row"] == "database_incremental"]
    assert len(missed) == 1
    with lab.container.db.reader() as session:
        entries = lab.container.ledger.entries(session, EntryQuery(action="backups.run.missed"))
    assert [e.payload["row"] for e in entries].count("database_incremental") == 1


def test_the_hourly_incremental_yields_to_the_daily_full_at_two(
    lab: LabSystem, clock: ManualClock
) -> None:
    schedule_backup_jobs(lab.container)  # idempotent; the test does not rely on an earlier one
    full_due = next(
        j.due_at
        for j in lab.container.scheduler.jobs(limit=1000)
        if j.key == f"backups.run:database_full:{lab.system}"
    )
    skipped = lab.container.backups.run(
        system=lab.system,
        row="database_incremental",
        actor=ADMIN,
        trigger="schedule",
        due_at=full_due,
        key=f"test-incr@{full_due.isoformat()}",
    )
    assert skipped.status == "skipped"
    assert skipped.error == "superseded by database_full, due at the same time"


def test_retention_removes_exactly_what_the_policy_says(lab: LabSystem, clock: ManualClock) -> None:
    engine = lab.engine(BackupData.DATABASE)
    earlier = {site.value: [s.label for s in engine.info(site)[0]] for site in Site}
    made: dict[str, list[str]] = {site.value: [] for site in Site}
    # The chain is built with the engine directly (the service's runs are tested elsewhere).
    for method in (BackupMethod.FULL, BackupMethod.INCREMENTAL, BackupMethod.FULL):
        for result in engine.backup(method):
            assert result.ok, result.error
            made[result.site].append(str(result.engine_id))
    stopped = {s.label: s.stopped for s in engine.info("primary")[0]}
    second_full = stopped[made["primary"][2]]

    # Eight days on: incrementals (7 days) go, full backups (30 days) stay.
    clock.set(second_full + timedelta(days=8))
    removed = lab.container.backups.expire(system=lab.system, actor=ADMIN)
    incrementals = [
        f"{site}:{label}"
        for site in made
        for label in [*earlier[site], *made[site]]
        if label.endswith("I")
    ]
    assert sorted(removed["database"]) == sorted(incrementals)
    for site in Site:
        left = [s.label for s in engine.info(site)[0]]
        assert all(label.endswith("F") for label in left) and made[site.value][2] in left

    # Just under 30 days after the second full: every older full goes, the newest stays, and
    # the WAL before it goes (7 days of WAL start at the newest backup older than 7 days).
    clock.set(second_full + timedelta(days=30) - timedelta(seconds=0.5))
    removed = lab.container.backups.expire(system=lab.system, actor=ADMIN)
    fulls = [
        f"{site}:{label}"
        for site in made
        for label in [*earlier[site], made[site][0]]
        if label.endswith("F")
    ]
    assert sorted(removed["database"]) == sorted(fulls)
    for site in Site:
        sets, stanza = engine.info(site)
        assert [s.label for s in sets] == [made[site.value][2]]
        kept = next(b for b in stanza["backup"] if b["label"] == made[site.value][2])
        assert stanza["archive"][0]["min"] == kept["archive"]["start"]

    clock.set(SystemClock().now())
    restic = lab.engine(BackupData.FILES)
    # Snapshots an earlier scheduled run of the module may have made expire as well.
    older = [f"{site.value}:{s.id[:8]}" for site in Site for s in restic.snapshots(site)]
    first, second = restic.backup(BackupMethod.INCREMENTAL), restic.backup(BackupMethod.INCREMENTAL)
    newest = max(s.time for s in restic.snapshots("primary"))
    clock.set(newest + timedelta(days=31))
    removed = lab.container.backups.expire(system=lab.system, actor=ADMIN)
    gone = sorted(removed["files"])
    assert sorted(
        f"{site}:{sid[:8]}" for site, _, sid in (g.partition(":") for g in gone)
    ) == sorted([*older, *(f"{r.site}:{r.engine_id}" for r in first)])
    for site in Site:
        left = [s.id[:8] for s in restic.snapshots(site)]
        assert left == [next(r.engine_id for r in second if r.site == site.value)]


def test_a_wrong_key_is_refused_and_nothing_is_written(lab: LabSystem) -> None:
    key_file = lab.root / "keys" / "pgbackrest.key"
    good = key_file.read_text()
    before = _backup_dirs(lab)
    key_file.write_text("not-the-key\n")
    _forget_cached_keys(lab)
    try:
        run = lab.backup("database_full")
    finally:
        key_file.write_text(good)
        _forget_cached_keys(lab)
        lab.engine(BackupData.DATABASE).write_config()
    assert run.status == "failed"
    for site in run.sites:
        assert not site["ok"] and "does not decrypt" in site["error"]
    assert _backup_dirs(lab) == before

    restic_key = lab.root / "keys" / "restic.key"
    good = restic_key.read_text()
    snapshots = len(lab.engine(BackupData.FILES).snapshots("primary"))
    restic_key.write_text("wrong-password\n")
    _forget_cached_keys(lab)
    try:
        run = lab.backup("files")
    finally:
        restic_key.write_text(good)
        _forget_cached_keys(lab)
    assert run.status == "failed" and "wrong password" in (run.error or "")
    assert len(lab.engine(BackupData.FILES).snapshots("primary")) == snapshots
    assert _alerts(lab, "BackupFailed")


def test_a_missing_tool_names_its_package_and_nothing_is_written(
    lab: LabSystem, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    before = _listing(lab.root / "sites")
    monkeypatch.setenv("PATH", str(tmp_path))
    database = lab.backup("database_full")
    files = lab.backup("files")
    assert database.status == "failed"
    assert "pgbackrest is not installed" in (database.error or "")
    assert "apt-get install pgbackrest" in (database.error or "")
    assert "apt-get install restic" in (files.error or "")
    monkeypatch.undo()
    assert _listing(lab.root / "sites") == before


def test_an_unreachable_database_fails_clearly_and_nothing_is_written(lab: LabSystem) -> None:
    data = lab.policy.model_dump(mode="json")
    data["backups"]["systems"][lab.system]["database"]["port"] = 1
    policy = Policy.model_validate(data)
    c = lab.container
    service = BackupService(
        db=c.db,
        ledger=c.ledger,
        clock=c.clock,
        policy=policy,
        home=c.settings.home,
        alerts=AlertBook(LedgerSink(c.ledger)),
    )
    before = _backup_dirs(lab)
    run = service.run(system=lab.system, row="database_full", actor=ADMIN)
    assert run.status == "failed" and run.sites == []
    assert "is not reachable" in (run.error or "")
    assert _backup_dirs(lab) == before


def _pgbackrest_backup_running(config: Path) -> bool:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        args = [a.decode(errors="replace") for a in cmdline]
        if (
            args
            and args[0].endswith("pgbackrest")
            and "backup" in args
            and any(str(config) in a for a in args)
        ):
            return True
    return False


def test_an_interrupted_backup_leaves_the_previous_good_state_usable(
    lab: LabSystem, tmp_path: Path
) -> None:
    good = _backup_dirs(lab)
    assert good
    policy_file = tmp_path / "leitstand.yaml"
    policy_file.write_text(render_policy(lab.policy, "yaml"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEITSTAND_")}
    env.update(LEITSTAND_HOME=str(lab.container.settings.home), LEITSTAND_POLICY=str(policy_file))
    _user, env["LEITSTAND_TOKEN"] = lab.container.auth.add_user(
        name="olaf", role=Role.DEVOPS, actor=SYSTEM_ACTOR
    )  # the backup is run by a named devops user
    cli = subprocess.Popen(
        [sys.executable, "-m", "leitstand", "backup", "run", lab.system, "--row", "database_full"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    config = lab.root / "pgbackrest" / "pgbackrest.conf"
    deadline = time.monotonic() + 60
    while not _pgbackrest_backup_running(config) and time.monotonic() < deadline:
        assert cli.poll() is None, cli.communicate()
        time.sleep(0.01)
    cli.send_signal(signal.SIGTERM)
    _out, err = cli.communicate(timeout=60)
    assert cli.returncode == 130, err
    # pgBackRest's own worker processes finish their shutdown on their own schedule.
    stopped = time.monotonic() + 15
    while _pgbackrest_backup_running(config) and time.monotonic() < stopped:
        time.sleep(0.1)
    assert not _pgbackrest_backup_running(config)
    with lab.container.db.reader() as session:
        status = session.execute(
            sa.select(BackupRunRow.status).order_by(BackupRunRow.id.desc()).limit(1)
        ).scalar_one()
    assert status == "interrupted"
    # The sets that were good before are still there and restore.
    assert set(good) <= set(_backup_dirs(lab))
    drill = lab.container.drills.run(kind=DrillKind.FULL_RESTORE, system=lab.system, actor=ADMIN)
    assert drill.status == "passed", (drill.protocol or {}).get("checks")
    assert lab.backup("database_full").status == "succeeded"


def test_a_corrupted_repository_file_fails_verification_and_the_backup(lab: LabSystem) -> None:
    restic_repo = lab.root / "sites" / "primary" / "restic" / f"{lab.system}-files"
    assert lab.backup("files").status == "succeeded"
    pack = max(
        (p for p in (restic_repo / "data").rglob("*") if p.is_file()),
        key=lambda p: p.stat().st_size,
    )
    raw = bytearray(pack.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    pack.write_bytes(bytes(raw))
    run = lab.backup("files")
    assert run.status == "failed"
    primary = next(c for c in run.verification if "primary" in c["name"])
    assert not primary["ok"] and "repository contains errors" in primary["detail"]
    secondary = next(c for c in run.verification if "secondary" in c["name"])
    assert secondary["ok"]

    engine = lab.engine(BackupData.DATABASE)
    newest = engine.info("primary")[0][-1].label
    backup_dir = lab.root / "sites" / "primary" / "pgbackrest" / lab.system / "backup" / lab.system
    victim = max(
        (p for p in (backup_dir / newest / "pg_data").rglob("*.zst") if p.is_file()),
        key=lambda p: p.stat().st_size,
    )
    raw = bytearray(victim.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    victim.write_bytes(bytes(raw))
    run = lab.backup("database_incremental")
    assert run.status == "failed"
    primary = next(c for c in run.verification if "primary" in c["name"])
    assert not primary["ok"] and "invalid" in primary["detail"]
    failed = [a for a in _alerts(lab, "BackupFailed") if a.labels["row"] == "database_incremental"]
    assert failed and failed[0].severity == "critical"
    recorded = [
        e
        for e in lab.container.audit.log(EntryQuery(action="backups.run.failed", limit=50))
        if e.payload.get("run_id") == run.id
    ]
    assert recorded and json.dumps(recorded[0].payload["verification"]).count("invalid") >= 1


def test_ledger_of_the_failures_module_is_intact(lab: LabSystem) -> None:
    assert lab.container.audit.verify(actor=ADMIN).ok
    assert datetime.now(UTC) > datetime(2026, 1, 1, tzinfo=UTC)
