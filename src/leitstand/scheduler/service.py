"""The one scheduler of the control plane: durable timers claimed in a transaction.

A timer is a row with a due time. A firing claims the row (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, the database write lock on SQLite), runs the handler in a savepoint of the same
transaction and records the run, so the handler's database effects and the "fired" mark commit
together or not at all. A crash mid-firing rolls everything back and the timer fires again later;
a committed firing is never repeated, and several instances share one PostgreSQL without a leader.

Long duties (``register_long``) take a lease instead and run in worker threads outside any
transaction; see ``leitstand.scheduler.leases``.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog

from leitstand.clock import Clock
from leitstand.db import Database, Session
from leitstand.errors import ConflictError, Issue, LeitstandError, ValidationError
from leitstand.identity import Actor
from leitstand.scheduler import store
from leitstand.scheduler.leases import LeaseContext, LeaseRunner, LongHandler
from leitstand.scheduler.model import JobStatus, next_retry, parse_recurrence
from leitstand.scheduler.store import JobRow

__all__ = [
    "EvidenceWriter",
    "Handler",
    "JobContext",
    "JobView",
    "LeaseContext",
    "LongHandler",
    "ManyHandler",
    "Scheduler",
    "Timer",
]

log = structlog.get_logger(__name__)
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")


class EvidenceWriter(Protocol):
    """What the scheduler needs of the evidence ledger: record a failed duty.

    The scheduler sits below the ledger (the ledger's own duties are timers), so it names this
    capability instead of importing the ledger; ``leitstand.ledger.service.Ledger`` is one.
    """

    def record(
        self,
        session: Session,
        actor: Actor,
        action: str,
        subject: str,
        *,
        tenant: str | None = None,
        payload: Mapping[str, Any] | None = None,
    ) -> object: ...


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a handler gets: the open transaction and the timer that fired."""

    session: Session
    job_id: int
    kind: str
    key: str
    payload: Mapping[str, Any]
    due_at: datetime
    now: datetime
    instance: str


Handler = Callable[[JobContext], None]
#: The set-wise form of a handler: all due timers of one kind that a batch claimed together.
ManyHandler = Callable[[Sequence[JobContext]], None]


@dataclass(frozen=True, slots=True)
class Timer:
    """A one-shot timer to create (see ``Scheduler.schedule_many``)."""

    kind: str
    key: str
    due_at: datetime
    payload: Mapping[str, Any] | None = None
    max_attempts: int = 10


@dataclass(frozen=True, slots=True)
class JobView:
    """A timer as shown to operators."""

    id: int
    kind: str
    key: str
    status: str
    due_at: datetime
    recurrence: str | None
    attempts: int
    last_error: str | None
    fired_at: datetime | None
    fired_by: str | None
    lease_until: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "key": self.key,
            "status": self.status,
            "due_at": self.due_at.isoformat(),
            "recurrence": self.recurrence,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "fired_at": self.fired_at.isoformat() if self.fired_at else None,
            "fired_by": self.fired_by,
            "lease_until": self.lease_until.isoformat() if self.lease_until else None,
        }


class Scheduler:
    """Schedule, claim and fire durable timers."""

    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        ledger: EvidenceWriter,
        instance: str,
        retry_base: timedelta = timedelta(seconds=30),
        retry_cap: timedelta = timedelta(hours=1),
        workers: int = 2,
    ) -> None:
        self.db = db
        self.clock = clock
        self.ledger = ledger
        self.instance = instance
        self.retry_base = retry_base
        self.retry_cap = retry_cap
        self._handlers: dict[str, Handler] = {}
        self._many: dict[str, ManyHandler] = {}
        self._long: dict[str, tuple[LongHandler, timedelta]] = {}
        self.leases = LeaseRunner(db=db, clock=clock, workers=workers)

    # -- registration and scheduling -----------------------------------------------------------

    def register(self, kind: str, handler: Handler, *, many: ManyHandler | None = None) -> None:
        """Register the handler that fires timers of ``kind``.

        Args:
            kind: a dotted name such as ``alerting.escalate``.
            handler: runs inside the firing transaction; raise to have the firing retried.
            many: optionally, the same for all timers of ``kind`` that one batch claimed
                together (a thousand escalations due at once: one query per table instead of
                one per timer). If it raises, the batch falls back to ``handler`` per timer,
                so one bad timer still fails alone.
        """
        if kind in self._handlers or kind in self._long:
            raise ConflictError(f"a handler for {kind!r} is already registered")
        self._handlers[kind] = handler
        if many is not None:
            self._many[kind] = many

    def register_long(
        self, kind: str, handler: LongHandler, *, lease: timedelta = timedelta(minutes=5)
    ) -> None:
        """Register a long duty: it runs under a renewed lease, outside any transaction.

        Args:
            kind: a dotted name such as ``backups.run``.
            handler: opens its own transactions through ``ctx.db``; must be idempotent per key,
                because a crash makes it run again once the lease has expired.
            lease: how long a claim holds without renewal (renewed every third of it).
        """
        if kind in self._handlers or kind in self._long:
            raise ConflictError(f"a handler for {kind!r} is already registered")
        self._long[kind] = (handler, lease)

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(self._handlers) | frozenset(self._long)

    def schedule(
        self,
        session: Session,
        *,
        kind: str,
        key: str,
        due_at: datetime,
        payload: Mapping[str, Any] | None = None,
        max_attempts: int = 10,
        replace: bool = False,
    ) -> int:
        """Create a one-shot timer in the caller's transaction; idempotent per ``key``."""
        row, created = store.insert_or_get(
            session,
            JobRow(
                kind=kind,
                key=key,
                due_at=due_at,
                status=JobStatus.PENDING.value,
                payload=_dump(payload),
                recurrence=None,
                timezone="Europe/Berlin",
                attempts=0,
                max_attempts=max_attempts,
                created_at=self.clock.now(),
            ),
        )
        if not created and replace:
            row.due_at = due_at
            row.payload = _dump(payload)
            row.status = JobStatus.PENDING.value
            row.attempts = 0
        return row.id

    def schedule_many(self, session: Session, timers: Sequence[Timer]) -> None:
        """Create many one-shot timers in one statement; a key that exists is left alone.

        The batch form of ``schedule`` for hot paths (an Alertmanager delivery of 50 alerts arms
        50 escalation timers): ``INSERT ... ON CONFLICT (key) DO NOTHING`` on both backends, so
        a key another transaction created first is kept, as ``schedule`` would keep it.
        """
        if not timers:
            return
        now = self.clock.now()
        rows = [
            {
                "kind": t.kind,
                "key": t.key,
                "due_at": t.due_at,
                "status": JobStatus.PENDING.value,
                "payload": _dump(t.payload),
                "recurrence": None,
                "timezone": "Europe/Berlin",
                "attempts": 0,
                "max_attempts": t.max_attempts,
                "created_at": now,
            }
            for t in timers
        ]
        store.insert_timers(session, rows)

    def ensure_recurring(
        self,
        *,
        kind: str,
        key: str,
        recurrence: str,
        timezone: str = "Europe/Berlin",
        payload: Mapping[str, Any] | None = None,
    ) -> int:
        """Create or update a recurring timer (from the policy); unchanged ones keep their due."""
        try:
            rule = parse_recurrence(recurrence, timezone)
        except ValueError as exc:
            raise ValidationError([Issue(f"schedule.{key}", str(exc))]) from exc
        now = self.clock.now()
        with self.db.transaction() as session:
            row, created = store.insert_or_get(
                session,
                JobRow(
                    kind=kind,
                    key=key,
                    due_at=rule.next_after(now),
                    status=JobStatus.PENDING.value,
                    payload=_dump(payload),
                    recurrence=rule.expression,
                    timezone=rule.timezone,
                    attempts=0,
                    max_attempts=10,
                    created_at=now,
                ),
            )
            if not created and (row.recurrence, row.timezone) != (rule.expression, rule.timezone):
                row.recurrence = rule.expression
                row.timezone = rule.timezone
                row.due_at = rule.next_after(now)
                row.status = JobStatus.PENDING.value
            row.payload = _dump(payload)
            return row.id

    def cancel(self, session: Session, key: str) -> bool:
        """Cancel a pending timer; returns False when there was none."""
        return store.cancel(session, key)

    def cancel_prefix(self, session: Session, prefix: str) -> int:
        """Cancel every pending timer whose key starts with ``prefix``; returns how many."""
        return store.cancel_prefix(session, prefix)

    # -- firing --------------------------------------------------------------------------------

    def run_due(self, *, limit: int = 20, kinds: Collection[str] | None = None) -> int:
        """Fire up to ``limit`` due timers; returns how many fired.

        ``kinds`` restricts the firing to timers of those kinds (a command that waits for its
        own timers must not run other domains' duties on the way).
        """
        fired = 0
        while fired < limit:
            count = self._fire_batch(limit - fired, kinds)
            if count == 0:
                break
            fired += count
        return fired

    def _fire_batch(self, limit: int, kinds: Collection[str] | None = None) -> int:
        """Claim up to ``limit`` due timers in one transaction and fire them; one commit.

        Each handler runs in its own savepoint, so one failing handler rolls back only its own
        effects and is recorded as a failure (consecutive timers of a kind with a set-wise
        handler share one savepoint, and fall back to one each if it fails); the firings and
        their records commit together (a crash before the commit fires them all again, a
        committed firing never repeats).
        One commit for many timers is what keeps a burst (a thousand escalations due at once)
        from queueing behind a thousand commits.
        """
        now = self.clock.now()
        long_duties: list[tuple[LeaseContext, LongHandler, timedelta]] = []
        with self.db.transaction() as session:
            jobs = store.claim_due(session, now=now, limit=limit, kinds=kinds)
            run: list[JobRow] = []  # consecutive timers of one kind with a set-wise handler
            for job in jobs:
                if run and job.kind != run[0].kind:
                    self._fire_many(session, run, now)
                    run = []
                if job.status not in (JobStatus.PENDING.value, JobStatus.RUNNING.value):
                    continue  # cancelled or finished by an earlier handler of this batch
                if job.kind in self._long:
                    handler, lease = self._long[job.kind]
                    job.status = JobStatus.RUNNING.value
                    # A claim token per claim: a re-claim after an expired lease, even by this
                    # same instance, makes the earlier run's late result count for nothing.
                    job.claimed_by = f"{self.instance}#{uuid.uuid4().hex[:12]}"
                    job.lease_until = now + lease
                    long_duties.append((self._lease_context(job, now), handler, lease))
                    continue
                job.status = JobStatus.PENDING.value
                if job.kind in self._many:
                    run.append(job)
                    continue
                self._fire_one(session, job, now)
            if run:
                self._fire_many(session, run, now)
        for duty in long_duties:
            # Submitted only after the claim committed, so no other instance can take it.
            self.leases.submit(*duty, finish=self._finish_long)
        return len(jobs)

    def _lease_context(self, job: JobRow, now: datetime) -> LeaseContext:
        return LeaseContext(
            db=self.db,
            job_id=job.id,
            kind=job.kind,
            key=job.key,
            payload=json.loads(job.payload or "{}"),
            due_at=job.due_at,
            now=now,
            instance=self.instance,
            claim=job.claimed_by or "",
        )

    def _finish_long(self, context: LeaseContext, error: str | None) -> None:
        now = self.clock.now()
        with self.db.transaction() as session:
            job = store.job_for_update(session, context.job_id)
            if (
                job is None
                or job.status != JobStatus.RUNNING.value
                or job.claimed_by != context.claim
            ):
                log.warning("scheduler_lease_lost", key=context.key)
                return
            job.status = JobStatus.PENDING.value
            job.claimed_by = None
            job.lease_until = None
            if error is None:
                self._record_success(session, job, now)
            else:
                self._record_failure(session, job, now, _scrub(error))

    def _fire_one(self, session: Session, job: JobRow, now: datetime) -> None:
        error = self._run_handler(session, job, now)
        if error is None:
            self._record_success(session, job, now)
        else:
            self._record_failure(session, job, now, error)

    def _fire_many(self, session: Session, jobs: list[JobRow], now: datetime) -> None:
        """Fire timers of one kind set-wise; per timer when the set-wise handler fails."""
        jobs = [j for j in jobs if j.status == JobStatus.PENDING.value]
        if len(jobs) == 1:
            self._fire_one(session, jobs[0], now)
            return
        if not jobs:
            return
        try:
            with session.begin_nested():
                self._many[jobs[0].kind]([self._context(session, job, now) for job in jobs])
        except Exception as exc:
            log.warning(
                "scheduler_batch_failed",
                kind=jobs[0].kind,
                timers=len(jobs),
                error=_scrub(f"{type(exc).__name__}: {exc}")[:500],
            )
            for job in jobs:
                self._fire_one(session, job, now)
            return
        for job in jobs:
            self._record_success(session, job, now, flush=False)
        session.flush()

    def _context(self, session: Session, job: JobRow, now: datetime) -> JobContext:
        return JobContext(
            session=session,
            job_id=job.id,
            kind=job.kind,
            key=job.key,
            payload=json.loads(job.payload or "{}"),
            due_at=job.due_at,
            now=now,
            instance=self.instance,
        )

    def _run_handler(self, session: Session, job: JobRow, now: datetime) -> str | None:
        handler = self._handlers.get(job.kind)
        if handler is None:
            return f"no handler registered for kind {job.kind!r}"
        context = self._context(session, job, now)
        try:
            with session.begin_nested():
                handler(context)
        except Exception as exc:
            # A handler is an extension point: whatever it raises becomes a recorded, retried
            # failure of that timer, never a crash of the loop or a hot retry.
            return _scrub(f"{type(exc).__name__}: {exc}")
        return None

    def _record_success(
        self, session: Session, job: JobRow, now: datetime, *, flush: bool = True
    ) -> None:
        store.add_run(
            session, job_id=job.id, due_at=job.due_at, fired_at=now, instance=self.instance
        )
        job.fired_at = now
        job.fired_by = self.instance
        job.attempts = 0
        job.last_error = None
        if job.recurrence:
            rule = parse_recurrence(job.recurrence, job.timezone)
            job.due_at = rule.next_due(previous_due=job.due_at, now=now)
        else:
            job.status = JobStatus.DONE.value
        if flush:
            session.flush()

    def _record_failure(self, session: Session, job: JobRow, now: datetime, error: str) -> None:
        job.attempts += 1
        job.last_error = error[:2000]
        log.warning("scheduler_job_failed", kind=job.kind, key=job.key, attempts=job.attempts)
        if job.attempts < job.max_attempts:
            job.due_at = next_retry(job.attempts, now, base=self.retry_base, cap=self.retry_cap)
            return
        self.ledger.record(
            session,
            Actor(name=f"scheduler:{self.instance}", role="system"),
            "scheduler.job.failed",
            f"job:{job.key}",
            payload={"kind": job.kind, "attempts": job.attempts, "error": job.last_error},
        )
        if job.recurrence:
            # A recurring duty is not dropped: record the failure and wait for the next turn.
            rule = parse_recurrence(job.recurrence, job.timezone)
            job.due_at = rule.next_due(previous_due=job.due_at, now=now)
            job.attempts = 0
        else:
            job.status = JobStatus.FAILED.value

    def run_forever(self, stop: threading.Event, *, poll_seconds: float, batch: int) -> None:
        """Fire due timers until ``stop`` is set; a database outage is logged and retried."""
        try:
            while not stop.is_set():
                try:
                    fired = self.run_due(limit=batch)
                except (LeitstandError, store.DatabaseError) as exc:
                    log.error("scheduler_tick_failed", error=_scrub(str(exc)))
                    fired = 0
                if fired < batch:
                    stop.wait(self._idle_seconds(poll_seconds))
        finally:
            # Running long duties keep their lease until it expires; another start re-runs them.
            self.leases.shutdown(wait=False)

    def _idle_seconds(self, poll_seconds: float) -> float:
        """Sleep until the next timer is due, but at most ``poll_seconds``.

        The cap picks up timers created meanwhile by other processes; waking at the due time
        itself keeps a timer's lateness to the time a firing takes, not a polling period.
        """
        try:
            with self.db.reader() as session:
                next_due = store.next_due(session)
        except (LeitstandError, store.DatabaseError):
            return poll_seconds
        if next_due is None:
            return poll_seconds
        wait = (next_due - self.clock.now()).total_seconds()
        return min(poll_seconds, max(wait, 0.0))

    # -- reading -------------------------------------------------------------------------------

    def jobs(self, *, status: str | None = None, limit: int = 200) -> list[JobView]:
        """List timers, soonest first."""
        with self.db.reader() as session:
            return [
                JobView(
                    id=r.id,
                    kind=r.kind,
                    key=r.key,
                    status=r.status,
                    due_at=r.due_at,
                    recurrence=r.recurrence,
                    attempts=r.attempts,
                    last_error=r.last_error,
                    fired_at=r.fired_at,
                    fired_by=r.fired_by,
                    lease_until=r.lease_until,
                )
                for r in store.jobs(session, status=status, limit=limit)
            ]


def _dump(payload: Mapping[str, Any] | None) -> str:
    return json.dumps(dict(payload or {}), sort_keys=True, separators=(",", ":"))


def _scrub(text: str) -> str:
    return _URL_PASSWORD.sub(r"\1***@", text)
