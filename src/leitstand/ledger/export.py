"""Export a range of the ledger for an auditor, and verify such an export offline.

An export folder holds everything needed and nothing else:
``entries.jsonl`` (the exact hashed bytes, one entry per line), ``checkpoint.note`` (the signed
head the entries are proven against), ``key.vkey`` (the signer's public key), ``proof.json`` (the
compact ranges left and right of the exported entries) and ``manifest.json`` (file digests).
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from leitstand.errors import ConflictError, Issue, LeitstandError, ValidationError
from leitstand.ledger.canonical import decode_entry
from leitstand.ledger.checkpoint import VerifierKey, open_checkpoint
from leitstand.ledger.merkle import decompose, leaf_hash, range_proof, verify_range
from leitstand.ledger.service import Ledger
from leitstand.ledger.store import LedgerEntryRow
from leitstand.ledger.verify import VerifyReport

__all__ = ["ExportSummary", "export_ledger", "verify_export"]

FORMAT = "leitstand-ledger-export/1"
FILES = ("entries.jsonl", "checkpoint.note", "key.vkey", "proof.json")


@dataclass(frozen=True, slots=True)
class ExportSummary:
    """What an export contains."""

    directory: Path
    first_index: int
    count: int
    tree_size: int


def export_ledger(
    session: Session,
    ledger: Ledger,
    directory: Path,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> ExportSummary:
    """Write the entries recorded in the window, with proofs, into a new folder (atomically)."""
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise ConflictError(f"{directory}: export folder must not exist or be empty")
    head = ledger.head(session)
    if head.note is None or head.size == 0:
        raise ConflictError("the ledger is empty: nothing to export")
    first, end = ledger.index_range(session, since=since, until=until)
    if since is None and until is None:
        first, end = 0, head.size
    count = end - first
    needed = set(decompose(0, first)) | set(decompose(end, head.size))
    nodes = ledger.node_getter(session, needed)
    left, right = range_proof(first, end, head.size, nodes)

    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        with (staging / "entries.jsonl").open("wb") as handle:
            stmt = (
                sa.select(LedgerEntryRow.body)
                .where(LedgerEntryRow.idx >= first, LedgerEntryRow.idx < end)
                .order_by(LedgerEntryRow.idx)
                .execution_options(yield_per=10_000)
            )
            for body in session.execute(stmt).scalars():
                handle.write(body + b"\n")
        (staging / "checkpoint.note").write_text(head.note, encoding="utf-8")
        (staging / "key.vkey").write_text(ledger.signer.verifier.format() + "\n", encoding="utf-8")
        proof = {
            "format": FORMAT,
            "first_index": first,
            "count": count,
            "tree_size": head.size,
            "left": [base64.b64encode(h).decode() for h in left],
            "right": [base64.b64encode(h).decode() for h in right],
            "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None,
        }
        (staging / "proof.json").write_text(json.dumps(proof, indent=2) + "\n", encoding="utf-8")
        manifest = {name: _sha256(staging / name) for name in FILES}
        (staging / "manifest.json").write_text(
            json.dumps({"format": FORMAT, "sha256": manifest}, indent=2) + "\n", encoding="utf-8"
        )
        (staging / "README.txt").write_text(_README, encoding="utf-8")
        if directory.exists():
            directory.rmdir()
        staging.replace(directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ExportSummary(directory=directory, first_index=first, count=count, tree_size=head.size)


def verify_export(directory: Path) -> VerifyReport:
    """Verify an export folder using nothing but its files."""
    report = VerifyReport()
    missing = [name for name in FILES if not (directory / name).is_file()]
    if missing:
        raise ValidationError(
            [Issue(str(directory / name), "file is missing from the export") for name in missing]
        )
    try:
        verifier = VerifierKey.parse((directory / "key.vkey").read_text(encoding="utf-8").strip())
        checkpoint = open_checkpoint((directory / "checkpoint.note").read_text("utf-8"), verifier)
    except LeitstandError as exc:
        report.add(None, f"checkpoint: {exc}")
        return report
    report.checkpoints_checked = 1
    try:
        proof = json.loads((directory / "proof.json").read_text(encoding="utf-8"))
        first = int(proof["first_index"])
        count = int(proof["count"])
        tree_size = int(proof["tree_size"])
        left = [base64.b64decode(h) for h in proof["left"]]
        right = [base64.b64decode(h) for h in proof["right"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValidationError([Issue("proof.json", f"malformed proof ({exc})")]) from exc
    report.size = tree_size
    if tree_size != checkpoint.size:
        report.add(None, f"proof is for size {tree_size} but the checkpoint has {checkpoint.size}")
        return report
    leaves: list[bytes] = []
    expected = first
    with (directory / "entries.jsonl").open("rb") as handle:
        for raw in handle:
            body = raw.rstrip(b"\n")
            try:
                entry = decode_entry(body)
            except (ValueError, TypeError):
                report.add(expected, "line is not a valid canonical entry")
                entry = None
            if entry is not None and entry.index != expected:
                report.add(expected, f"entry claims index {entry.index}: entries reordered/missing")
            leaves.append(leaf_hash(body))
            report.bytes_hashed += len(body)
            expected += 1
    report.entries_checked = len(leaves)
    if len(leaves) != count:
        report.add(
            first + min(len(leaves), count), f"export lists {count} entries, found {len(leaves)}"
        )
    if not verify_range(first, leaves, tree_size, left, right, checkpoint.root_hash):
        report.add(first, "entries do not match the signed checkpoint (an entry was modified)")
    return report


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_README = """leitstand evidence export
=========================

entries.jsonl    the evidence entries, one canonical JSON object per line (the hashed bytes)
checkpoint.note  the signed tree head (C2SP tlog-checkpoint, Ed25519 signed note)
key.vkey         the verifier key of the ledger (name+keyid+base64(0x01||ed25519 public key))
proof.json       the Merkle compact ranges left and right of the exported entries (RFC 9162)
manifest.json    SHA-256 of the files above

Verify offline:  leitstand audit verify --export <this folder>
Leaf hash = SHA-256(0x00 || line), node = SHA-256(0x01 || left || right) (RFC 9162 section 2.1).
"""
