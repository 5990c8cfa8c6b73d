"""Export a range of the ledger for an auditor, and verify such an export offline.

An export folder holds everything needed and nothing else:
``entries.jsonl`` (the exact hashed bytes, one entry per line), ``checkpoint.note`` (the signed
head the entries are proven against), ``key.vkey`` (the signer's public key), ``proof.json`` (the
compact ranges left and right of the exported entries), ``consistency.json`` (every kept
checkpoint up to the head with the RFC 9162 consistency proof from the one before),
``cosignatures.json`` (the witnesses' cosignatures and keys) and ``manifest.json`` (the SHA-256
of every other file; a changed, added or removed file fails verification).

The key inside the folder proves nothing about who signed: ``verify_export`` pins the log's key
and the witnesses' keys to the ones given (``--key``, policy ``ledger.trusted_keys``) and says
so when nothing was pinned.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from leitstand.db import Session
from leitstand.errors import ConflictError, Issue, LeitstandError, ValidationError
from leitstand.ledger.canonical import decode_entry
from leitstand.ledger.checkpoint import Checkpoint, VerifierKey, open_checkpoint
from leitstand.ledger.export_chain import Trust, check_manifest, verify_chain, write_chain
from leitstand.ledger.merkle import decompose, leaf_hash, range_proof, verify_range
from leitstand.ledger.service import Ledger
from leitstand.ledger.store import entries as store
from leitstand.ledger.verify import VerifyReport

__all__ = ["ExportSummary", "export_ledger", "verify_export"]

FORMAT = "leitstand-ledger-export/1"
FILES = ("entries.jsonl", "checkpoint.note", "key.vkey", "proof.json")
EXTRA_FILES = ("consistency.json", "cosignatures.json", "leaf_hashes.bin", "README.txt")


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
        with (
            (staging / "entries.jsonl").open("wb") as handle,
            (staging / "leaf_hashes.bin").open("wb") as hashes,
        ):
            for body, stored in store.entry_range(session, first, end):
                handle.write(body + b"\n")
                hashes.write(stored[:32])  # the stored leaf hash, not one recomputed here
        (staging / "checkpoint.note").write_text(head.note, encoding="utf-8")
        (staging / "key.vkey").write_text(ledger.signer.verifier.format() + "\n", encoding="utf-8")
        write_chain(session, ledger, staging, head.size, head.note)
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
        (staging / "README.txt").write_text(_README, encoding="utf-8")
        manifest = {name: _sha256(staging / name) for name in (*FILES, *EXTRA_FILES)}
        (staging / "manifest.json").write_text(
            json.dumps({"format": FORMAT, "sha256": manifest}, indent=2) + "\n", encoding="utf-8"
        )
        if directory.exists():
            directory.rmdir()
        staging.replace(directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ExportSummary(directory=directory, first_index=first, count=count, tree_size=head.size)


def verify_export(directory: Path, pins: Sequence[str] = ()) -> VerifyReport:
    """Verify an export folder using its files and the pinned keys (none: unpinned)."""
    report = VerifyReport()
    if not directory.is_dir():
        raise ValidationError([Issue(str(directory), "export folder not found")])
    missing = [name for name in FILES if not (directory / name).is_file()]
    if missing:
        raise ValidationError(
            [Issue(str(directory / name), "file is missing from the export") for name in missing]
        )
    trust = Trust.parse(pins)
    check_manifest(directory, report)
    try:
        shipped = VerifierKey.parse((directory / "key.vkey").read_text(encoding="utf-8").strip())
    except LeitstandError as exc:
        report.add(None, f"key.vkey: {exc}")
        return report
    note = (directory / "checkpoint.note").read_text("utf-8")
    verifier = trust.log_key_for(note, shipped, report)
    if verifier is None:
        return report
    try:
        checkpoint = open_checkpoint(note, verifier)
    except LeitstandError as exc:
        report.add(None, f"checkpoint: {exc}")
        return report
    report.origin = checkpoint.origin
    report.checkpoints_checked = 1
    verify_chain(directory, verifier, checkpoint, trust, report)
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
        report.add(*_locate(directory, first, leaves, tree_size, left, right, checkpoint))
    return report


def _locate(
    directory: Path,
    first: int,
    leaves: list[bytes],
    tree_size: int,
    left: list[bytes],
    right: list[bytes],
    checkpoint: Checkpoint,
) -> tuple[int, str]:
    """Name the first modified entry exactly when the exported leaf hashes allow it.

    ``leaf_hashes.bin`` holds the stored leaf hash of every exported entry. When those hashes
    rebuild the signed root they are authentic, and the first entry whose bytes hash to
    something else is the first bad one. Otherwise only the range is known.
    """
    path = directory / "leaf_hashes.bin"
    data = path.read_bytes() if path.is_file() else b""
    if len(data) == 32 * len(leaves):
        listed = [data[i : i + 32] for i in range(0, len(data), 32)]
        if verify_range(first, listed, tree_size, left, right, checkpoint.root_hash):
            for offset, (got, want) in enumerate(zip(leaves, listed, strict=True)):
                if got != want:
                    return first + offset, "entry does not match its signed leaf hash (modified)"
    return first, "entries do not match the signed checkpoint (an entry was modified)"


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
consistency.json kept checkpoints up to the head, each with the RFC 9162 consistency proof
                 from the one before
cosignatures.json  witness cosignatures (C2SP tlog-cosignature/v1) and the witnesses' keys
leaf_hashes.bin  the 32-byte leaf hash of every exported entry, in order (locates a modified
                 entry exactly while they still rebuild the signed root)
manifest.json    SHA-256 of every other file

Verify offline:  leitstand audit verify --export <this folder> --key <pinned ledger key file>
(key.vkey in this folder proves nothing by itself: pin the key you got from the operator)
Leaf hash = SHA-256(0x00 || line), node = SHA-256(0x01 || left || right) (RFC 9162 section 2.1).
"""
