"""The logs service: render the engines' configuration, seal, verify and expire segments, search.

Every rotated segment is sealed once: its SHA-256 and size go into the ledger
(``log.segment_sealed``) and the ``log_segments`` table in one transaction. ``verify`` compares
each live segment with its seal (and the seal with its ledger entry) and names every segment
that was deleted, truncated or changed. ``expire`` deletes segments older than their type's
retention (``log.segment_expired``), except under legal hold. ``search`` admits only the type's
readers and records every read of audit and security logs (``log.read``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from leitstand.clock import Clock, ensure_utc
from leitstand.db import Database
from leitstand.errors import ForbiddenError, Issue, ValidationError
from leitstand.identity import Actor
from leitstand.ledger.canonical import Entry
from leitstand.ledger.service import EntryQuery, Ledger
from leitstand.logs import store
from leitstand.logs.engines import LogEngines, find_log_engines
from leitstand.logs.model import LogTypeSpec, Paths, is_segment_of, log_types
from leitstand.logs.render import RenderReport, render
from leitstand.logs.schemas import (
    ExpireOut,
    LogLineOut,
    LogSearchOut,
    LogTypeOut,
    SegmentOut,
    SegmentProblemOut,
    VerifyOut,
)
from leitstand.logs.segments import seal_digest
from leitstand.policy.log_streams import Rotation
from leitstand.policy.model import Policy

__all__ = ["EXPIRED", "READ", "SEALED", "LogService"]

SEALED = "log.segment_sealed"
EXPIRED = "log.segment_expired"
READ = "log.read"
_MAX_LINES = 10_000


def _segment(row: store.LogSegmentRow) -> SegmentOut:
    return SegmentOut(
        log_type=row.log_type,
        path=row.path,
        sha256=row.sha256,
        size=row.size,
        sealed_at=row.sealed_at,
        ledger_index=row.ledger_index,
    )


class LogService:
    """Log management on the policy's log types (``logs.retention`` and ``logs.streams``)."""

    def __init__(
        self,
        *,
        db: Database,
        ledger: Ledger,
        clock: Clock,
        policy: Policy,
        home: Path,
        engines: LogEngines | None = None,
    ) -> None:
        self.db = db
        self.ledger = ledger
        self.clock = clock
        self.policy = policy
        self.home = home
        self.engines = engines or find_log_engines()

    # -- the log types ---------------------------------------------------------------------

    @property
    def directory(self) -> Path:
        """Where the streams and their segments are (``logs.streams.directory``)."""
        folder = Path(self.policy.logs.streams.directory)
        return (folder if folder.is_absolute() else self.home / folder).resolve()

    def paths(self, *, port: int | None = None) -> Paths:
        directory = self.directory
        return Paths(
            directory=directory,
            pid_file=directory / ".rsyslog" / "rsyslogd.pid",
            work_directory=directory / ".rsyslog",
            port=port or self.policy.logs.streams.port,
        )

    def specs(self, *, environment: str | None = None) -> list[LogTypeSpec]:
        return log_types(self.policy.logs, environment=environment)

    def spec(self, key: str) -> LogTypeSpec:
        for spec in self.specs():
            if spec.key == key:
                return spec
        known = ", ".join(s.key for s in self.specs())
        raise ValidationError([Issue("type", f"a log type of the policy: {known} (got {key!r})")])

    def types(self, *, environment: str | None = None) -> list[LogTypeOut]:
        return [
            LogTypeOut(
                key=s.key,
                retention_days=s.retention_days,
                file=s.stream.file,
                rotation=s.stream.rotation.value,
                max_size=s.stream.max_size if s.stream.rotation is Rotation.SIZE else None,
                readers=[r.value for r in s.stream.readers],
                legal_hold=s.stream.legal_hold,
                environments=list(s.environments),
                reads_recorded=s.record_reads,
            )
            for s in self.specs(environment=environment)
        ]

    def render(
        self, *, out: Path, environment: str | None = None, port: int | None = None
    ) -> RenderReport:
        """Write rsyslog.conf and logrotate.conf into ``out``, checked by the engines first."""
        return render(
            self.specs(environment=environment),
            self.paths(port=port),
            out=out,
            engines=self.engines,
        )

    # -- sealing ---------------------------------------------------------------------------

    def _segments_on_disk(self) -> Iterator[tuple[LogTypeSpec, Path]]:
        directory = self.directory
        if not directory.is_dir():
            return
        names = sorted(p.name for p in directory.iterdir() if p.is_file())
        for spec in self.specs():
            for name in names:
                if is_segment_of(spec.stream.file, name):
                    yield spec, directory / name

    def seal(self, *, actor: Actor) -> list[SegmentOut]:
        """Seal every rotated segment not sealed yet: digest and size into ledger and table."""
        sealed: list[SegmentOut] = []
        for spec, path in self._segments_on_disk():
            with self.db.reader() as session:
                if store.segment_by_path(session, str(path)) is not None:
                    continue
            sha256, size = seal_digest(path)
            with self.db.transaction() as session:
                if store.segment_by_path(session, str(path)) is not None:
                    continue
                entry = self.ledger.record(
                    session,
                    actor,
                    SEALED,
                    f"log:{spec.key}/{path.name}",
                    payload={
                        "log_type": spec.key,
                        "path": str(path),
                        "sha256": sha256,
                        "size": size,
                    },
                )
                row = store.insert_segment(
                    session,
                    store.LogSegmentRow(
                        log_type=spec.key,
                        path=str(path),
                        sha256=sha256,
                        size=size,
                        sealed_at=self.clock.now(),
                        ledger_index=entry.index,
                    ),
                )
                sealed.append(_segment(row))
        return sealed

    def segments(self, *, log_type: str | None = None) -> list[SegmentOut]:
        with self.db.reader() as session:
            return [_segment(r) for r in store.live_segments(session, log_type=log_type)]

    def verify(self) -> VerifyOut:
        """Compare every live segment with its seal, and each seal with its ledger entry."""
        with self.db.reader() as session:
            rows = [_segment(r) for r in store.live_segments(session)]
            entries = self.ledger.entries(session, EntryQuery(action=SEALED, limit=None))
        ledgered = {e.index: e for e in entries}
        problems: list[SegmentProblemOut] = []
        for row in rows:
            problem = self._check(row, ledgered)
            if problem is not None:
                problems.append(problem)
        return VerifyOut(ok=not problems, checked=len(rows), problems=problems)

    def _check(self, row: SegmentOut, ledgered: dict[int, Entry]) -> SegmentProblemOut | None:
        def found(problem: str, detail: str) -> SegmentProblemOut:
            return SegmentProblemOut(
                log_type=row.log_type, path=row.path, problem=problem, detail=detail
            )

        entry = ledgered.get(row.ledger_index)
        payload = entry.payload if entry is not None else {}
        if payload.get("sha256") != row.sha256 or payload.get("size") != row.size:
            return found(
                "seal_mismatch",
                f"the seal in the store differs from ledger entry {row.ledger_index}",
            )
        path = Path(row.path)
        if not path.is_file():
            return found("deleted", f"sealed with {row.size} bytes, now missing")
        sha256, size = seal_digest(path)
        if size < row.size:
            return found("truncated", f"sealed with {row.size} bytes, now {size}")
        if sha256 != row.sha256 or size != row.size:
            return found(
                "changed",
                f"sealed as sha256:{row.sha256} ({row.size} bytes), now sha256:{sha256} "
                f"({size} bytes)",
            )
        return None

    # -- retention -------------------------------------------------------------------------

    def expire(self, *, actor: Actor) -> ExpireOut:
        """Delete segments past their type's retention (evidence first); keep legal holds."""
        now = self.clock.now()
        specs = {s.key: s for s in self.specs()}
        expired: list[SegmentOut] = []
        held: list[SegmentOut] = []
        for segment in self.segments():
            spec = specs.get(segment.log_type)
            if spec is None or now - ensure_utc(segment.sealed_at) < spec.period:
                continue
            if spec.stream.legal_hold:
                held.append(segment)
                continue
            with self.db.transaction() as session:
                self.ledger.record(
                    session,
                    actor,
                    EXPIRED,
                    f"log:{segment.log_type}/{Path(segment.path).name}",
                    payload={
                        "log_type": segment.log_type,
                        "path": segment.path,
                        "sha256": segment.sha256,
                        "size": segment.size,
                        "sealed_at": segment.sealed_at.isoformat(),
                        "retention_days": spec.retention_days,
                    },
                )
                row = store.segment_by_path(session, segment.path)
                if row is not None:
                    store.mark_expired(session, row.id, now)
                # Deleted inside the transaction: a failed commit leaves the file, not a gap.
                Path(segment.path).unlink(missing_ok=True)
            expired.append(segment)
        return ExpireOut(expired=expired, held=held)

    # -- reading ---------------------------------------------------------------------------

    def search(
        self,
        *,
        actor: Actor,
        log_type: str,
        since: datetime | None = None,
        grep: str | None = None,
        limit: int = 200,
    ) -> LogSearchOut:
        """Lines of one log type (segments, then the live stream), if the actor may read it."""
        spec = self.spec(log_type)
        readers = {r.value for r in spec.stream.readers}
        if actor.role not in readers:
            raise ForbiddenError(
                f"role {actor.role!r} may not read {log_type} logs "
                f"(readers: {', '.join(sorted(readers))})"
            )
        if not 1 <= limit <= _MAX_LINES:
            raise ValidationError([Issue("limit", f"1 to {_MAX_LINES} (got {limit})")])
        if since is not None:
            since = ensure_utc(since if since.tzinfo else since.replace(tzinfo=UTC))
        lines: list[LogLineOut] = []
        truncated = False
        needle = grep.lower() if grep else None
        for source in self._sources(spec):
            for number, text, when in _read(source):
                if since is not None and (when is None or when < since):
                    continue
                if needle is not None and needle not in text.lower():
                    continue
                if len(lines) >= limit:
                    truncated = True
                    break
                lines.append(
                    LogLineOut(
                        log_type=log_type, source=source.name, line=number, time=when, text=text
                    )
                )
        if spec.record_reads:
            with self.db.transaction() as session:
                self.ledger.record(
                    session,
                    actor,
                    READ,
                    f"log:{log_type}",
                    payload={
                        "log_type": log_type,
                        "since": since.isoformat() if since else None,
                        "grep": grep,
                        "lines": len(lines),
                    },
                )
        return LogSearchOut(
            log_type=log_type, lines=lines, truncated=truncated, recorded=spec.record_reads
        )

    def _sources(self, spec: LogTypeSpec) -> list[Path]:
        sources = [Path(s.path) for s in self.segments(log_type=spec.key)]
        sources = [p for p in sources if p.is_file()]
        stream = self.directory / spec.stream.file
        if stream.is_file():
            sources.append(stream)
        return sources


def _read(path: Path) -> Iterator[tuple[int, str, datetime | None]]:
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, raw in enumerate(handle, start=1):
            text = raw.rstrip("\n")
            if text:
                yield number, text, _time_of(text)


def _time_of(text: str) -> datetime | None:
    try:
        data = json.loads(text)
        value = data.get("time") or data.get("timestamp") if isinstance(data, dict) else None
        return ensure_utc(datetime.fromisoformat(str(value).replace("Z", "+00:00")))
    except (ValueError, TypeError):
        return None
