"""The seed's five recovery tests as procedures over a DrillRun (phase names are German)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from leitstand.backups.drill_steps import DrillRun
from leitstand.backups.model import DrillKind
from leitstand.backups.postgres import connect
from leitstand.backups.process import EngineError

__all__ = ["PROCEDURES"]

PROVISION = "provision"
RESTORE = "restore_database"
RECOVERY = "recovery"
VERIFY = "verify"
CHECKSUMS = "checksums"


_NO_LATER_COMMIT = "recovery ended before configured recovery target was reached"


def restore_and_recover(run: DrillRun, *, until: datetime | None = None, **how: Any) -> None:
    """Restore and start the copy; a target after the archive's last commit means its end.

    PostgreSQL refuses a time target that no archived commit passes. Then every archived
    transaction is at or before the target, so recovering to the end of the archive gives
    exactly the state at the target; the Testprotokoll notes it.
    """
    with run.phase(RESTORE):
        run.restore_database(until=until, **how)
    try:
        with run.phase(RECOVERY):
            run.start_and_recover()
    except EngineError as exc:
        if until is None or _NO_LATER_COMMIT not in exc.message:
            raise
        run.facts["recovered_to"] = "end of the archive (no commit after the target)"
        run.checks[:] = [c for c in run.checks if c.name != "recovery_left"]
        with run.phase(RESTORE):
            run.reset_copy()
            run.restore_database(until=None)
        with run.phase(RECOVERY):
            run.start_and_recover()


def full_restore(run: DrillRun, target: datetime | None) -> None:
    with run.phase(PROVISION):
        run.provision()
    fulls = [p for p in run.setup.pgbackrest.points(run.setup.site.value) if p.kind == "full"]
    if not fulls:
        raise EngineError(f"no full backup on site {run.setup.site.value}")
    label = fulls[-1].id
    run.facts["backup_set"] = label
    restore_and_recover(run, set_label=label, immediate=True)
    with run.phase(VERIFY):
        run.verify_database()
    with run.phase(CHECKSUMS):
        run.stop_and_checksum()


def pitr(run: DrillRun, target: datetime | None) -> None:
    if target is None:
        raise EngineError("a point-in-time recovery needs a target time")
    run.facts["target_time"] = target.isoformat()
    with run.phase(PROVISION):
        run.provision()
    restore_and_recover(run, until=target)
    with run.phase(VERIFY):
        run.verify_database()
        run.verify_pitr(target)
    with run.phase(CHECKSUMS):
        run.stop_and_checksum()


def application_restore(run: DrillRun, target: datetime | None) -> None:
    files = run.setup.files
    if files is None:
        raise EngineError(f"{run.setup.system} has no files configured")
    with run.phase(PROVISION):
        run.provision()
    with run.phase("restore_files"):
        files_root, _, taken = run.restore_files(
            files, label="files", not_after=run.setup.restorable_until
        )
    # Uploads are never overwritten: the database as of the snapshot's start matches its files.
    run.facts["target_time"] = taken.isoformat()
    restore_and_recover(run, until=taken)
    with run.phase(VERIFY):
        run.verify_database()
        run.verify_consistency(files_root)
    with run.phase(CHECKSUMS):
        run.stop_and_checksum()


def failover(run: DrillRun, target: datetime | None) -> None:
    s = run.setup
    with run.phase(PROVISION):
        cluster = run.provision()
    with run.phase("standby", counts_for_rto=False):
        source = s.pgbackrest.address()
        env = {"PGPASSWORD": source.password} if source.password else {}
        s.runner.run(
            [
                cluster.tool("pg_basebackup"),
                "-h",
                source.host,
                "-p",
                str(source.port),
                "-U",
                source.user,
                "-D",
                str(cluster.data_dir),
                "-X",
                "stream",
                "-R",
                "-c",
                "fast",
                "--no-password",
            ],
            timeout=s.timeout,
            env=env,
            user=s.database.os_user,
            what="pg_basebackup",
        )
        cluster.segregate({"hot_standby": "on"})
        cluster.start(timeout=s.timeout)
        _wait_streaming(run)
    with run.phase("promote"):
        started = time.monotonic()
        cluster.run("pg_ctl", "-D", str(cluster.data_dir), "-w", "promote", timeout=s.timeout)
        cluster.wait_writable(timeout=s.timeout, dbname=s.database.dbname)
        with connect(cluster.address(s.database.dbname)) as conn:
            conn.execute("SELECT txid_current()")
        seconds = round(time.monotonic() - started, 3)
        run.facts["failover_seconds"] = seconds
        run.check("promoted", True, f"writable primary after {seconds:.2f} s", seconds=seconds)
    with run.phase(VERIFY):
        run.verify_database()
    with run.phase(CHECKSUMS):
        run.stop_and_checksum()


def _wait_streaming(run: DrillRun) -> None:
    assert run.cluster is not None
    deadline = time.monotonic() + min(run.setup.timeout, 300)
    while time.monotonic() < deadline:
        with connect(run.cluster.address(run.setup.database.dbname)) as conn:
            row = conn.execute("SELECT status FROM pg_stat_wal_receiver").fetchone()
        if row is not None and row[0] == "streaming":
            run.check("standby_streaming", True, "pg_stat_wal_receiver: streaming")
            return
        time.sleep(0.1)
    raise EngineError("the standby did not start streaming from its source")


def disaster_recovery(run: DrillRun, target: datetime | None) -> None:
    s = run.setup
    with run.phase(PROVISION):
        run.provision()
    until = None
    files_root = None
    if s.files is not None:
        with run.phase("restore_files"):
            files_root, _, until = run.restore_files(
                s.files, label="files", not_after=s.restorable_until
            )
        run.facts["target_time"] = until.isoformat()
    if s.secrets is not None:
        with run.phase("restore_secrets"):
            root, _, _ = run.restore_files(s.secrets, label="secrets")
            count = sum(1 for p in root.rglob("*") if p.is_file())
            run.check(
                "secrets_restored",
                count > 0,
                f"{count} files restored (restic restore --verify)",
                files=count,
            )
    if s.configuration is not None:
        with run.phase("configuration"):
            assert run.folder is not None
            cloned = s.configuration.clone(run.folder / "configuration")
            head, _ = s.configuration.head()
            run.check(
                "configuration_clone",
                cloned == head,
                f"commit {cloned[:12]}",
                commit=cloned[:12],
            )
    restore_and_recover(run, until=until)
    with run.phase(VERIFY):
        run.verify_database()
        if files_root is not None:
            run.verify_consistency(files_root)
    with run.phase(CHECKSUMS):
        run.stop_and_checksum()


PROCEDURES: dict[DrillKind, Callable[[DrillRun, datetime | None], None]] = {
    DrillKind.FULL_RESTORE: full_restore,
    DrillKind.PITR: pitr,
    DrillKind.APPLICATION_RESTORE: application_restore,
    DrillKind.FAILOVER: failover,
    DrillKind.DISASTER_RECOVERY: disaster_recovery,
}
