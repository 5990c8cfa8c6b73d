"""The export's consistency chain, witness cosignatures, manifest and key pinning.

``consistency.json`` lists every kept checkpoint up to the exported head, each with the RFC 9162
consistency proof (section 2.1.4) from the checkpoint before it; ``cosignatures.json`` carries
the witnesses' cosigned checkpoints. Verification pins the log key and the witness keys to the
keys given by the auditor; keys shipped inside the export are used only when nothing is pinned,
and the report then says so (``pinned: false``).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leitstand.db import Session
from leitstand.errors import ConfigError, Issue, LeitstandError, ValidationError
from leitstand.ledger.checkpoint import Checkpoint, VerifierKey, open_checkpoint
from leitstand.ledger.cosign import CosignerKey, parse_any_key, signature_lines
from leitstand.ledger.merkle import consistency_proof, consistency_proof_nodes, verify_consistency
from leitstand.ledger.store import entries as store
from leitstand.ledger.witnessing import stored_cosignatures

if TYPE_CHECKING:
    from leitstand.ledger.service import Ledger
    from leitstand.ledger.verify import VerifyReport

__all__ = ["Trust", "check_manifest", "verify_chain", "write_chain"]


def _b64(items: Sequence[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in items]


def write_chain(session: Session, ledger: Ledger, folder: Path, size: int, note: str) -> None:
    """Write consistency.json and cosignatures.json for the head of ``size``."""
    kept = store.kept_checkpoints(session, up_to=size)
    if not kept or kept[-1][0] != size:
        kept.append((size, note))
    pairs = [(a, b) for (a, _), (b, _) in itertools.pairwise(kept)]
    needed: set[tuple[int, int]] = set()
    for a, b in pairs:
        needed |= consistency_proof_nodes(a, b)
    getter = ledger.node_getter(session, needed)
    chain: list[dict[str, Any]] = []
    for i, (s, n) in enumerate(kept):
        proof = consistency_proof(kept[i - 1][0], s, getter) if i else []
        chain.append({"size": s, "note": n, "proof_from_previous": _b64(proof)})
    (folder / "consistency.json").write_text(
        json.dumps({"checkpoints": chain}, indent=1) + "\n", encoding="utf-8"
    )
    keys = {r.name: r.key.format() for r in (ledger.witness.remotes if ledger.witness else [])}
    cosigned = [
        {
            "witness": d.witness,
            "key": keys.get(d.witness),
            "size": d.size,
            "note": d.note,
            "cosignature": d.cosignature,
            "timestamp": d.timestamp,
        }
        for d in stored_cosignatures(session)
        if d.size <= size
    ]
    (folder / "cosignatures.json").write_text(
        json.dumps({"cosignatures": cosigned}, indent=1) + "\n", encoding="utf-8"
    )


@dataclass(slots=True)
class Trust:
    """The keys an auditor pinned: ledger (log) keys and witness keys by name."""

    logs: list[VerifierKey] = field(default_factory=list)
    witnesses: dict[str, CosignerKey] = field(default_factory=dict)

    @classmethod
    def parse(cls, pins: Sequence[str]) -> Trust:
        trust = cls()
        issues: list[Issue] = []
        for i, text in enumerate(pins):
            try:
                key = parse_any_key(text)
            except ConfigError as exc:
                issues.append(Issue(f"--key #{i + 1}", str(exc)))
                continue
            if isinstance(key, CosignerKey):
                trust.witnesses[key.name] = key
            else:
                trust.logs.append(key)
        if issues:
            raise ValidationError(issues)
        return trust

    def log_key_for(
        self, note: str, shipped: VerifierKey, report: VerifyReport
    ) -> VerifierKey | None:
        """The key to check the export with: a pinned one that signed it, else the shipped one."""
        if not self.logs:
            report.pinned = False
            report.key = shipped.format()
            return shipped
        report.pinned = True
        for key in self.logs:
            try:
                open_checkpoint(note, key)
            except LeitstandError:
                continue
            report.key = key.format()
            return key
        report.key = ", ".join(k.format() for k in self.logs)
        report.add(
            None,
            f"the export is not signed by the pinned key ({report.key}); "
            f"it carries key {shipped.format()}",
        )
        return None


def check_manifest(directory: Path, report: VerifyReport) -> None:
    """Every file but manifest.json must be listed with its SHA-256, and nothing else."""
    try:
        data = json.loads((directory / "manifest.json").read_text("utf-8"))
        listed = data["sha256"]
        if not isinstance(listed, dict):
            raise TypeError("sha256 is not an object")
    except FileNotFoundError:
        report.add(None, "manifest.json is missing: the export's files cannot be checked")
        return
    except (ValueError, KeyError, TypeError) as exc:
        report.add(None, f"manifest.json is malformed ({exc})")
        return
    present = {p.name for p in directory.iterdir() if p.name != "manifest.json"}
    for name in sorted(present - set(listed)):
        report.add(None, f"file {name} is not in the manifest (added to the export)")
    for name, digest in sorted(listed.items()):
        path = directory / str(name)
        if "/" in str(name) or str(name) in ("", ".", "..") or name not in present:
            report.add(None, f"file {name} listed in the manifest is missing (removed)")
        elif not path.is_file() or _sha256(path) != digest:
            report.add(None, f"file {name} does not match its manifest hash (changed)")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _load(directory: Path, name: str, key: str) -> list[dict[str, Any]] | None:
    path = directory / name
    if not path.is_file():
        return None
    try:
        items = json.loads(path.read_text("utf-8"))[key]
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise TypeError(f"{key} is not a list of objects")
    except (ValueError, KeyError, TypeError) as exc:
        raise ValidationError([Issue(name, f"malformed ({exc})")]) from exc
    return items


def verify_chain(
    directory: Path,
    verifier: VerifierKey,
    head: Checkpoint,
    trust: Trust,
    report: VerifyReport,
) -> None:
    """Check the consistency chain up to ``head`` and the witness cosignatures."""
    roots: dict[int, bytes] = {}
    chain = _load(directory, "consistency.json", "checkpoints")
    if chain is None:
        report.incomplete.append("the export has no consistency.json (an older export format)")
    else:
        previous: Checkpoint | None = None
        for item in chain:
            try:
                cp = open_checkpoint(str(item["note"]), verifier)
                proof = [base64.b64decode(h, validate=True) for h in item["proof_from_previous"]]
            except (LeitstandError, KeyError, TypeError, ValueError) as exc:
                report.add(None, f"consistency.json: checkpoint {item.get('size')}: {exc}")
                return
            report.checkpoints_checked += 1
            if previous is not None:
                if not verify_consistency(
                    previous.size, cp.size, previous.root_hash, cp.root_hash, proof
                ):
                    report.add(
                        None,
                        f"consistency proof from size {previous.size} to {cp.size} fails: "
                        "the log was not append-only between these checkpoints",
                    )
                report.consistency_proofs_checked += 1
            roots[cp.size] = cp.root_hash
            previous = cp
        if previous is None or (previous.size, previous.root_hash) != (head.size, head.root_hash):
            report.add(None, "consistency.json does not end at the exported checkpoint")
    _verify_cosignatures(directory, verifier, head, trust, roots, report)


def _verify_cosignatures(
    directory: Path,
    verifier: VerifierKey,
    head: Checkpoint,
    trust: Trust,
    roots: dict[int, bytes],
    report: VerifyReport,
) -> None:
    items = _load(directory, "cosignatures.json", "cosignatures") or []
    seen: set[str] = set()
    for item in items:
        name = str(item.get("witness"))
        try:
            line = str(item["cosignature"]).rstrip("\n")
            key_name = line.removeprefix("\u2014 ").split(" ", 1)[0]
            pinned = trust.witnesses.get(key_name)
            if trust.witnesses and pinned is None:
                continue  # a witness the auditor did not pin vouches for nothing here
            key = pinned or CosignerKey.parse(str(item.get("key")))
            note = str(item["note"])
            body, _ = signature_lines(note)
            cp = open_checkpoint(note, verifier)
            found = key.find(body, [line])
        except (LeitstandError, KeyError) as exc:
            report.add(None, f"cosignature of witness {name}: {exc}")
            continue
        if found is None:
            report.add(None, f"cosignature of witness {name} is not by its (pinned) key")
            continue
        seen.add(key.name)
        report.cosignatures_checked += 1
        if cp.size > head.size:
            report.add(
                head.size,
                f"witness {name} cosigned size {cp.size}, larger than the exported head "
                f"{head.size}: the log was rolled back",
            )
        elif cp.size in roots and roots[cp.size] != cp.root_hash:
            report.add(None, f"witness {name} cosigned another root at size {cp.size}")
    for name in sorted(set(trust.witnesses) - seen):
        report.incomplete.append(f"the export holds no cosignature by pinned witness {name}")
    if not trust.witnesses and items:
        report.witnesses_configured = True
