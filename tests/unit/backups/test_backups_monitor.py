"""RPO readings, missed runs and overdue drills on both store backends, with a manual clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from leitstand.alerting.schemas import AlertOut
from leitstand.app import create_app
from leitstand.backups.monitor import BackupMonitor
from leitstand.backups.objectives import run_timer_key
from leitstand.backups.store import DrillRow
from leitstand.backups.wiring import RUN_KIND, wire_backups
from leitstand.bootstrap import Container
from leitstand.ledger.service import EntryQuery
from leitstand.policy.model import Policy, default_policy
from leitstand.testing import ManualClock
from support.backups_lab import ADMIN, store_backup_run


def _policy(systems: dict[str, Any]) -> Policy:
    data = default_policy().model_dump(mode="json")
    data["backups"]["systems"] = systems
    return Policy.model_validate(data)


def _monitor(container: Container, policy: Policy, tmp_path: Path) -> BackupMonitor:
    _backups, _drills, monitor = wire_backups(
        db=container.db,
        ledger=container.ledger,
        clock=container.clock,
        policy=policy,
        home=tmp_path,
        alerting=container.alerting,
        scheduler=container.scheduler,
    )
    return monitor


def _alerts(container: Container, name: str) -> list[AlertOut]:
    return [a for a in container.alerting.queries.alert_list(status=None) if a.name == name]


def _actions(container: Container, action: str) -> int:
    with container.db.reader() as session:
        return len(container.ledger.entries(session, EntryQuery(action=action, limit=None)))


FILES_ONLY = {"batch-processing": {"files": {"paths": ["/srv/batch"]}}}


def test_every_system_shows_its_objectives_even_without_backups(
    container: Container, tmp_path: Path
) -> None:
    objectives = {o.system: o for o in _monitor(container, default_policy(), tmp_path).objectives()}
    assert list(objectives) == [
        "smart-bav-portal",
        "enterprise-api",
        "batch-processing",
        "internal-tools",
    ]
    api = objectives["enterprise-api"]
    assert (api.rto_seconds, api.rpo_seconds) == (7200, 900)
    assert api.rpo_status == "not_configured" and not api.configured


def test_the_rpo_of_a_file_system_follows_its_last_good_snapshot(
    container: Container, clock: ManualClock, tmp_path: Path
) -> None:
    monitor = _monitor(container, _policy(FILES_ONLY), tmp_path)
    store_backup_run(
        container, "batch-processing", "files", "files", clock.now() - timedelta(minutes=30)
    )
    store_backup_run(
        container,
        "batch-processing",
        "files",
        "files",
        clock.now() - timedelta(minutes=5),
        "failed",
    )
    batch = next(o for o in monitor.measure(actor=ADMIN) if o.system == "batch-processing")
    assert batch.rpo_status == "ok" and batch.rpo_measured == 30 * 60
    assert batch.runs["files"]["status"] == "failed"
    assert batch.runs["files"]["last_success_at"] is not None

    clock.advance(timedelta(hours=4))  # objective 4 h: 4 h 30 min since the last good snapshot
    read = next(o for o in monitor.objectives() if o.system == "batch-processing")
    assert read.rpo_status == "breach" and read.rpo_measured == 4.5 * 3600
    monitor.measure(actor=ADMIN)
    monitor.measure(actor=ADMIN)
    assert _actions(container, "backups.rpo.breached") == 1
    breach = _alerts(container, "RpoBreach")
    assert len(breach) == 1 and breach[0].severity == "critical"
    assert breach[0].labels["system"] == "batch-processing"

    store_backup_run(container, "batch-processing", "files", "files", clock.now())
    monitor.measure(actor=ADMIN)
    assert _actions(container, "backups.rpo.recovered") == 1
    assert _alerts(container, "RpoBreach")[0].status == "resolved"


def test_a_system_without_a_good_backup_on_both_sites_breaches(
    container: Container, tmp_path: Path
) -> None:
    monitor = _monitor(container, _policy(FILES_ONLY), tmp_path)
    batch = next(o for o in monitor.measure(actor=ADMIN) if o.system == "batch-processing")
    assert batch.rpo_status == "breach"
    assert batch.rpo_reason == "files: no file backup on both sites yet"


def test_a_scheduled_run_that_did_not_happen_alerts_once_per_occurrence(
    container: Container, clock: ManualClock, tmp_path: Path
) -> None:
    monitor = _monitor(container, _policy(FILES_ONLY), tmp_path)
    container.scheduler.ensure_recurring(
        kind=RUN_KIND, key=run_timer_key("files", "batch-processing"), recurrence="0 3 * * *"
    )
    # 27 Nov 2026 09:00 UTC: the next 03:00 Berlin is 28 Nov 02:00 UTC.
    clock.set(datetime.fromisoformat("2026-11-28T02:20:00+00:00"))
    monitor.measure(actor=ADMIN)
    assert _alerts(container, "BackupMissed") == []  # within the 30 minutes of grace
    clock.set(datetime.fromisoformat("2026-11-28T02:31:00+00:00"))
    monitor.measure(actor=ADMIN)
    monitor.measure(actor=ADMIN)
    missed = _alerts(container, "BackupMissed")
    assert len(missed) == 1 and missed[0].labels["row"] == "files"
    assert _actions(container, "backups.run.missed") == 1
    # The next night is missed as well: a new occurrence, a new alert.
    clock.advance(timedelta(days=1))
    monitor.measure(actor=ADMIN)
    assert _actions(container, "backups.run.missed") == 2


def test_overdue_recovery_drills_are_flagged_until_one_passes(
    container: Container, clock: ManualClock, tmp_path: Path
) -> None:
    systems = {
        "enterprise-api": {
            "database": {
                "data_dir": "/nonexistent",
                "host": str(tmp_path / "nosocket"),
                "port": 5999,
            }
        }
    }
    monitor = _monitor(container, _policy(systems), tmp_path)
    store_backup_run(container, "enterprise-api", "database_full", "database", clock.now())
    monitor.measure(actor=ADMIN)  # right after the first backup: nothing is overdue yet
    assert not _alerts(container, "RecoveryDrillOverdue")
    clock.advance(timedelta(days=100))
    with container.db.transaction() as session:
        session.add(
            DrillRow(
                drill_key="d1",
                kind="pitr",
                system="enterprise-api",
                trigger="manual",
                actor="anna",
                status="passed",
                started_at=clock.now() - timedelta(days=10),
                finished_at=clock.now() - timedelta(days=10),
                total_seconds=42.0,
                rto_seconds=7200.0,
                within_rto=True,
                protocol="{}",
            )
        )
    objective = next(o for o in monitor.measure(actor=ADMIN) if o.system == "enterprise-api")
    due = {d.kind: d for d in objective.drills}
    assert list(due) == ["full-restore", "pitr", "failover", "disaster-recovery"]
    assert due["full-restore"].overdue and due["full-restore"].last_passed is None
    assert not due["pitr"].overdue and due["pitr"].frequency == "quarterly"
    assert due["disaster-recovery"].frequency == "annual"
    assert objective.rto_estimate == 42.0 and objective.rto_status == "ok"
    assert objective.rpo_status == "breach" and "cannot measure" in objective.rpo_reason
    overdue = {a.labels["kind"] for a in _alerts(container, "RecoveryDrillOverdue")}
    # 100 days after the first backup: the quarterly full restore is overdue; the semi-annual
    # failover and the annual disaster recovery are not due yet.
    assert overdue == {"full-restore"}
    assert not due["failover"].overdue and not due["disaster-recovery"].overdue


@pytest.mark.parametrize("path", ["/metrics"])
def test_objectives_are_prometheus_metrics(container: Container, path: str) -> None:
    with TestClient(create_app(container), base_url="http://127.0.0.1") as client:
        text = client.get(path).text
    assert 'leitstand_backup_rpo_objective_seconds{system="enterprise-api"} 900.0' in text
    assert 'leitstand_backup_rto_objective_seconds{system="internal-tools"} 86400.0' in text
    assert 'leitstand_backup_configured{system="smart-bav-portal"} 0.0' in text


def test_timers_follow_the_policy_and_stale_ones_are_cancelled(tmp_path: Path) -> None:
    from leitstand.backups.wiring import schedule_backup_jobs
    from leitstand.bootstrap import build
    from leitstand.settings import Settings

    systems = {
        "batch-processing": {
            "files": {"paths": ["/srv/batch"]},
            "configuration": {"git_repository": "/srv/config"},
        }
    }
    settings = Settings(home=tmp_path / "home")
    container = build(settings, clock=ManualClock(), policy=_policy(systems), migrate=True)
    try:
        keys = schedule_backup_jobs(container)
        jobs = {j.key: j for j in container.scheduler.jobs()}
    finally:
        container.close()
    assert keys == [
        "backups.run:files:batch-processing",
        "backups.run:configuration:batch-processing",
    ]
    assert jobs["backups.run:files:batch-processing"].recurrence == "0 3 * * *"
    assert jobs["backups.run:configuration:batch-processing"].recurrence == "every 300s"
    container = build(settings, clock=ManualClock(), policy=default_policy(), migrate=True)
    try:
        assert schedule_backup_jobs(container) == []
        states = {j.key: j.status for j in container.scheduler.jobs()}
    finally:
        container.close()
    assert states["backups.run:files:batch-processing"] == "cancelled"


def test_a_backup_or_drill_asked_for_over_the_api_is_queued_for_the_scheduler(
    tmp_path: Path,
) -> None:
    from leitstand.auth.model import Role
    from leitstand.bootstrap import build
    from leitstand.settings import Settings

    container = build(
        Settings(home=tmp_path / "home"),
        clock=ManualClock(),
        policy=_policy(FILES_ONLY),
        migrate=True,
    )
    try:
        _user, token = container.auth.add_user(name="dora", role=Role.DEVOPS, actor=ADMIN)
        with TestClient(create_app(container), base_url="http://127.0.0.1") as client:
            response = client.post(
                "/api/v1/backups/runs",
                json={"system": "batch-processing", "row": "files"},
                headers={"Authorization": f"Bearer {token}"},
            )
            drill = client.post(
                "/api/v1/backups/drills",
                json={"kind": "pitr", "system": "batch-processing"},
                headers={"Authorization": f"Bearer {token}"},
            )
        assert response.status_code == 202, response.text
        key = response.json()["job_key"]
        job = next(j for j in container.scheduler.jobs() if j.key == key)
        assert job.kind == "backups.run" and job.status == "pending"
        assert _actions(container, "backups.run.requested") == 1
        assert drill.status_code == 422
        assert "needs a database" in drill.json()["error"]
    finally:
        container.close()


def test_an_impossible_drill_is_refused_before_queueing_and_a_scheduled_one_alerts(
    tmp_path: Path,
) -> None:
    from leitstand.auth.model import Role
    from leitstand.backups.model import DrillKind
    from leitstand.bootstrap import build
    from leitstand.errors import LeitstandError
    from leitstand.settings import Settings

    systems = {
        "enterprise-api": {
            "database": {
                "data_dir": str(tmp_path / "pgdata"),
                "host": str(tmp_path / "nosocket"),
                "port": 5999,
            }
        }
    }
    container = build(
        Settings(home=tmp_path / "home"),
        clock=ManualClock(),
        policy=_policy(systems),
        migrate=True,
    )
    try:
        _user, token = container.auth.add_user(name="dora", role=Role.DEVOPS, actor=ADMIN)
        auth = {"Authorization": f"Bearer {token}"}
        with TestClient(create_app(container), base_url="http://127.0.0.1") as client:
            no_backup = client.post(
                "/api/v1/backups/drills",
                json={"kind": "pitr", "system": "enterprise-api", "target": "2020-01-01T00:00Z"},
                headers=auth,
            )
            unknown = client.post(
                "/api/v1/backups/drills",
                json={"kind": "full-restore", "system": "no-such-system"},
                headers=auth,
            )
        assert no_backup.status_code == 422, no_backup.text
        assert no_backup.json()["issues"][0]["path"] in ("system", "target")
        assert "enterprise-api" in no_backup.json()["error"]
        assert unknown.status_code == 422 and "no-such-system" in unknown.json()["error"]
        assert _actions(container, "backups.drill.requested") == 0
        with pytest.raises(LeitstandError):  # the scheduler's job: nobody sees the error
            container.drills.run(
                kind=DrillKind.PITR, system="enterprise-api", actor=ADMIN, trigger="schedule"
            )
        [alert] = _alerts(container, "RecoveryDrillFailed")
        assert alert.severity == "critical" and "could not start" in alert.summary
        assert _actions(container, "backups.drill.refused") == 1
    finally:
        container.close()
