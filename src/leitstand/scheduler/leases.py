"""Long duties (backups, drills, full verifications) run outside the claiming transaction.

A transactional timer holds its claim for the length of one transaction, which is right for short
work but would hold SQLite's write lock (and a PostgreSQL row lock) for minutes during a backup.
A long duty instead takes a lease: the claim is committed with ``lease_until``, the handler runs
in a worker thread with no transaction open, the lease is renewed while it runs, and the outcome
is recorded in a new transaction only if the lease is still ours. A crash leaves an expired lease,
and another instance (or this one after a restart) runs the duty again: at-least-once, so long
handlers must be idempotent per timer key.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from leitstand.clock import Clock
from leitstand.db import Database
from leitstand.errors import LeitstandError
from leitstand.scheduler import store

__all__ = ["LeaseContext", "LeaseRunner", "LongHandler"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class LeaseContext:
    """What a long handler gets: the timer, and the database to open its own transactions."""

    db: Database
    job_id: int
    kind: str
    key: str
    payload: Mapping[str, Any]
    due_at: datetime
    now: datetime
    instance: str
    claim: str


LongHandler = Callable[[LeaseContext], None]
Finish = Callable[[LeaseContext, str | None], None]


class LeaseRunner:
    """Runs long handlers in a small thread pool and keeps their leases alive."""

    def __init__(self, *, db: Database, clock: Clock, workers: int) -> None:
        self.db = db
        self.clock = clock
        self.workers = max(1, workers)
        self._pool: ThreadPoolExecutor | None = None
        self._futures: set[Future[None]] = set()
        self._lock = threading.Lock()

    def submit(
        self, context: LeaseContext, handler: LongHandler, lease: timedelta, finish: Finish
    ) -> None:
        """Run ``handler`` in the pool; ``finish(context, error)`` records the outcome."""
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="leitstand-lease")
            future = self._pool.submit(self._run, context, handler, lease, finish)
            self._futures.add(future)
            future.add_done_callback(self._forget)

    def busy(self) -> int:
        """How many long duties are running in this process."""
        with self._lock:
            return len(self._futures)

    def drain(self, timeout: float | None = None) -> bool:
        """Wait for running duties; True when none is left."""
        with self._lock:
            pending = list(self._futures)
        for future in pending:
            try:
                future.result(timeout=timeout)
            except TimeoutError:
                return False
        return self.busy() == 0

    def shutdown(self, *, wait: bool) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=wait, cancel_futures=not wait)

    def _forget(self, future: Future[None]) -> None:
        with self._lock:
            self._futures.discard(future)

    def _run(
        self, context: LeaseContext, handler: LongHandler, lease: timedelta, finish: Finish
    ) -> None:
        stop = threading.Event()
        renewer = threading.Thread(
            target=self._renew,
            args=(context, lease, stop),
            name="leitstand-lease-renew",
            daemon=True,
        )
        renewer.start()
        error: str | None = None
        try:
            handler(context)
        except Exception as exc:
            # Like a transactional handler: any exception is a recorded, retried failure.
            error = f"{type(exc).__name__}: {exc}"
        finally:
            stop.set()
            renewer.join()
        try:
            finish(context, error)
        except (LeitstandError, store.DatabaseError) as exc:
            # The lease expires and the duty runs again; nothing is lost.
            log.error("scheduler_lease_finish_failed", key=context.key, error=str(exc))

    def _renew(self, context: LeaseContext, lease: timedelta, stop: threading.Event) -> None:
        interval = max(lease.total_seconds() / 3, 0.05)
        while not stop.wait(interval):
            try:
                with self.db.transaction() as session:
                    store.renew_lease(
                        session,
                        job_id=context.job_id,
                        claim=context.claim,
                        until=self.clock.now() + lease,
                    )
            except (LeitstandError, store.DatabaseError) as exc:
                log.warning("scheduler_lease_renew_failed", key=context.key, error=str(exc))
