"""Audit use cases over the ledger: manual records, queries, verification, proofs, exports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from leitstand.clock import Clock
from leitstand.db import Database
from leitstand.errors import Issue, NotFoundError, ValidationError
from leitstand.identity import Actor
from leitstand.ledger.canonical import Entry, decode_entry
from leitstand.ledger.checkpoint import Checkpoint, open_checkpoint
from leitstand.ledger.export import ExportSummary, export_ledger
from leitstand.ledger.merkle import (
    inclusion_proof,
    inclusion_proof_nodes,
    leaf_hash,
    verify_inclusion,
)
from leitstand.ledger.ownership import is_manual, manual_action
from leitstand.ledger.service import EntryQuery, Ledger
from leitstand.ledger.verifications import Verification, add_verification, latest_verification
from leitstand.ledger.verify import Progress, VerifyReport, verify_database

__all__ = ["AuditService", "InclusionProof", "SignedHead"]


@dataclass(frozen=True, slots=True)
class SignedHead:
    """The ledger's size, its latest signed checkpoint note and the key that checks it."""

    size: int
    note: str | None
    verifier_key: str


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """An RFC 9162 inclusion proof of one entry against a signed checkpoint."""

    index: int
    tree_size: int
    leaf_hash: bytes
    hashes: list[bytes]
    checkpoint: str
    entry: Entry
    verified: bool


class AuditService:
    """Record, list, verify, prove and export evidence."""

    def __init__(self, *, db: Database, ledger: Ledger, clock: Clock) -> None:
        self.db = db
        self.ledger = ledger
        self.clock = clock
        self._head_cache: tuple[str, Checkpoint] | None = None

    def record(
        self,
        *,
        actor: Actor,
        action: str,
        subject: str,
        tenant: str | None = None,
        payload: Mapping[str, Any] | None = None,
    ) -> Entry:
        """Record an operator's manual evidence entry (the manual route: API and CLI).

        The action is always recorded as ``manual.<action>``; a system namespace (``gate.*``,
        ``release.*``, ...) is refused, so manual evidence never passes for a service's.
        """
        manual = manual_action(action)
        with self.db.transaction() as session:
            return self.ledger.record(
                session, actor, manual, subject, tenant=tenant, payload=payload
            )

    def record_system(
        self,
        *,
        actor: Actor,
        action: str,
        subject: str,
        tenant: str | None = None,
        payload: Mapping[str, Any] | None = None,
    ) -> Entry:
        """Record a system action of the control plane itself (never reachable by users)."""
        if is_manual(action):
            raise ValidationError([Issue("action", "manual.* is written by the manual route")])
        with self.db.transaction() as session:
            return self.ledger.record(
                session, actor, action, subject, tenant=tenant, payload=payload
            )

    def log(self, query: EntryQuery) -> list[Entry]:
        """Entries matching the query."""
        if query.since and query.until and query.since >= query.until:
            raise ValidationError([Issue("since", "must be before until")])
        with self.db.reader() as session:
            return self.ledger.entries(session, query)

    def signed_head(self) -> SignedHead:
        """The latest signed checkpoint and the verifier key."""
        with self.db.reader() as session:
            head = self.ledger.head(session)
        return SignedHead(head.size, head.note, self.ledger.signer.verifier.format())

    def latest(self, limit: int) -> tuple[int, list[Entry]]:
        """The ledger's size and its newest ``limit`` entries, read together."""
        with self.db.reader() as session:
            head = self.ledger.head(session)
            return head.size, self.ledger.entries(session, EntryQuery(limit=limit))

    def verify(
        self, *, actor: Actor | None = None, progress: Progress | None = None
    ) -> VerifyReport:
        """Verify the whole ledger; with an actor, the result itself is recorded as evidence."""
        with self.db.reader() as session:
            report = verify_database(
                session,
                verifier=self.ledger.signer.verifier,
                witness=self.ledger.witness,
                progress=progress,
            )
        if actor is not None:
            # The verifier's own record (what the overview shows) and its evidence entry.
            with self.db.transaction() as session:
                entry = self.ledger.record(
                    session, actor, "ledger.verified", "ledger", payload=report.evidence()
                )
                add_verification(
                    session,
                    verified_at=self.clock.now(),
                    actor=actor.name,
                    ok=report.ok,
                    size=report.size,
                    entries_checked=report.entries_checked,
                    first_bad_index=report.first_bad_index,
                    problems=[str(p) for p in report.problems],
                    incomplete=list(report.incomplete),
                    ledger_index=entry.index,
                )
        return report

    def last_verification(self) -> Verification | None:
        """The most recent verification, from the verifier's own records (never a payload)."""
        with self.db.reader() as session:
            return latest_verification(session)

    def prove(self, index: int) -> InclusionProof:
        """Build and check the inclusion proof of entry ``index`` against the signed head."""
        with self.db.reader() as session:
            head = self.ledger.head(session)
            if head.note is None or not 0 <= index < head.size:
                raise NotFoundError(f"entry {index} is not in the signed ledger (size {head.size})")
            checkpoint = self._open_head(head.note)
            getter = self.ledger.node_getter(
                session, inclusion_proof_nodes(index, checkpoint.size), body_of=index
            )
        if getter.body is None:
            raise NotFoundError(f"entry {index} is missing from the store")
        entry = decode_entry(getter.body)
        leaf = leaf_hash(getter.body)
        hashes = inclusion_proof(index, checkpoint.size, getter)
        ok = verify_inclusion(leaf, index, checkpoint.size, hashes, checkpoint.root_hash)
        return InclusionProof(
            index=index,
            tree_size=checkpoint.size,
            leaf_hash=leaf,
            hashes=hashes,
            checkpoint=head.note,
            entry=entry,
            verified=ok,
        )

    def _open_head(self, note: str) -> Checkpoint:
        # The head changes with every commit but is read far more often: verify each note once.
        cached = self._head_cache
        if cached is not None and cached[0] == note:
            return cached[1]
        checkpoint = open_checkpoint(note, self.ledger.signer.verifier)
        self._head_cache = (note, checkpoint)
        return checkpoint

    def export(
        self,
        directory: Path,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        actor: Actor | None = None,
    ) -> ExportSummary:
        """Export entries of a time window with their proofs; the export is recorded."""
        with self.db.reader() as session:
            summary = export_ledger(session, self.ledger, directory, since=since, until=until)
        if actor is not None:
            self.record_system(
                actor=actor,
                action="ledger.exported",
                subject="ledger",
                payload={
                    "first_index": summary.first_index,
                    "count": summary.count,
                    "tree_size": summary.tree_size,
                    "since": since.isoformat() if since else None,
                    "until": until.isoformat() if until else None,
                },
            )
        return summary
