"""The steps of a recovery drill, measured phase by phase, in a segregated scratch folder.

A drill restores into its own data directory, on its own port and socket, with WAL archiving
off, so it never writes into a backup repository or touches its source. Whatever happens
(a failed check, an engine error, Ctrl-C), ``close()`` stops the copy and removes the folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from psycopg import sql

from leitstand.backups.engines.gitconfig import GitConfigEngine
from leitstand.backups.engines.pgbackrest import PgBackRestEngine
from leitstand.backups.engines.restic import ResticEngine
from leitstand.backups.fsutil import blocking_ancestor, ensure_dir, owner_ids, remove_tree
from leitstand.backups.model import Check, DrillKind, Phase, Site
from leitstand.backups.postgres import Cluster, connect, socket_folder
from leitstand.backups.process import EngineError, Runner
from leitstand.backups.scratch import free_local_port
from leitstand.policy.backup_targets import DatabaseTarget, Invariant

__all__ = ["DrillRun", "DrillSetup"]

Progress = Callable[[str], None]


@dataclass
class DrillSetup:
    """Everything a drill needs, resolved by the service."""

    kind: DrillKind
    system: str
    site: Site
    database: DatabaseTarget
    pgbackrest: PgBackRestEngine
    files: ResticEngine | None
    secrets: ResticEngine | None
    configuration: GitConfigEngine | None
    scratch_root: Path
    runner: Runner
    timeout: float
    progress: Progress
    started: datetime
    #: The newest point the database can be restored to (files must not be newer).
    restorable_until: datetime | None = None
    consistency_sql: str | None = None


@dataclass
class DrillRun:
    """Executes one drill and collects phases, checks, deviations and facts."""

    setup: DrillSetup
    phases: list[Phase] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    deviations: list[dict[str, Any]] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    cluster: Cluster | None = None
    folder: Path | None = None

    # -- bookkeeping ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def phase(self, name: str, *, counts_for_rto: bool = True) -> Iterator[None]:
        self.setup.progress(name)
        started = time.monotonic()
        try:
            yield
        finally:
            self.phases.append(Phase(name, round(time.monotonic() - started, 3), counts_for_rto))

    def check(
        self, name: str, ok: bool, detail: str = "", *, skipped: bool = False, **values: object
    ) -> bool:
        self.checks.append(Check(name, ok, detail, skipped, values))
        return ok

    def deviation(self, key: str, detail: str = "", **values: object) -> None:
        self.deviations.append({"key": key, "detail": detail, "values": values})

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.ok or c.skipped for c in self.checks)

    # -- the steps -----------------------------------------------------------------------------

    def provision(self) -> Cluster:
        s = self.setup
        owner = owner_ids(s.database.os_user)
        stamp = s.started.astimezone(UTC).strftime("%Y%m%d%H%M%S")
        ensure_dir(s.scratch_root, owner=owner)
        blocked = blocking_ancestor(s.scratch_root, s.database.os_user)
        if blocked is not None:
            raise EngineError(
                f"OS user {s.database.os_user} cannot reach the drill folder {s.scratch_root} "
                f"({blocked} is closed to it): set backups.drills.scratch_dir to a folder it can "
                "enter"
            )
        folder = s.scratch_root / f"{s.system}-{s.kind.value}-{stamp}-{secrets.token_hex(3)}"
        self.folder = ensure_dir(folder, owner=owner)
        self.cluster = Cluster(
            data_dir=folder / "data",
            socket_dir=socket_folder(folder / "run"),
            port=free_local_port(),
            bin_dir=s.database.bin_dir,
            runner=s.runner,
            os_user=s.database.os_user,
            superuser=s.database.user,
        )
        self.cluster.prepare_dirs()
        self.facts["scratch"] = {
            "folder": str(folder),
            "port": self.cluster.port,
            "socket": str(self.cluster.socket_dir),
            "archive_mode": "off",
            "listen_addresses": "",
        }
        return self.cluster

    def restore_database(
        self,
        *,
        set_label: str | None = None,
        until: datetime | None = None,
        immediate: bool = False,
    ) -> None:
        assert self.cluster is not None
        self.setup.pgbackrest.restore(
            site=self.setup.site,
            data_dir=self.cluster.data_dir,
            set_label=set_label,
            until=until,
            immediate=immediate,
        )
        self.cluster.segregate()

    def reset_copy(self) -> None:
        """Throw the copy away for a second restore attempt."""
        assert self.cluster is not None
        self.cluster.kill()
        remove_tree(self.cluster.data_dir)
        self.cluster.prepare_dirs()

    def start_and_recover(self) -> None:
        assert self.cluster is not None
        self.cluster.start(timeout=self.setup.timeout)
        waited = self.cluster.wait_writable(
            timeout=self.setup.timeout, dbname=self.setup.database.dbname
        )
        self.check(
            "recovery_left", True, f"writable after {waited:.2f} s", seconds=round(waited, 2)
        )

    def verify_database(self) -> None:
        assert self.cluster is not None
        d = self.setup.database
        address = self.cluster.address(d.dbname)
        with connect(address) as conn:
            counts = _row_counts(conn)
            self.facts["row_counts"] = counts
            total = sum(counts.values())
            self.check(
                "row_counts",
                True,
                f"{len(counts)} tables, {total} rows",
                tables=len(counts),
                rows=total,
            )
            for invariant in d.invariants:
                self._invariant(conn, invariant)

    def _invariant(self, conn: Any, invariant: Invariant) -> None:
        name = f"invariant:{invariant.name}"
        try:
            row = conn.execute(invariant.sql).fetchone()
        except Exception as exc:
            error = " ".join(str(exc).split())[:300]
            self.check(name, False, error, error=error)
            return
        value = row[0] if row else None
        ok = isinstance(value, int | float)
        if ok and invariant.expect is not None:
            ok = value == invariant.expect
        if ok and invariant.min is not None:
            ok = value >= invariant.min  # type: ignore[operator]
        if ok and invariant.max is not None:
            ok = value <= invariant.max  # type: ignore[operator]
        bounds = ", ".join(
            f"{k} {v}"
            for k, v in (("=", invariant.expect), (">=", invariant.min), ("<=", invariant.max))
            if v is not None
        )
        self.check(name, ok, f"{value} ({bounds})", value=value, bounds=bounds)

    def verify_pitr(self, target: datetime) -> None:
        """Exactly the rows that existed at ``target``: compared with the source's rows."""
        assert self.cluster is not None
        check = self.setup.database.pitr_check
        if check is None:
            self.check("pitr_rows", True, "no pitr_check table configured", skipped=True)
            return
        table = sql.Identifier(*check.table.split("."))
        key, column = sql.Identifier(check.key_column), sql.Identifier(check.time_column)
        digest = sql.SQL(
            "SELECT count(*), coalesce(md5(string_agg({k}::text, ',' ORDER BY {k})), '') FROM {t}"
        ).format(k=key, t=table)
        upto = digest + sql.SQL(" WHERE {c} <= %s").format(c=column)
        later = sql.SQL("SELECT count(*) FROM {t} WHERE {c} > %s").format(t=table, c=column)
        with connect(self.cluster.address(self.setup.database.dbname)) as conn:
            restored = conn.execute(digest).fetchone()
            after = conn.execute(later, (target,)).fetchone()
        self.facts["pitr_rows"] = {"restored": int(restored[0]), "after_target": int(after[0])}
        self.check(
            "pitr_no_later_rows",
            int(after[0]) == 0,
            f"{after[0]} rows in {check.table} after the target",
            rows=int(after[0]),
            table=check.table,
        )
        try:
            with connect(self.setup.pgbackrest.address()) as conn:
                source = conn.execute(upto, (target,)).fetchone()
        except EngineError as exc:
            self.check("pitr_rows", True, f"source unreachable: {exc.message}", skipped=True)
            return
        self.facts["pitr_rows"]["source_at_target"] = int(source[0])
        same = (int(source[0]), source[1]) == (int(restored[0]), restored[1])
        self.check(
            "pitr_rows",
            same,
            f"{restored[0]} rows restored, {source[0]} in the source up to the target "
            f"(key digest {'equal' if same else 'different'})",
            restored=int(restored[0]),
            source=int(source[0]),
            table=check.table,
        )

    def stop_and_checksum(self) -> None:
        assert self.cluster is not None
        self.cluster.stop(mode="fast", timeout=self.setup.timeout)
        ok, detail = self.cluster.checksums()
        if not ok and "not enabled" in detail:
            self.check("checksums", True, "data checksums are not enabled", skipped=True)
            self.deviation("checksums_disabled", detail)
            return
        self.check("checksums", ok, detail, summary=detail)

    def restore_files(
        self, engine: ResticEngine, *, label: str, not_after: datetime | None = None
    ) -> tuple[Path, str, datetime]:
        """Restore the newest snapshot (taken no later than ``not_after``, when given)."""
        assert self.folder is not None
        snapshots = [
            s for s in engine.snapshots(self.setup.site) if not_after is None or s.time <= not_after
        ]
        if not snapshots:
            raise EngineError(
                f"no {engine.purpose} snapshot on site {self.setup.site.value} within the "
                "database's recovery window"
            )
        snap = snapshots[-1]
        target = self.folder / label
        ensure_dir(target)
        engine.restore(site=self.setup.site, snapshot=snap.id, target=target)
        self.facts[f"{label}_snapshot"] = {"id": snap.id[:8], "time": snap.time.isoformat()}
        return target, snap.id, snap.time

    def verify_consistency(self, files_root: Path) -> None:
        """Every file the database refers to exists in the restored files (and matches)."""
        assert self.cluster is not None
        query = self.setup.consistency_sql
        if query is None:
            self.check("consistency", True, "no files.consistency query", skipped=True)
            return
        sources = list(self.setup.files.paths) if self.setup.files is not None else []
        with connect(self.cluster.address(self.setup.database.dbname)) as conn:
            rows = conn.execute(query).fetchall()
        missing, mismatched = [], []
        for row in rows:
            path = _restored_path(files_root, sources, str(row[0]))
            if path is None or not path.is_file():
                missing.append(str(row[0]))
                continue
            if len(row) > 1 and row[1]:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                if digest != str(row[1]).lower():
                    mismatched.append(str(row[0]))
        ok = not missing and not mismatched
        detail = f"{len(rows)} file references checked"
        if missing:
            detail += f"; missing: {', '.join(missing[:5])}"
        if mismatched:
            detail += f"; checksum differs: {', '.join(mismatched[:5])}"
        self.check(
            "consistency",
            ok,
            detail,
            references=len(rows),
            missing=", ".join(missing[:5]),
            mismatched=", ".join(mismatched[:5]),
        )

    def close(self) -> None:
        """Stop the copy and remove the scratch folder, whatever happened."""
        with self.phase("cleanup", counts_for_rto=False):
            if self.cluster is not None:
                with contextlib.suppress(Exception):
                    self.cluster.kill()
            if self.folder is not None:
                remove_tree(self.folder)
        self.facts["cleaned_up"] = self.folder is None or not self.folder.exists()


def _row_counts(conn: Any) -> dict[str, int]:
    tables = conn.execute(
        "SELECT schemaname, relname FROM pg_stat_user_tables ORDER BY schemaname, relname LIMIT 200"
    ).fetchall()
    counts: dict[str, int] = {}
    for schema, name in tables:
        stmt = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, name))
        counts[f"{schema}.{name}"] = int(conn.execute(stmt).fetchone()[0])
    return counts


def _restored_path(root: Path, sources: list[Path], value: str) -> Path | None:
    candidate = Path(value)
    if candidate.is_absolute():
        return root / candidate.relative_to(candidate.anchor)
    if not sources:
        return None
    base = sources[0]
    return root / base.relative_to(base.anchor) / candidate
