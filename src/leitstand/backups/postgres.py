"""PostgreSQL access for backups: the source's archiver state, and scratch clusters for drills.

Scratch clusters are segregated from their source: their own data directory and port, a Unix
socket in their own folder, no TCP listener, and WAL archiving off, so a drill never writes into
a backup repository or collides with a running server.
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from leitstand.backups.fsutil import ensure_dir, owner_ids, remove_tree, write_private
from leitstand.backups.model import ArchiveStatus
from leitstand.backups.process import EngineError, Runner

__all__ = [
    "ARCHIVE_WAIT_S",
    "Cluster",
    "PgAddress",
    "archive_status",
    "connect",
    "segment_end_lsn",
    "socket_folder",
    "switch_and_archive",
]


@dataclass(frozen=True, slots=True)
class PgAddress:
    """How to reach a server: socket folder or host, port, role, database, password."""

    host: str
    port: int
    user: str
    dbname: str
    password: str | None = None

    def describe(self) -> str:
        return f"{self.user}@{self.host}:{self.port}/{self.dbname}"


@contextlib.contextmanager
def connect(address: PgAddress, *, timeout: int = 5, autocommit: bool = True) -> Iterator[Any]:
    """Open a connection; an unreachable server is a one-line EngineError."""
    try:
        conn = psycopg.connect(
            host=address.host,
            port=address.port,
            user=address.user,
            dbname=address.dbname,
            password=address.password,
            connect_timeout=timeout,
            autocommit=autocommit,
            application_name="leitstand-backups",
        )
    except psycopg.Error as exc:
        text = " ".join(str(exc).split())
        raise EngineError(f"database {address.describe()} is not reachable: {text[:300]}") from None
    try:
        yield conn
    finally:
        conn.close()


#: Unix socket paths are limited to 107 bytes; leave room for ``/.s.PGSQL.65535``.
_SOCKET_ROOM = 90
#: Where short socket folders go: every user can enter it (each folder is owner-only).
SHORT_TMP = Path("/tmp")  # noqa: S108 - a private mkdtemp folder, never a fixed name


def socket_folder(preferred: Path) -> Path:
    """``preferred`` when a socket path below it fits, else a short folder under /tmp."""
    if len(str(preferred)) <= _SOCKET_ROOM:
        return preferred
    return Path(tempfile.mkdtemp(prefix="lst-pg-", dir=SHORT_TMP))


#: How long to wait for a closed WAL segment to be archived. PostgreSQL's archiver tries
#: archive_command three times, one second apart, and after that waits up to 60 s
#: (PGARCH_AUTOWAKE_INTERVAL) before it tries again: one passing failure of the command (a
#: pgBackRest lock another command holds, a slow disk under load) costs a minute, so a wait
#: must outlast that and the retry.
ARCHIVE_WAIT_S = 150.0


def switch_and_archive(
    address: PgAddress, *, timeout: float = ARCHIVE_WAIT_S, poll: float = 0.05
) -> str:
    """Close the current WAL segment and wait until it is archived; returns its file name.

    This makes everything committed so far restorable. Waiting instead for "no WAL pending"
    is not enough: the server writes records of its own (checkpoints, the running-transactions
    record every 15 s) into the next segment, so the write position can move past the archived
    end at any moment and stay there until the next switch.
    """
    with connect(address) as conn:
        row = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()
    segment = str(row[0]).upper() if row else ""
    deadline = time.monotonic() + timeout
    while True:
        last = archive_status(address).last_archived_wal
        # Segment names order by timeline, then position; ``.history`` files are not segments.
        archived = _segment_name(last) if last else None
        if archived is not None and archived >= segment:
            return segment
        if time.monotonic() >= deadline:
            status = archive_status(address)
            failed = (
                f"; archive_command has failed {status.failed_count} time(s), last at "
                f"{status.last_failed_time}"
                if status.failed_count
                else ""
            )
            raise EngineError(
                f"WAL segment {segment} was not archived within {timeout:.0f}s "
                f"(last archived: {last or 'none'}{failed}); check archive_command and the "
                "server log"
            )
        time.sleep(poll)


def _segment_name(file_name: str) -> str | None:
    """The segment part (``TTTTTTTTXXXXXXXXYYYYYYYY``) of a WAL file name, upper case; None for
    files that name no segment (``.history``)."""
    name = file_name[:24].upper()
    if len(name) != 24 or any(ch not in "0123456789ABCDEF" for ch in name):
        return None
    return name


def segment_end_lsn(segment: str, segment_size: int) -> int | None:
    """The LSN just after a WAL segment file name (``TTTTTTTTXXXXXXXXYYYYYYYY``)."""
    name = _segment_name(segment)
    if name is None:
        return None
    log_id, seg_id = int(name[8:16], 16), int(name[16:24], 16)
    per_log = 0x100000000 // segment_size
    return (log_id * per_log + seg_id + 1) * segment_size


def archive_status(address: PgAddress) -> ArchiveStatus:
    """Read ``pg_stat_archiver`` and how much WAL is not archived yet."""
    with connect(address) as conn:
        row = conn.execute(
            "SELECT last_archived_wal, last_archived_time, last_failed_time, failed_count, "
            "pg_current_wal_lsn() - '0/0'::pg_lsn, "
            "(SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size') "
            "FROM pg_stat_archiver"
        ).fetchone()
        pending_segments = 0
        try:
            found = conn.execute(
                "SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'"
            ).fetchone()
            pending_segments = int(found[0]) if found else 0
        except psycopg.errors.InsufficientPrivilege:
            pending_segments = -1
    last_wal, last_time, failed_time, failed_count, current, seg_size = row
    end = segment_end_lsn(last_wal, int(seg_size)) if last_wal else None
    current_lsn = int(current)
    # Nothing archived yet: everything is pending.
    pending_bytes = current_lsn if end is None else max(0, current_lsn - end)
    if pending_segments < 0:
        pending_segments = pending_bytes // int(seg_size)
    return ArchiveStatus(
        last_archived_wal=last_wal,
        last_archived_time=last_time,
        last_failed_time=failed_time,
        failed_count=int(failed_count or 0),
        pending_segments=pending_segments,
        pending_bytes=pending_bytes,
    )


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, waiting to be reaped, counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    return status.rpartition(")")[2].split()[:1] != ["Z"]


@dataclass
class Cluster:
    """A scratch PostgreSQL cluster run as ``os_user`` (server programs refuse root)."""

    data_dir: Path
    socket_dir: Path
    port: int
    bin_dir: str
    runner: Runner
    os_user: str | None = "postgres"
    superuser: str = "postgres"
    started: bool = False

    @property
    def log_file(self) -> Path:
        return self.socket_dir / "postgres.log"

    def address(self, dbname: str = "postgres", user: str | None = None) -> PgAddress:
        return PgAddress(str(self.socket_dir), self.port, user or self.superuser, dbname)

    def tool(self, name: str) -> str:
        return self.runner.which(name, directory=self.bin_dir)

    def run(self, name: str, *args: str, timeout: float = 600, check: bool = True) -> Any:
        return self.runner.run(
            [self.tool(name), *args], timeout=timeout, user=self.os_user, check=check, what=name
        )

    def prepare_dirs(self) -> None:
        owner = owner_ids(self.os_user)
        ensure_dir(self.socket_dir, owner=owner)
        ensure_dir(self.data_dir, owner=owner)

    def initdb(self, *, wal_segment_mb: int = 16) -> None:
        self.prepare_dirs()
        self.run(
            "initdb",
            "-D",
            str(self.data_dir),
            f"--wal-segsize={wal_segment_mb}",
            "--data-checksums",
            "-A",
            "trust",
            "-U",
            self.superuser,
            "--no-instructions",
            timeout=300,
        )

    def settings(self, values: dict[str, str]) -> None:
        """Override settings in postgresql.auto.conf (read after postgresql.conf)."""
        auto = self.data_dir / "postgresql.auto.conf"
        current = auto.read_text(encoding="utf-8") if auto.exists() else ""
        lines = [ln for ln in current.splitlines() if ln.split("=", 1)[0].strip() not in values]
        lines += [f"{key} = {_quote(value)}" for key, value in values.items()]
        write_private(auto, "\n".join(lines) + "\n", owner=owner_ids(self.os_user))

    def segregate(self, extra: dict[str, str] | None = None) -> None:
        """Make a restored copy safe to start: own port and socket, no TCP, no archiving."""
        owner = owner_ids(self.os_user)
        if not (self.data_dir / "postgresql.conf").exists():
            write_private(self.data_dir / "postgresql.conf", "", owner=owner)
        # Only the socket folder (owner-only) admits anyone, so trust is safe on the copy.
        write_private(
            self.data_dir / "pg_hba.conf",
            "local all all trust\nlocal replication all trust\n",
            owner=owner,
        )
        values = {
            "port": str(self.port),
            "listen_addresses": "",
            "unix_socket_directories": str(self.socket_dir),
            "archive_mode": "off",
            "archive_command": "",
            "hba_file": str(self.data_dir / "pg_hba.conf"),
            "ident_file": str(self.data_dir / "pg_ident.conf"),
            "log_destination": "stderr",
            "logging_collector": "off",
            "shared_preload_libraries": "",
        }
        if not (self.data_dir / "pg_ident.conf").exists():
            write_private(self.data_dir / "pg_ident.conf", "", owner=owner)
        values.update(extra or {})
        self.settings(values)

    def start(self, *, timeout: float = 600) -> None:
        self.started = True
        try:
            self.run(
                "pg_ctl",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-w",
                "-t",
                str(int(timeout)),
                "start",
                timeout=timeout + 30,
            )
        except EngineError as exc:
            raise EngineError(f"{exc.message}; server log: {self.log_tail()}") from None

    def log_tail(self) -> str:
        """The server's last complaint (FATAL, PANIC or ERROR line) for a message."""
        try:
            lines = self.log_file.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return "no log"
        worst = [ln for ln in lines if any(k in ln for k in ("FATAL", "PANIC", "ERROR"))]
        return " | ".join((worst or lines)[-2:])[:600]

    def wait_writable(self, *, timeout: float = 600, dbname: str = "postgres") -> float:
        """Poll until the server has left recovery; returns the seconds waited."""
        started = time.monotonic()
        deadline = started + timeout
        last = ""
        while time.monotonic() < deadline:
            try:
                with connect(self.address(dbname), timeout=2) as conn:
                    row = conn.execute(
                        "SELECT pg_is_in_recovery(), CASE WHEN pg_is_in_recovery() "
                        "THEN pg_get_wal_replay_pause_state() ELSE '' END"
                    ).fetchone()
                    if row is not None and row[0] is False:
                        return time.monotonic() - started
                    if row is not None and row[1] == "paused":
                        raise EngineError(
                            "recovery paused instead of promoting: " + self.log_tail()
                        )
                    last = "still in recovery"
            except EngineError as exc:
                if exc.message.startswith("recovery paused"):
                    raise
                last = exc.message
            if (self.data_dir / "postmaster.pid").exists() is False:
                raise EngineError(f"the restored cluster stopped: {self.log_tail()}")
            time.sleep(0.05)
        raise EngineError(
            f"the restored cluster did not leave recovery in {timeout:.0f}s: {last}; "
            f"server log: {self.log_tail()}"
        )

    def stop(self, *, mode: str = "fast", timeout: float = 120) -> None:
        if not (self.data_dir / "postmaster.pid").exists():
            self.started = False
            return
        self.run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-m",
            mode,
            "-w",
            "-t",
            str(int(timeout)),
            "stop",
            timeout=timeout + 30,
        )
        self.started = False

    def kill(self) -> None:
        """Best effort, for cleanup: stop immediately, then signal the postmaster by PID."""
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists():
            self._drop_socket_folder()
            return
        pid: int | None = None
        with contextlib.suppress(ValueError, OSError, IndexError):
            pid = int(pid_file.read_text().splitlines()[0])
        with contextlib.suppress(Exception):
            self.stop(mode="immediate", timeout=60)
        if pid is not None and _alive(pid):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        if pid is not None:
            # Wait for the postmaster to be gone (its folder is removed next), not a guess.
            deadline = time.monotonic() + 60
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
        self._drop_socket_folder()

    def _drop_socket_folder(self) -> None:
        # A short socket folder outside the scratch folder (see socket_folder) goes too.
        if self.socket_dir.name.startswith("lst-pg-") and self.socket_dir.parent == SHORT_TMP:
            remove_tree(self.socket_dir)

    def checksums(self) -> tuple[bool, str]:
        """``pg_checksums --check`` on the stopped copy: (ok, summary)."""
        result = self.run("pg_checksums", "--check", "-D", str(self.data_dir), check=False)
        text = (result.stdout + result.stderr).strip()
        if result.ok:
            files = next(
                (ln.split(":", 1)[1].strip() for ln in text.splitlines() if "Files scanned" in ln),
                "?",
            )
            return True, f"{files} files scanned, 0 bad checksums"
        return False, self.runner.explain(result)

    def query(
        self, sql: str, params: Sequence[object] = (), *, dbname: str
    ) -> list[tuple[Any, ...]]:
        with connect(self.address(dbname)) as conn:
            return list(conn.execute(sql, params).fetchall())


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
