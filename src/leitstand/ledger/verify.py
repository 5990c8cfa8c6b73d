"""Full verification of the stored ledger against its signed heads, the copy and the witnesses.

One streaming pass recomputes every leaf and subtree hash from the stored entry bytes and
compares: entry order and indices, the indexed columns, the stored subtree hashes, the root at
every kept checkpoint, every checkpoint in the folder copy, every stored cosigned checkpoint,
the latest checkpoint each configured witness cosigned (asked over the network first), and the
signed head. The folder copy's history is checked against the database's record of what was
copied there. A witness that cannot be asked makes the result incomplete (exit code 3).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import orjson

from leitstand.db import Session
from leitstand.errors import LeitstandError
from leitstand.ledger.canonical import ENTRY_VERSION, FIELD_SET
from leitstand.ledger.checkpoint import VerifierKey, open_checkpoint
from leitstand.ledger.cosign import parse_any_key
from leitstand.ledger.merkle import CompactRange, leaf_hash
from leitstand.ledger.store import entries as store
from leitstand.ledger.verify_witnesses import ask_witnesses, check_copy_history, stored_targets
from leitstand.ledger.witness import CheckpointCopy
from leitstand.ledger.witnessing import Witnessing

__all__ = ["Problem", "VerifyReport", "check_log_pins", "verify_database"]

MAX_PROBLEMS = 50
Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding: the first entry index it concerns (if any) and what is wrong."""

    index: int | None
    message: str

    def __str__(self) -> str:
        return f"entry {self.index}: {self.message}" if self.index is not None else self.message


@dataclass(slots=True)
class VerifyReport:
    """The outcome of a verification."""

    size: int = 0
    entries_checked: int = 0
    checkpoints_checked: int = 0
    witness_checked: int = 0
    bytes_hashed: int = 0
    seconds: float = 0.0
    problems: list[Problem] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)
    witnesses: list[dict[str, object]] = field(default_factory=list)
    witnesses_configured: bool = False
    cosignatures_checked: int = 0
    consistency_proofs_checked: int = 0
    pinned: bool | None = None  # exports: whether the keys were pinned
    key: str | None = None  # exports: the log key the export was checked with
    origin: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def complete(self) -> bool:
        """No witness (or other source) that should have been asked was left out."""
        return not self.incomplete

    @property
    def first_bad_index(self) -> int | None:
        indices = [p.index for p in self.problems if p.index is not None]
        return min(indices) if indices else None

    def add(self, index: int | None, message: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(index, message))

    def summary(self) -> str:
        if self.ok:
            text = (
                f"ledger intact: {self.entries_checked} entries, "
                f"{self.checkpoints_checked} signed checkpoints, "
                f"{self.witness_checked} second-location checkpoints, "
                f"{self.cosignatures_checked} witness cosignatures verified"
            )
            if self.incomplete:
                text += "; INCOMPLETE: " + "; ".join(self.incomplete)
            return text
        first = self.first_bad_index
        where = f"first bad index {first}" if first is not None else "checkpoints disagree"
        return f"ledger NOT intact ({where}): {self.problems[0]}"

    def notes(self) -> list[str]:
        """Lines every output shows besides the verdict (witness coverage, pinning)."""
        out: list[str] = []
        if not self.witnesses_configured and self.pinned is None:
            out.append(
                "no witness is configured (policy ledger.witnesses): a rollback by someone who "
                "can write the database and the home folder cannot be detected"
            )
        for w in self.witnesses:
            out.append(f"witness {w['name']}: {w['status']}")
        if self.pinned is False:
            out.append(
                f"UNPINNED: checked with the key shipped in the export ({self.key}, origin "
                f"{self.origin}); pin it with --key FILE or policy ledger.trusted_keys"
            )
        return out

    def evidence(self) -> dict[str, object]:
        """The payload of the ``ledger.verified`` entry that records this run."""
        return {
            "ok": self.ok,
            "size": self.entries_checked,
            "first_bad_index": self.first_bad_index,
            "problems": [str(p) for p in self.problems[:5]],
            "seconds": round(self.seconds, 3),
            "complete": self.complete,
            "incomplete": self.incomplete[:5],
            "witnesses": [str(w["name"]) for w in self.witnesses],
        }

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "size": self.size,
            "entries_checked": self.entries_checked,
            "checkpoints_checked": self.checkpoints_checked,
            "witness_checked": self.witness_checked,
            "bytes_hashed": self.bytes_hashed,
            "seconds": round(self.seconds, 3),
            "first_bad_index": self.first_bad_index,
            "problems": [{"index": p.index, "message": p.message} for p in self.problems],
            "complete": self.complete,
            "incomplete": list(self.incomplete),
            "witnesses_configured": self.witnesses_configured,
            "witnesses": list(self.witnesses),
            "cosignatures_checked": self.cosignatures_checked,
            "consistency_proofs_checked": self.consistency_proofs_checked,
            "pinned": self.pinned,
            "key": self.key,
            "origin": self.origin,
            "notes": self.notes(),
        }


@dataclass(slots=True)
class _Target:
    size: int
    root: bytes
    source: str


def verify_database(
    session: Session,
    *,
    verifier: VerifierKey,
    witness: Witnessing | CheckpointCopy | None = None,
    progress: Progress | None = None,
    chunk: int = 20_000,
) -> VerifyReport:
    """Verify every stored entry and checkpoint; never raises for tampering, reports it."""
    started = time.perf_counter()
    report = VerifyReport()
    witnessing = witness if isinstance(witness, Witnessing) else Witnessing(witness)
    # The witnesses are asked before the database is read: a checkpoint committed meanwhile
    # is then in the snapshot, never "larger than the local tree".
    remote = ask_witnesses(witnessing, verifier, report)
    check_log_pins(report, verifier, witnessing.pins)
    state = store.state(session)
    if state is None:
        report.add(None, "ledger head row is missing")
        return report
    report.size = state.size
    targets = _collect_targets(session, state, verifier, witnessing.copy, report)
    check_copy_history(session, witnessing.copy, report)
    for size, root, source in [*remote, *stored_targets(session, witnessing, report)]:
        targets.setdefault(size, []).append(_Target(size, root, source))

    cr = CompactRange.empty()
    expected = 0
    last_good = 0
    same_time, result = store.scan_entries(session, chunk=chunk)
    structural = False
    for idx, body, nodes, recorded, actor, role, action, subject, tenant in result:
        if idx != expected:
            report.add(expected, f"entry is missing (the next stored entry is {idx})")
            structural = True
            break
        problems_before = len(report.problems)
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            data = None
        if type(data) is not dict or data.keys() != FIELD_SET or data["v"] != ENTRY_VERSION:
            report.add(idx, "stored entry is not a valid canonical entry")
        elif data["index"] != idx:
            report.add(idx, f"entry claims index {data['index']}: entries were reordered")
        elif (
            data["actor"] != actor
            or data["role"] != role
            or data["action"] != action
            or data["subject"] != subject
            or data["tenant"] != tenant
            or not same_time(data["time"], recorded)
        ):
            report.add(idx, "indexed columns differ from the hashed entry")
        computed = cr.append(leaf_hash(body))
        if b"".join(computed) != nodes:
            if len(report.problems) == problems_before:
                report.add(*_node_mismatch(idx, computed, nodes))
            if len(nodes) == 32 * len(computed):
                # Continue from the stored subtree: the difference is reported once, here,
                # instead of again by every larger subtree above it (which would name an
                # earlier, intact entry as the first bad one).
                cr = CompactRange.from_hashes(0, cr.end, [*cr.hashes[:-1], nodes[-32:]])
        report.bytes_hashed += len(body)
        expected += 1
        if progress is not None and expected % chunk == 0:
            progress(expected, state.size)
        for target in targets.get(expected, ()):
            if cr.root() != target.root:
                # Name the start of the range only when no single entry was pinpointed in it.
                pinpointed = report.first_bad_index is not None and (
                    report.first_bad_index >= last_good
                )
                report.add(
                    None if pinpointed else last_good,
                    f"entries in [{last_good}, {expected}) do not match the {target.source} "
                    f"checkpoint at size {expected}",
                )
            else:
                last_good = expected
    result.close()  # a PostgreSQL server-side cursor must be closed when we stop early
    report.entries_checked = expected
    if progress is not None:
        progress(expected, state.size)
    if not structural:
        if expected < state.size:
            report.add(expected, f"entries are missing: the signed head covers {state.size}")
        elif expected > state.size:
            report.add(state.size, "entries exist beyond the signed head")
        if b"".join(cr.hashes) != state.frontier and expected == state.size:
            report.add(None, "stored head does not match the entries")
        beyond = sorted(s for s in targets if s > expected)
        for size in beyond:
            for target in targets[size]:
                report.add(
                    expected,
                    f"the {target.source} checkpoint covers {size} entries but only "
                    f"{expected} exist (entries deleted from the end)",
                )
    report.seconds = time.perf_counter() - started
    return report


def _node_mismatch(idx: int, computed: list[bytes], stored: bytes) -> tuple[int, str]:
    """Locate a stored-hash mismatch: the leaf itself, or the left half of a subtree."""
    if len(stored) != 32 * len(computed):
        return idx, "stored hashes of this entry are malformed (entry moved or modified)"
    for level, node in enumerate(computed):
        if stored[level * 32 : (level + 1) * 32] != node:
            if level == 0:
                return idx, "entry does not match its stored hash (entry modified)"
            first = idx - (1 << level) + 1
            last = idx - (1 << (level - 1))
            where = f"entry {first}" if first == last else f"entries [{first}, {last}]"
            return first, f"{where} do not match the stored subtree hash (entry modified)"
    return idx, "stored hashes of this entry are malformed"  # pragma: no cover - equal lists


def _collect_targets(
    session: Session,
    state: store.LedgerState,
    verifier: VerifierKey,
    witness: CheckpointCopy | None,
    report: VerifyReport,
) -> dict[int, list[_Target]]:
    targets: dict[int, list[_Target]] = {}

    def add(size: int, root: bytes, source: str) -> None:
        targets.setdefault(size, []).append(_Target(size, root, source))

    if state.note is not None:
        try:
            head = open_checkpoint(state.note, verifier)
        except LeitstandError as exc:
            report.add(None, f"signed head at size {state.size}: {exc}")
        else:
            report.checkpoints_checked += 1
            if head.size != state.size or head.root_hash != state.root:
                report.add(None, "signed head does not match the stored head")
            add(head.size, head.root_hash, "signed head")
    elif state.size:
        report.add(0, "entries exist but no signed head")
    for cp_row in store.checkpoints(session):
        try:
            cp = open_checkpoint(cp_row.note, verifier)
        except LeitstandError as exc:
            report.add(None, f"checkpoint at size {cp_row.size}: {exc}")
            continue
        report.checkpoints_checked += 1
        if cp.size != cp_row.size or cp.root_hash != cp_row.root:
            report.add(None, f"checkpoint row {cp_row.size} does not match its signed note")
        add(cp.size, cp.root_hash, "kept")
    if witness is not None:
        for size, note in witness.notes():
            try:
                cp = open_checkpoint(note, verifier)
            except LeitstandError as exc:
                report.add(None, f"second-location checkpoint at size {size}: {exc}")
                continue
            report.witness_checked += 1
            add(cp.size, cp.root_hash, "second-location")
    return targets


def check_log_pins(report: VerifyReport, verifier: VerifierKey, pins: Sequence[str]) -> None:
    """Fail the report when log keys are pinned and the ledger's key is not one of them."""
    logs = [p.strip() for p in pins if _is_log_key(p)]
    if logs and verifier.format() not in logs:
        report.add(
            None,
            f"the ledger is signed with key {verifier.format()}, which is not a pinned key "
            f"({', '.join(logs)}): its signing key was replaced",
        )


def _is_log_key(text: str) -> bool:
    try:
        return isinstance(parse_any_key(text), VerifierKey)
    except LeitstandError:
        return False
