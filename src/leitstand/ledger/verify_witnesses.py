"""The parts of ``audit verify`` that look beyond the entries: witnesses and the folder copy.

- Each configured witness is asked for the latest checkpoint it cosigned (tlog-witness
  monitoring read). It must verify with the ledger's key and carry the witness's cosignature;
  its size and root become a target of the streaming pass, so a cosigned tree larger than the
  local one (a rollback) or with another root (a rewrite) is tampering, naming the witness and
  the sizes. A witness that cannot be reached makes the result incomplete.
- Stored cosignatures (``ledger_witness_deliveries``) are checked and become targets too.
- The folder copy must still hold every kept checkpoint the database records as copied: a
  missing folder or a shortened copy history is tampering, not silence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from leitstand.db import Session
from leitstand.errors import LeitstandError
from leitstand.ledger.checkpoint import Checkpoint, VerifierKey
from leitstand.ledger.cosign import signature_lines
from leitstand.ledger.store import entries as store
from leitstand.ledger.witness import CheckpointCopy
from leitstand.ledger.witness_client import WitnessUnreachable
from leitstand.ledger.witnessing import Witnessing, stored_cosignatures

if TYPE_CHECKING:
    from leitstand.ledger.verify import VerifyReport

__all__ = ["ask_witnesses", "check_copy_history", "stored_targets"]

Target = tuple[int, bytes, str]


def ask_witnesses(
    witnessing: Witnessing, verifier: VerifierKey, report: VerifyReport
) -> list[Target]:
    """Fetch every witness's latest cosigned checkpoint; problems and gaps go to ``report``."""
    report.witnesses_configured = bool(witnessing.remotes)
    targets: list[Target] = []
    for remote in witnessing.remotes:
        entry: dict[str, object] = {"name": remote.name, "url": remote.url, "size": None}
        try:
            latest = remote.latest(verifier.name, verifier)
        except WitnessUnreachable as exc:
            entry["status"] = f"could not be reached ({exc})"
            report.incomplete.append(f"witness {remote.name} could not be reached: {exc}")
        except LeitstandError as exc:
            entry["status"] = f"serves a checkpoint that does not verify: {exc}"
            report.add(
                None, f"witness {remote.name}: its latest checkpoint does not verify ({exc})"
            )
        else:
            if latest is None:
                entry["status"] = "has not cosigned any checkpoint of this ledger yet"
            else:
                size = latest.checkpoint.size
                entry.update(size=size, status=f"cosigned size {size}")
                report.cosignatures_checked += 1
                targets.append(
                    (size, latest.checkpoint.root_hash, f"witness {remote.name} cosigned")
                )
        report.witnesses.append(entry)
    return targets


def stored_targets(session: Session, witnessing: Witnessing, report: VerifyReport) -> list[Target]:
    """The cosignatures stored in the ledger, each verified against its witness's key."""
    keys = {r.name: r.key for r in witnessing.remotes}
    targets: list[Target] = []
    for delivery in stored_cosignatures(session):
        key = keys.get(delivery.witness)
        if key is None:
            continue  # a witness no longer configured: its key is not trusted any more
        try:
            body, _ = signature_lines(delivery.note)
            cosignature = key.find(body, [delivery.cosignature.rstrip("\n")])
            checkpoint = Checkpoint.parse(body)
        except LeitstandError as exc:
            report.add(None, f"stored cosignature of witness {delivery.witness}: {exc}")
            continue
        if cosignature is None or checkpoint.size != delivery.size:
            report.add(
                None,
                f"stored cosignature of witness {delivery.witness} at size {delivery.size} "
                "does not verify with its key",
            )
            continue
        report.cosignatures_checked += 1
        targets.append(
            (checkpoint.size, checkpoint.root_hash, f"stored {delivery.witness}-cosigned")
        )
    return targets


def check_copy_history(session: Session, copy: CheckpointCopy | None, report: VerifyReport) -> None:
    """The folder must hold every checkpoint the database says it copied there, unchanged."""
    if copy is None:
        return
    copied = store.copied_checkpoints(session, str(copy.directory))
    if not copied:
        return
    folder = copy.directory / "checkpoints"
    if not folder.is_dir():
        report.add(
            None,
            f"the checkpoint copy folder {copy.directory} is missing, but {len(copied)} kept "
            f"checkpoints (up to size {copied[-1][0]}) were copied there: it was deleted",
        )
        return
    held = dict(copy.notes())
    missing = [int(size) for size, _ in copied if int(size) not in held]
    changed = [int(size) for size, note in copied if int(size) in held and held[size] != note]
    if missing:
        report.add(
            None,
            f"the checkpoint copy history was shortened: {len(missing)} copied checkpoints are "
            f"gone from {copy.directory} (sizes {_sizes(missing)})",
        )
    if changed:
        report.add(
            None,
            f"copied checkpoints were replaced in {copy.directory} (sizes {_sizes(changed)})",
        )


def _sizes(sizes: list[int]) -> str:
    shown = ", ".join(str(s) for s in sizes[:5])
    return shown + (f" and {len(sizes) - 5} more" if len(sizes) > 5 else "")
