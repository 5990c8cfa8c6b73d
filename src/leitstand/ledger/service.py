"""The evidence ledger: append inside a service's transaction, seal with a signed checkpoint.

Every service appends its evidence entry in the same transaction as its state change. When that
transaction commits, a session hook (``before_commit``) seals the batch: the entries are inserted,
the Merkle head advances and a signed checkpoint for the new size is written, all in the same
transaction. No committed entry is therefore ever outside a signed tree head.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from leitstand.clock import Clock
from leitstand.db import Session
from leitstand.errors import StoreError
from leitstand.identity import Actor
from leitstand.ledger.canonical import Entry, decode_entry, encode_entry
from leitstand.ledger.keys import LedgerSigner
from leitstand.ledger.merkle import CompactRange, leaf_hash
from leitstand.ledger.store import entries as store
from leitstand.ledger.store.hooks import SessionFactory, listen
from leitstand.ledger.witness import CheckpointCopy
from leitstand.ledger.witnessing import Witnessing, enqueue
from leitstand.policy.auth import LOCAL_ADMIN_ROLE

__all__ = ["EntryQuery", "Head", "Ledger", "install_session_hooks"]

_INFO_KEY = "leitstand.ledger.pending"
_SAVEPOINTS_KEY = "leitstand.ledger.savepoints"
_COPY_KEY = "leitstand.ledger.copy"
HASH_SIZE = 32


@dataclass(slots=True)
class _Pending:
    """Entries appended in the current transaction, not yet inserted."""

    ledger: Ledger
    size_before: int
    frontier: CompactRange
    rows: list[dict[str, Any]] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    kept_size: int = 0
    kept_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Head:
    """The ledger's current signed head."""

    size: int
    root: bytes
    note: str | None
    updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class EntryQuery:
    """Filters for listing entries."""

    since: datetime | None = None
    until: datetime | None = None
    action: str | None = None
    tenant: str | None = None
    subject: str | None = None
    limit: int | None = 100
    newest_first: bool = True


class Ledger:
    """Append, seal, query and prove evidence entries."""

    def __init__(
        self,
        *,
        signer: LedgerSigner,
        clock: Clock,
        keep_every_entries: int,
        keep_interval: timedelta,
        witness: Witnessing | CheckpointCopy | None = None,
    ) -> None:
        self.signer = signer
        self.clock = clock
        self.keep_every_entries = max(1, keep_every_entries)
        self.keep_interval = keep_interval
        # Everything that witnesses this ledger: the folder copy and the remote witnesses.
        self.witness: Witnessing | None = (
            witness if isinstance(witness, Witnessing) or witness is None else Witnessing(witness)
        )

    def close(self) -> None:
        """Let the witness sender finish and close the witness connections."""
        if self.witness is not None:
            self.witness.close()

    # -- appending -----------------------------------------------------------------------------

    def append(
        self,
        session: Session,
        *,
        actor: str,
        role: str,
        action: str,
        subject: str,
        tenant: str | None = None,
        payload: Mapping[str, Any] | None = None,
        at: datetime | None = None,
    ) -> Entry:
        """Append one evidence entry to the current transaction; sealed when it commits."""
        pending = self._pending(session)
        index = pending.size_before + len(pending.rows)
        when = at or self.clock.now()
        entry, body = encode_entry(
            index=index,
            time=when,
            actor=actor,
            role=role,
            action=action,
            subject=subject,
            tenant=tenant,
            payload=payload,
        )
        nodes = pending.frontier.append(leaf_hash(body))
        pending.rows.append(
            {
                "idx": index,
                "recorded_at": when,
                "actor": actor,
                "role": role,
                "action": action,
                "subject": subject,
                "tenant": tenant,
                "body": body,
                "nodes": b"".join(nodes),
            }
        )
        pending.entries.append(entry)
        return entry

    def hold_head(self, session: Session) -> None:
        """Take the ledger head for this transaction now rather than at its first entry.

        Every appending transaction queues on the head (``FOR UPDATE`` on PostgreSQL). A
        transaction that will append after taking other row locks (the alert intake inserting
        alerts two deliveries may share) takes the head first, so that all of them lock in one
        order and cannot deadlock.
        """
        self._pending(session)

    def record(
        self,
        session: Session,
        actor: Actor,
        action: str,
        subject: str,
        *,
        tenant: str | None = None,
        payload: Mapping[str, Any] | None = None,
    ) -> Entry:
        """Append an entry for what ``actor`` did (the usual call from a service)."""
        if actor.role == LOCAL_ADMIN_ROLE:
            # The tokenless local operator (policy auth.local_admin_actions): labelled as such.
            payload = {**(payload or {}), "local_admin": True}
        return self.append(
            session,
            actor=actor.name,
            role=actor.role,
            action=action,
            subject=subject,
            tenant=tenant,
            payload=payload,
        )

    def _pending(self, session: Session) -> _Pending:
        pending = session.info.get(_INFO_KEY)
        if isinstance(pending, _Pending):
            if pending.ledger is not self:
                raise StoreError("two ledgers appended in one transaction")
            return pending
        # The head row is the queue every appender waits in.
        state = store.state(session, for_update=True)
        if state is None:
            raise StoreError("ledger is not initialised: run `leitstand db upgrade`")
        frontier = CompactRange.from_hashes(0, state.size, _split(state.frontier))
        pending = _Pending(
            ledger=self,
            size_before=state.size,
            frontier=frontier,
            kept_size=state.kept_size,
            kept_at=state.kept_at,
        )
        session.info[_INFO_KEY] = pending
        return pending

    def seal(self, session: Session) -> None:
        """Insert the pending entries and sign the new head (runs from ``before_commit``)."""
        pending = session.info.pop(_INFO_KEY, None)
        session.info.pop(_SAVEPOINTS_KEY, None)
        if not isinstance(pending, _Pending) or not pending.rows:
            return
        store.insert_entries(session, pending.rows)
        size = pending.size_before + len(pending.rows)
        root = pending.frontier.root()
        now = self.clock.now()
        note = self.signer.sign(size, root)
        values: dict[str, Any] = {
            "size": size,
            "frontier": b"".join(pending.frontier.hashes),
            "root": root,
            "note": note,
            "updated_at": now,
        }
        crossed = size // self.keep_every_entries > pending.kept_size // self.keep_every_entries
        stale = pending.kept_at is None or now - pending.kept_at >= self.keep_interval
        if crossed or stale:
            self._keep(session, size, root, note, now)
            values.update(kept_size=size, kept_at=now)
            session.info[_COPY_KEY] = (self, size, note)
        store.update_state(session, values)

    def keep_head(self, session: Session) -> bool:
        """Keep the current head as a checkpoint row if it is newer than the last kept one."""
        state = store.state(session)
        if state is None:
            raise StoreError("ledger is not initialised: run `leitstand db upgrade`")
        if state.note is None or state.size <= state.kept_size:
            return False
        now = self.clock.now()
        self._keep(session, state.size, state.root, state.note, now)
        store.update_state(session, {"kept_size": state.size, "kept_at": now})
        return True

    def _keep(self, session: Session, size: int, root: bytes, note: str, now: datetime) -> None:
        # A kept checkpoint is copied to the folder after commit and queued for every witness
        # in this same transaction, so a crash cannot lose a delivery.
        store.add_checkpoint(session, size=size, root=root, note=note, created_at=now)
        if self.witness is not None and self.witness.remotes:
            enqueue(session, self.witness.names, size, note, now)

    def copy_to_witness(self, session: Session) -> int:
        """Copy kept checkpoints not yet at the second location there; return how many."""
        if self.witness is None:
            return 0
        rows = store.uncopied_checkpoints(session)
        for row in rows:
            self.witness.write(row.size, row.note)
        if rows:
            folder = str(self.witness.directory)
            store.mark_copied(session, [r.size for r in rows], self.clock.now(), folder)
        return len(rows)

    # -- reading -------------------------------------------------------------------------------

    def head(self, session: Session) -> Head:
        """Return the current signed head."""
        state = store.head_row(session)
        if state is None:
            raise StoreError("ledger is not initialised: run `leitstand db upgrade`")
        size, root, note, updated_at = state
        return Head(size=size, root=root, note=note, updated_at=updated_at)

    def entries(self, session: Session, query: EntryQuery | None = None) -> list[Entry]:
        """List entries matching the query (newest first by default)."""
        q = query or EntryQuery()
        bodies = store.entry_bodies(
            session,
            since=q.since,
            until=q.until,
            action=q.action,
            tenant=q.tenant,
            subject=q.subject,
            limit=q.limit,
            newest_first=q.newest_first,
        )
        return [decode_entry(body) for body in bodies]

    def index_range(
        self, session: Session, *, since: datetime | None, until: datetime | None
    ) -> tuple[int, int]:
        """Return ``[first, end)`` of the entries recorded in the time window."""
        low, high = store.index_bounds(session, since=since, until=until)
        if low is None or high is None:
            return (0, 0)
        return (int(low), int(high) + 1)

    def node_getter(
        self, session: Session, needed: set[tuple[int, int]], *, body_of: int | None = None
    ) -> NodeStore:
        """Fetch the stored subtree hashes for ``needed`` (level, index) nodes in one query.

        With ``body_of``, the same query also fetches that entry's bytes (for proofs).
        """
        rows_wanted = sorted({((k + 1) << level) - 1 for level, k in needed})
        if body_of is not None:
            rows_wanted = sorted({*rows_wanted, body_of})
        found: dict[int, bytes] = {}
        body: bytes | None = None
        for idx, nodes, entry_body in store.nodes(session, rows_wanted, body_of=body_of):
            found[idx] = nodes
            if entry_body is not None:
                body = entry_body
        return NodeStore(found, body)


class NodeStore:
    """Subtree hashes keyed by the row that stores them (and one entry's bytes, if asked)."""

    def __init__(self, rows: dict[int, bytes], body: bytes | None = None) -> None:
        self._rows = rows
        self.body = body

    def __call__(self, level: int, index: int) -> bytes:
        row = ((index + 1) << level) - 1
        nodes = self._rows.get(row)
        start = level * HASH_SIZE
        if nodes is None or len(nodes) < start + HASH_SIZE:
            raise StoreError(f"ledger node ({level}, {index}) is missing from entry {row}")
        return nodes[start : start + HASH_SIZE]


def _split(blob: bytes) -> list[bytes]:
    return [blob[i : i + HASH_SIZE] for i in range(0, len(blob), HASH_SIZE)]


# -- session hooks -------------------------------------------------------------------------------


class _Transaction(Protocol):
    """The part of a session transaction the hooks read."""

    @property
    def nested(self) -> bool: ...

    @property
    def parent(self) -> object | None: ...


def install_session_hooks(sessions: SessionFactory) -> None:
    """Seal pending entries before every commit and keep savepoint rollbacks consistent."""
    listen(
        sessions,
        before_commit=_before_commit,
        after_commit=_after_commit,
        after_transaction_end=_after_transaction_end,
        after_transaction_create=_after_transaction_create,
        after_soft_rollback=_after_soft_rollback,
    )


def _before_commit(session: Session) -> None:
    # SQLAlchemy also sends ``before_commit`` when a savepoint is released; the entries are
    # sealed once, by the outermost commit (the savepoint marks keep rollbacks consistent).
    if session.in_nested_transaction():
        return
    pending = session.info.get(_INFO_KEY)
    if isinstance(pending, _Pending):
        pending.ledger.seal(session)


def _after_commit(session: Session) -> None:
    # The second location gets the kept checkpoint right after commit; if this write fails the
    # periodic copy job retries, because the row stays marked as not yet copied.
    copy = session.info.pop(_COPY_KEY, None)
    if copy is None:
        return
    ledger, size, note = copy
    if ledger.witness is not None:
        ledger.witness.after_commit(size, note)


def _after_transaction_end(session: Session, transaction: _Transaction) -> None:
    # Only the outermost transaction ends the batch (``after_rollback`` also fires for a
    # savepoint, which must keep the entries appended before it).
    if transaction.parent is not None:
        return
    session.info.pop(_INFO_KEY, None)
    session.info.pop(_SAVEPOINTS_KEY, None)
    session.info.pop(_COPY_KEY, None)


def _after_transaction_create(session: Session, transaction: _Transaction) -> None:
    if not transaction.nested:
        return
    pending = session.info.get(_INFO_KEY)
    marks: dict[int, tuple[int, list[bytes]]] = session.info.setdefault(_SAVEPOINTS_KEY, {})
    if isinstance(pending, _Pending):
        marks[id(transaction)] = (len(pending.rows), list(pending.frontier.hashes))


def _after_soft_rollback(session: Session, previous_transaction: _Transaction) -> None:
    if not previous_transaction.nested:
        return
    marks: dict[int, tuple[int, list[bytes]]] = session.info.get(_SAVEPOINTS_KEY, {})
    pending = session.info.get(_INFO_KEY)
    if not isinstance(pending, _Pending):
        return
    mark = marks.pop(id(previous_transaction), None)
    if mark is None:
        # The first append happened inside this savepoint: nothing of it may survive.
        session.info.pop(_INFO_KEY, None)
        return
    count, hashes = mark
    del pending.rows[count:]
    del pending.entries[count:]
    pending.frontier = CompactRange.from_hashes(0, pending.size_before + count, hashes)
