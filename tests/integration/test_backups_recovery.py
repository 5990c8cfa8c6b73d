"""Backups and recovery drills on a real PostgreSQL cluster with real pgBackRest, restic and git.

One scratch system serves the whole module (the clusters take seconds to set up): a database
with contracts, an append-only audit log and documents whose files are uploads; a git
configuration repository; a secrets folder. Every drill restores into its own scratch copy.
"""

from __future__ import annotations

import json
import stat
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from leitstand.app import create_app
from leitstand.backups.engines.factory import build_engine
from leitstand.backups.model import DrillKind, Site
from leitstand.backups.postgres import archive_status, switch_and_archive
from leitstand.backups.process import CommandResult, Runner
from leitstand.clock import SystemClock
from leitstand.errors import NotFoundError, ValidationError
from leitstand.ledger.service import EntryQuery
from leitstand.policy.continuity import BackupData, BackupMethod
from leitstand.policy.model import Policy, default_policy
from support.backups_lab import ADMIN, LabSystem, backup_lab, sha256_file

pytestmark = pytest.mark.integration

SCHEMA = """
CREATE TABLE contracts (id int PRIMARY KEY, amount numeric(12, 2) NOT NULL);
INSERT INTO contracts SELECT g, g * 1.5 FROM generate_series(1, 2000) AS g;
CREATE TABLE audit_log (
    id bigserial PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    what text NOT NULL
);
CREATE TABLE documents (id serial PRIMARY KEY, path text NOT NULL, sha256 text NOT NULL);
"""


def _upload(lab: LabSystem, name: str, content: bytes) -> None:
    path = lab.root / "files" / "uploads" / name
    path.write_bytes(content)
    lab.sql("INSERT INTO documents (path, sha256) VALUES (%s, %s)", (name, sha256_file(path)))


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabSystem]:
    home = tmp_path_factory.mktemp("backups") / "home"
    extra = {"files": {"consistency": {"sql": "SELECT path, sha256 FROM documents ORDER BY id"}}}
    database = {
        "invariants": [
            {"name": "contracts", "sql": "SELECT count(*) FROM contracts", "min": 1},
            {
                "name": "no negative amounts",
                "sql": "SELECT count(*) FROM contracts WHERE amount < 0",
                "expect": 0,
            },
        ],
        "pitr_check": {"table": "audit_log", "time_column": "created_at", "key_column": "id"},
    }
    base = default_policy().model_copy(deep=True)
    data = base.model_dump(mode="json")
    data["backups"]["drills"]["timeout"] = "2m"
    with backup_lab(
        home=home,
        base=Policy.model_validate(data),
        configuration=True,
        secrets=True,
        extra=extra,
        database=database,
    ) as system:
        system.sql(SCHEMA)
        _upload(system, "contract-0001.pdf", b"%PDF-1.4 first contract\n")
        _upload(system, "contract-0002.pdf", b"%PDF-1.4 second contract\n")
        for row in ("database_full", "files", "secrets", "configuration"):
            view = system.backup(row)
            assert view.status == "succeeded", (row, view.error)
        yield system


def _entries(lab: LabSystem, action: str) -> list[dict[str, object]]:
    with lab.container.db.reader() as session:
        found = lab.container.ledger.entries(session, EntryQuery(action=action, limit=1000))
    return [e.as_dict() for e in found]


def test_a_full_backup_lands_on_both_sites_verified_and_recorded(lab: LabSystem) -> None:
    run = lab.container.backups.runs(system=lab.system, row="database_full", limit=1)[0]
    assert run.status == "succeeded"
    assert run.engine == "pgbackrest" and run.method == "full"
    assert run.finished_at is not None and run.finished_at >= run.started_at
    assert run.size_bytes and run.size_bytes > 1_000_000
    assert [s["site"] for s in run.sites] == ["primary", "secondary"]
    engine = lab.engine(BackupData.DATABASE)
    for site in run.sites:
        assert site["ok"] and site["engine_id"].endswith("F")
        labels = [p.id for p in engine.points(site["site"])]
        assert site["engine_id"] in labels
    assert [c["ok"] for c in run.verification] == [True, True]
    assert {c["name"] for c in run.verification} == {
        "pgbackrest verify (primary)",
        "pgbackrest verify (secondary)",
    }
    recorded = [
        e for e in _entries(lab, "backups.run.succeeded") if e["subject"] == f"backup_run:{run.id}"
    ]
    assert len(recorded) == 1
    payload = recorded[0]["payload"]
    assert isinstance(payload, dict)
    assert payload["sites"][0]["engine_id"] == run.sites[0]["engine_id"]
    assert payload["started_at"] and payload["finished_at"] and payload["size_bytes"]


def test_files_secrets_and_configuration_complete_the_six_rows(lab: LabSystem) -> None:
    files = lab.container.backups.runs(system=lab.system, row="files", limit=1)[0]
    assert files.engine == "restic" and files.status == "succeeded"
    restic = lab.engine(BackupData.FILES)
    for site in Site:
        snapshot_ids = [p.id[:8] for p in restic.points(site.value)]
        assert next(s["engine_id"] for s in files.sites if s["site"] == site.value) in snapshot_ids
        assert (
            lab.root / "sites" / site.value / "restic" / f"{lab.system}-files" / "config"
        ).exists()
    secrets = lab.container.backups.runs(system=lab.system, row="secrets", limit=1)[0]
    assert secrets.status == "succeeded" and len(secrets.sites) == 2
    configuration = lab.container.backups.runs(system=lab.system, row="configuration", limit=1)[0]
    head = lab.engine(BackupData.CONFIGURATION).head()[0]
    assert configuration.sites[0]["engine_id"] == head
    assert configuration.verification[0]["detail"] == "history intact"
    rows = lab.container.backups.runnable_rows(lab.system)
    assert rows == ["database_full", "database_incremental", "files", "configuration", "secrets"]


def test_uncommitted_configuration_changes_fail_the_configuration_backup(lab: LabSystem) -> None:
    stray = lab.root / "config" / "hotfix.yaml"
    stray.write_text("debug: true\n")
    try:
        run = lab.backup("configuration")
    finally:
        stray.unlink()
    assert run.status == "failed"
    assert "uncommitted changes" in (run.error or "") and "hotfix.yaml" in (run.error or "")
    assert lab.backup("configuration").status == "succeeded"


def test_an_incremental_backup_builds_on_the_full_one(lab: LabSystem) -> None:
    lab.sql("INSERT INTO contracts SELECT g, 1 FROM generate_series(5001, 5100) AS g")
    run = lab.backup("database_incremental")
    assert run.status == "succeeded", run.error
    assert all(s["engine_id"].endswith("I") for s in run.sites)


def test_archiving_now_waits_for_the_closed_segment_while_writes_go_on(lab: LabSystem) -> None:
    # WAL keeps coming (here a writer; on an idle server checkpoints and the running-transaction
    # record every 15 s), so "nothing pending" may never hold; the closed segment is what counts.
    stop = threading.Event()

    def write() -> None:
        while not stop.is_set():
            lab.sql("INSERT INTO audit_log (what) VALUES ('background write')")
            stop.wait(0.01)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        stop.wait(0.2)
        segment = switch_and_archive(lab.cluster.address())
        stop.wait(0.2)
    finally:
        stop.set()
        writer.join(10)
    status = archive_status(lab.cluster.address())
    assert status.last_archived_wal is not None and status.last_archived_wal[:24] >= segment
    assert status.pending_bytes > 0  # the writes after the switch are in the next segment
    # The next switch makes those writes restorable too.
    lab.archive_now()
    assert archive_status(lab.cluster.address()).last_archived_wal[:24] > segment  # type: ignore[index]


def test_pitr_restores_exactly_the_rows_that_existed_at_the_target_time(lab: LabSystem) -> None:
    for what in ("login anna", "export contracts", "login ben"):
        lab.sql("INSERT INTO audit_log (what) VALUES (%s)", (what,))
    target = lab.sql("SELECT clock_timestamp()")[0][0]
    lab.sql("SELECT pg_sleep(0.2)")
    lab.sql("INSERT INTO audit_log (what) VALUES ('late row 1'), ('late row 2')")
    lab.archive_now()
    expected = lab.sql("SELECT count(*) FROM audit_log WHERE created_at <= %s", (target,))[0][0]

    view = lab.container.drills.run(
        kind=DrillKind.PITR, system=lab.system, actor=ADMIN, target=target
    )

    protocol = view.protocol or {}
    assert view.status == "passed", protocol.get("checks")
    checks = {c["name"]: c for c in protocol["checks"]}
    assert checks["pitr_rows"]["ok"] and checks["pitr_rows"]["values"]["restored"] == expected
    assert checks["pitr_no_later_rows"]["values"]["rows"] == 0
    assert checks["checksums"]["ok"]
    assert protocol["row_counts"]["public.audit_log"] == expected
    assert protocol["target_time"] == target.isoformat()
    assert [p["name"] for p in protocol["phases"]] == [
        "provision",
        "restore_database",
        "recovery",
        "verify",
        "checksums",
        "cleanup",
    ]
    assert protocol["scratch"]["archive_mode"] == "off"
    assert protocol["scratch"]["port"] != lab.cluster.port
    entry = [e for e in _entries(lab, "backups.drill.passed") if e["subject"] == f"drill:{view.id}"]
    assert entry and entry[0]["payload"]["protocol"]["drill_id"] == view.id  # type: ignore[index]
    markdown = entry[0]["payload"]["markdown"]  # type: ignore[index]
    assert markdown.startswith("# Testprotokoll – Point-in-Time-Recovery")
    assert "| Ergebnis | **BESTANDEN** |" in markdown
    assert "Dauer je Phase" in markdown and "Abweichungen" in markdown
    english = lab.container.drills.markdown(view.id, "en")
    assert english.startswith("# Test record – Point-in-time recovery") and "**PASSED**" in english


def test_a_dropped_table_comes_back_with_pitr(lab: LabSystem) -> None:
    lab.sql("CREATE TABLE payouts (id int PRIMARY KEY)")
    lab.sql("INSERT INTO payouts SELECT generate_series(1, 321)")
    lab.archive_now()
    target = lab.sql("SELECT clock_timestamp()")[0][0]
    lab.sql("SELECT pg_sleep(0.2)")
    lab.sql("DROP TABLE payouts")
    lab.archive_now()

    view = lab.container.drills.run(
        kind=DrillKind.PITR, system=lab.system, actor=ADMIN, target=target
    )

    assert view.status == "passed"
    assert (view.protocol or {})["row_counts"]["public.payouts"] == 321
    assert not lab.sql("SELECT 1 FROM pg_tables WHERE tablename = 'payouts'")


def test_a_target_outside_the_recovery_window_is_refused_before_anything_runs(
    lab: LabSystem,
) -> None:
    drills = lab.container.drills
    before = len(drills.drills(system=lab.system))
    repo = lab.root / "sites"
    listing = sorted(str(p) for p in repo.rglob("*"))
    for target in (
        SystemClock().now() + timedelta(hours=1),
        datetime(2020, 1, 1, tzinfo=UTC),
    ):
        with pytest.raises(ValidationError, match="outside the recovery window"):
            drills.run(kind=DrillKind.PITR, system=lab.system, actor=ADMIN, target=target)
    assert len(drills.drills(system=lab.system)) == before
    assert sorted(str(p) for p in repo.rglob("*")) == listing


def test_a_system_without_backup_configuration_is_a_clear_error(lab: LabSystem) -> None:
    with pytest.raises(NotFoundError, match=r"backups\.systems\.internal-tools"):
        lab.container.backups.run(system="internal-tools", row="database_full", actor=ADMIN)
    with pytest.raises(NotFoundError, match=r"has no backup configuration"):
        lab.container.drills.run(kind=DrillKind.PITR, system="enterprise-api", actor=ADMIN)
    with pytest.raises(ValidationError, match="continuous WAL archiving"):
        lab.container.backups.run(system=lab.system, row="database_wal", actor=ADMIN)


def test_a_full_restore_drill_passes_and_sets_the_rto_estimate(lab: LabSystem) -> None:
    view = lab.container.drills.run(kind=DrillKind.FULL_RESTORE, system=lab.system, actor=ADMIN)
    protocol = view.protocol or {}
    assert view.status == "passed", protocol.get("checks")
    assert protocol["facts"]["backup_set"].endswith("F")
    assert view.within_rto and view.total_seconds and view.total_seconds < 120
    names = [c["name"] for c in protocol["checks"]]
    assert "invariant:contracts" in names and "invariant:no negative amounts" in names
    objective = next(o for o in lab.container.backup_monitor.objectives() if o.system == lab.system)
    assert objective.rto_estimate is not None and objective.rto_status == "ok"


def test_failover_promotes_a_streaming_standby_to_a_writable_primary(lab: LabSystem) -> None:
    view = lab.container.drills.run(kind=DrillKind.FAILOVER, system=lab.system, actor=ADMIN)
    protocol = view.protocol or {}
    assert view.status == "passed", protocol.get("checks")
    names = [c["name"] for c in protocol["checks"]]
    assert names[:2] == ["standby_streaming", "promoted"]
    assert 0 < protocol["facts"]["failover_seconds"] < 60
    standby = next(p for p in protocol["phases"] if p["name"] == "standby")
    assert standby["counts_for_rto"] is False
    assert lab.sql("SELECT pg_is_in_recovery()")[0][0] is False


def test_application_restore_finds_database_and_files_consistent(lab: LabSystem) -> None:
    view = lab.container.drills.run(
        kind=DrillKind.APPLICATION_RESTORE, system=lab.system, actor=ADMIN
    )
    protocol = view.protocol or {}
    assert view.status == "passed", protocol.get("checks")
    consistency = next(c for c in protocol["checks"] if c["name"] == "consistency")
    assert consistency["values"]["references"] == 2
    assert protocol["facts"]["files_snapshot"]["id"]


def test_disaster_recovery_restores_everything_from_the_secondary_site(lab: LabSystem) -> None:
    view = lab.container.drills.run(
        kind=DrillKind.DISASTER_RECOVERY, system=lab.system, actor=ADMIN
    )
    protocol = view.protocol or {}
    assert view.status == "passed", protocol.get("checks")
    assert protocol["site"] == "secondary" and protocol["documentation"] == "full_dr_report"
    names = {c["name"] for c in protocol["checks"]}
    assert {"secrets_restored", "configuration_clone", "consistency", "checksums"} <= names
    markdown = lab.container.drills.markdown(view.id)
    assert markdown.startswith("# DR-Bericht (Disaster Recovery, voll)")
    assert "Sekundäres RZ DE" in markdown


def test_drills_leave_nothing_behind_in_the_scratch_folder(lab: LabSystem) -> None:
    scratch = lab.root / "drills"
    assert scratch.exists()
    assert list(scratch.iterdir()) == []


def test_rpo_is_measured_from_the_archiver_and_exported_as_metrics(lab: LabSystem) -> None:
    lab.archive_now()
    objectives = {o.system: o for o in lab.container.backup_monitor.measure(actor=ADMIN)}
    mine = objectives[lab.system]
    assert mine.rpo_status == "ok" and mine.rpo_measured is not None
    assert mine.rpo_measured < mine.rpo_seconds
    assert objectives["enterprise-api"].rpo_status == "not_configured"
    app = create_app(lab.container)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        text = client.get("/metrics").text
    assert 'leitstand_backup_rpo_objective_seconds{system="enterprise-api"} 900.0' in text
    assert 'leitstand_backup_rto_objective_seconds{system="smart-bav-portal"} 14400.0' in text
    assert f'leitstand_backup_rpo_seconds{{system="{lab.system}"}}' in text
    assert f'leitstand_backup_rpo_breach{{system="{lab.system}"}} 0.0' in text
    assert f'leitstand_backup_rto_estimate_seconds{{system="{lab.system}"}}' in text
    assert (
        f'leitstand_backup_last_success_timestamp_seconds{{row="database_full",system="{lab.system}"}}'
        in text
    )


class RecordingRunner(Runner):
    """The real runner, remembering every argument list it ran."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__(secrets=secrets)
        self.calls: list[tuple[str, ...]] = []

    def run(self, args, **kwargs):  # type: ignore[no-untyped-def, override]
        self.calls.append(tuple(args))
        result: CommandResult = super().run(args, **kwargs)
        return result


def test_keys_never_reach_arguments_the_ledger_or_logs(lab: LabSystem) -> None:
    keys = [lab.container.backups.keys.get(n) for n in ("pgbackrest", "restic", "secrets")]
    runner = RecordingRunner(secrets=[])
    for data in (BackupData.DATABASE, BackupData.FILES):
        engine = build_engine(
            lab.policy.backups,
            lab.container.backups.targets(lab.system),
            data,
            keys=lab.container.backups.keys,
            runner=runner,
            home=lab.container.settings.home,
        )
        method = BackupMethod.INCREMENTAL
        assert all(r.ok for r in engine.backup(method))
    assert runner.calls
    for call in runner.calls:
        assert not any(key in arg for key in keys for arg in call), call
    with lab.container.db.reader() as session:
        bodies = [
            e.as_dict() for e in lab.container.ledger.entries(session, EntryQuery(limit=None))
        ]
    text = json.dumps(bodies)
    assert not any(key in text for key in keys)
    config = lab.root / "pgbackrest" / "pgbackrest.conf"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    logs = "".join(
        p.read_text(errors="replace") for p in (lab.root / "pgbackrest" / "log").glob("*")
    )
    assert logs and not any(key in logs for key in keys)
    for key_file in (lab.root / "keys").iterdir():
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert not any(key in lab.policy.model_dump_json() for key in keys)


def test_a_failed_drill_raises_a_critical_alert_and_informs_the_compliance_officer(
    lab: LabSystem,
) -> None:
    lab.sql("INSERT INTO documents (path, sha256) VALUES ('contract-9999.pdf', %s)", ("0" * 64,))
    try:
        assert lab.backup("files").status == "succeeded"
        lab.archive_now()
        view = lab.container.drills.run(
            kind=DrillKind.APPLICATION_RESTORE, system=lab.system, actor=ADMIN
        )
    finally:
        lab.sql("DELETE FROM documents WHERE path = 'contract-9999.pdf'")
    protocol = view.protocol or {}
    assert view.status == "failed", protocol.get("checks")
    checks = {c["name"]: c for c in protocol["checks"]}
    assert "consistency" in checks, protocol["checks"]
    consistency = checks["consistency"]
    assert not consistency["ok"] and "contract-9999.pdf" in consistency["values"]["missing"]
    markdown = lab.container.drills.markdown(view.id)
    assert "**NICHT BESTANDEN**" in markdown and "contract-9999.pdf" in markdown
    alerts = lab.container.alerting.queries.alert_list(status=None)
    failed = [a for a in alerts if a.name == "RecoveryDrillFailed"]
    assert failed and failed[0].severity == "critical"
    assert failed[0].labels["system"] == lab.system
    messages = lab.container.alerting.queries.notification_list()
    told = [m for m in messages if "compliance_officer" in m.roles]
    assert told and "Backup-Test fehlgeschlagen" in told[0].subject
    assert not list((lab.root / "drills").iterdir())


def test_every_evidence_entry_of_the_module_verifies(lab: LabSystem) -> None:
    report = lab.container.audit.verify(actor=ADMIN)
    assert report.ok
    assert Path(lab.container.settings.home).exists()
