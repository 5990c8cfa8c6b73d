"""Everything that witnesses the ledger outside its tables: the folder copy and remote witnesses.

Every kept checkpoint is queued for each configured witness in the transaction that keeps it
(``ledger_witness_deliveries``), sent after the commit by a short-lived background sender and
retried by the scheduler's ``ledger.witness_delivery`` duty; the cosignatures are stored in the
same rows. A checkpoint queued longer than ``ledger.witness_overdue_minutes`` raises an alert.
"""

from __future__ import annotations

import atexit
import base64
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog

from leitstand.db import Session
from leitstand.ledger.cosign import CosignerKey
from leitstand.ledger.merkle import consistency_proof, consistency_proof_nodes
from leitstand.ledger.store import entries as entry_store
from leitstand.ledger.store import witness as store
from leitstand.ledger.witness import CheckpointCopy
from leitstand.ledger.witness_client import AddResult, RemoteWitness, WitnessUnreachable

if TYPE_CHECKING:
    from leitstand.db import Database
    from leitstand.ledger.service import Ledger
    from leitstand.policy.model import Policy

__all__ = [
    "Delivery",
    "Witnessing",
    "build_witnessing",
    "deliver_all",
    "enqueue",
    "overdue_witnesses",
    "stored_cosignatures",
]

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Delivery:
    """A stored cosignature: which witness cosigned which kept checkpoint, and when."""

    witness: str
    size: int
    note: str
    cosignature: str
    timestamp: int
    old_size: int | None
    proof: list[bytes]


class Witnessing:
    """The folder copy (optional) and the remote witnesses of one ledger."""

    def __init__(
        self,
        copy: CheckpointCopy | None,
        remotes: Sequence[RemoteWitness] = (),
        *,
        overdue: timedelta = timedelta(minutes=15),
        pins: Sequence[str] = (),
    ) -> None:
        self.copy = copy
        self.pins = list(pins)  # policy ledger.trusted_keys: keys verification insists on
        self.remotes = list(remotes)
        self.overdue = overdue
        self._sender: Callable[[list[int]], object] | None = None
        self._copied: list[int] = []
        self._lock = threading.Lock()
        self._dirty = False
        self._thread: threading.Thread | None = None

    # -- the folder copy (what ``Ledger.witness`` always offered) ------------------------------

    @property
    def directory(self) -> Any:
        return self.copy.directory if self.copy is not None else None

    def notes(self) -> list[tuple[int, str]]:
        """Every checkpoint in the folder copy as (size, note), ordered by size."""
        return self.copy.notes() if self.copy is not None else []

    def write(self, size: int, note: str) -> None:
        if self.copy is not None:
            self.copy.write(size, note)

    def write_quietly(self, size: int, note: str) -> bool:
        return self.copy.write_quietly(size, note) if self.copy is not None else False

    # -- remote witnesses ----------------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.remotes]

    def bind(self, db: Database, ledger: Ledger) -> None:
        """Record copies and send to the witnesses right after commit, through ``db``."""
        self._sender = lambda marks: deliver_all(db, ledger, mark_copied=marks)

    def after_commit(self, size: int, note: str) -> None:
        """Copy a newly kept checkpoint to the folder, then wake the background sender.

        The sender records the copy (``copied_at``) and delivers the witness queue in one
        transaction, off the committing thread.
        """
        if self.copy is not None and self.copy.write_quietly(size, note):
            with self._lock:
                self._copied.append(size)
        self.kick()

    def kick(self) -> None:
        """Send what is queued soon (after a commit that kept a checkpoint)."""
        if self._sender is None:
            return
        with self._lock:
            self._dirty = True
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._run, name="witness-sender", daemon=True)
            self._thread.start()
            _LIVE.add(self)  # waited for at exit, without keeping it alive

    def _run(self) -> None:
        while True:
            with self._lock:
                sender = self._sender
                if not self._dirty or sender is None:
                    return
                self._dirty = False
                marks, self._copied = self._copied, []
            try:
                sender(marks)
            except Exception:  # the scheduler retries; a sender crash must not kill a commit
                log.exception("witness_sender_failed")

    def close(self) -> None:
        """Finish the current delivery, stop sending and close every witness connection."""
        self.wait_idle()
        self._sender = None
        for remote in self.remotes:
            remote.close()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait for the background sender to finish (tests, benchmarks, shutdown)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True


_LIVE: weakref.WeakSet[Witnessing] = weakref.WeakSet()


@atexit.register
def _wait_at_exit() -> None:
    # A short-lived CLI process records and delivers what it kept before it exits (bounded by
    # twice the witness timeout); what is left stays queued for the scheduler.
    for witnessing in list(_LIVE):
        witnessing.wait_idle(2 * max((r.timeout for r in witnessing.remotes), default=2.5))


def enqueue(session: Session, names: Sequence[str], size: int, note: str, now: datetime) -> None:
    """Queue a kept checkpoint for every witness, in the keeping transaction."""
    store.enqueue_deliveries(session, names, size, note, now)


def _proof(session: Session, ledger: Ledger, old: int, size: int) -> list[bytes]:
    if not 0 < old < size:
        return []
    getter = ledger.node_getter(session, consistency_proof_nodes(old, size))
    return consistency_proof(old, size, getter)


@dataclass(slots=True)
class _Attempt:
    remote: RemoteWitness
    size: int
    note: str
    old: int
    proof: list[bytes]
    result: AddResult | None = None
    error: str | None = None


def deliver_all(db: Database, ledger: Ledger, *, mark_copied: Sequence[int] = ()) -> dict[str, int]:
    """Send every queued checkpoint to its witness, in size order; return the cosigned counts.

    Works in rounds: one read for every witness's next checkpoint and proof, the HTTP calls,
    then one transaction storing every answer (and ``mark_copied``, the folder copies made
    since the last round). A witness that fails is left for the next retry.
    """
    witnessing = ledger.witness
    remotes = list(witnessing.remotes) if witnessing is not None else []
    counts = {r.name: 0 for r in remotes}
    marks = list(mark_copied)
    while True:
        attempts: list[_Attempt] = []
        with db.reader() as session:
            for remote in remotes:
                row = store.next_pending(session, remote.name)
                if row is None:
                    continue
                old = store.last_cosigned_size(session, remote.name)
                proof = _proof(session, ledger, old, row.size) if old <= row.size else []
                attempts.append(_Attempt(remote, row.size, row.note, old, proof))
        if not attempts and not marks:
            return counts
        for attempt in attempts:
            _submit(db, ledger, attempt)
        now = ledger.clock.now()
        with db.transaction() as session:
            for attempt in attempts:
                store.record_attempt(
                    session,
                    witness=attempt.remote.name,
                    size=attempt.size,
                    now=now,
                    values=_outcome(attempt, now),
                )
            if marks:
                folder = str(witnessing.directory if witnessing is not None else "")
                entry_store.mark_copied(session, marks, now, folder)
                marks = []
        failed = set()
        for attempt in attempts:
            if attempt.error is not None:
                failed.add(attempt.remote.name)
                log.warning(
                    "witness_delivery_failed",
                    witness=attempt.remote.name,
                    size=attempt.size,
                    error=attempt.error,
                )
            elif attempt.old <= attempt.size:
                counts[attempt.remote.name] += 1
        remotes = [r for r in remotes if r.name not in failed]
        if not attempts:
            return counts


def _submit(db: Database, ledger: Ledger, attempt: _Attempt) -> None:
    remote, size, note = attempt.remote, attempt.size, attempt.note
    try:
        if attempt.old <= size:
            attempt.result = remote.add_checkpoint(attempt.old, attempt.proof, note)
        result = attempt.result
        if result is not None and result.status == 409 and result.witness_size is not None:
            attempt.old = result.witness_size  # the witness knows better than our records
            if attempt.old <= size:
                with db.reader() as session:
                    attempt.proof = _proof(session, ledger, attempt.old, size)
                attempt.result = remote.add_checkpoint(attempt.old, attempt.proof, note)
    except WitnessUnreachable as exc:
        attempt.error = str(exc)
        return
    result = attempt.result
    if attempt.old <= size and result is not None and result.status != 200:
        attempt.error = f"HTTP {result.status}: {result.message or result.witness_size}"


def _outcome(attempt: _Attempt, now: datetime) -> dict[str, Any]:
    # The attempt count and time are the store's part (``record_attempt``).
    values: dict[str, Any] = {"last_error": attempt.error}
    result = attempt.result
    if attempt.old > attempt.size:
        values.update(skipped=True, last_error=f"the witness is already at size {attempt.old}")
    elif attempt.error is None and result is not None and result.cosignature is not None:
        values.update(
            old_size=attempt.old,
            proof="\n".join(base64.b64encode(h).decode() for h in attempt.proof),
            cosignature=result.cosignature.line,
            cosigned_time=result.cosignature.timestamp,
            cosigned_at=now,
        )
    return values


def overdue_witnesses(session: Session, now: datetime, overdue: timedelta) -> dict[str, Any]:
    """Witnesses whose oldest queued checkpoint waits longer than ``overdue``: name -> row."""
    out: dict[str, Any] = {}
    for name, oldest, count in store.queued_per_witness(session):
        if oldest is not None and now - _aware(oldest, now) > overdue:
            out[name] = {"oldest": oldest, "pending": count}
    return out


def _aware(value: datetime, like: datetime) -> datetime:
    return (
        value
        if value.tzinfo is not None or like.tzinfo is None
        else value.replace(tzinfo=like.tzinfo)
    )


def stored_cosignatures(session: Session) -> list[Delivery]:
    """Every stored cosignature, by witness and size."""
    rows = store.cosigned_deliveries(session)
    return [
        Delivery(
            witness=r.witness,
            size=r.size,
            note=r.note,
            cosignature=r.cosignature or "",
            timestamp=r.cosigned_time or 0,
            old_size=r.old_size,
            proof=[base64.b64decode(p) for p in (r.proof or "").split("\n") if p],
        )
        for r in rows
    ]


def build_witnessing(policy: Policy, copy: CheckpointCopy | None) -> Witnessing:
    """The folder copy plus one RemoteWitness per ``ledger.witnesses`` entry of the policy."""
    settings = policy.ledger
    remotes = [
        RemoteWitness(
            w.name, w.url, CosignerKey.parse(w.key), timeout=settings.witness_timeout_seconds
        )
        for w in settings.witnesses
    ]
    return Witnessing(copy, remotes, overdue=timedelta(minutes=settings.witness_overdue_minutes))
