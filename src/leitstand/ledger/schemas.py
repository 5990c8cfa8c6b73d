"""Wire schemas of the audit API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from leitstand.ledger.canonical import Entry
from leitstand.ledger.ownership import is_manual
from leitstand.ledger.verify import VerifyReport

__all__ = [
    "CheckpointOut",
    "EntryIn",
    "EntryOut",
    "ProblemOut",
    "ProofOut",
    "VerifyOut",
    "WitnessOut",
]


class EntryIn(BaseModel):
    model_config = {"extra": "forbid"}

    action: str = Field(min_length=1, max_length=200, examples=["manual.maintenance"])
    subject: str = Field(min_length=1, max_length=500, examples=["service:enterprise-api"])
    tenant: str | None = Field(default=None, max_length=200)
    payload: dict[str, Any] = Field(default_factory=dict)


class EntryOut(BaseModel):
    index: int
    time: str
    actor: str
    role: str
    action: str
    subject: str
    tenant: str | None
    payload: dict[str, Any]
    manual: bool = Field(
        default=False,
        description="written through the manual route (action manual.*), not by a service",
    )

    @classmethod
    def of(cls, entry: Entry) -> EntryOut:
        return cls(
            index=entry.index,
            time=entry.time,
            actor=entry.actor,
            role=entry.role,
            action=entry.action,
            subject=entry.subject,
            tenant=entry.tenant,
            payload=dict(entry.payload),
            manual=is_manual(entry.action),
        )


class ProblemOut(BaseModel):
    index: int | None
    message: str


class WitnessOut(BaseModel):
    name: str
    url: str
    size: int | None = Field(description="tree size the witness last cosigned, if any")
    status: str


class VerifyOut(BaseModel):
    ok: bool
    size: int
    entries_checked: int
    checkpoints_checked: int
    witness_checked: int
    bytes_hashed: int
    seconds: float
    first_bad_index: int | None
    problems: list[ProblemOut]
    complete: bool = Field(
        default=True, description="false: a witness could not be asked (CLI exit code 3)"
    )
    incomplete: list[str] = Field(default_factory=list)
    witnesses_configured: bool = False
    witnesses: list[WitnessOut] = Field(
        default_factory=list, description="each configured witness: name, url, size, status"
    )
    cosignatures_checked: int = 0
    notes: list[str] = Field(default_factory=list)

    @classmethod
    def of(cls, report: VerifyReport) -> VerifyOut:
        return cls(
            ok=report.ok,
            size=report.size,
            entries_checked=report.entries_checked,
            checkpoints_checked=report.checkpoints_checked,
            witness_checked=report.witness_checked,
            bytes_hashed=report.bytes_hashed,
            seconds=round(report.seconds, 3),
            first_bad_index=report.first_bad_index,
            problems=[ProblemOut(index=p.index, message=p.message) for p in report.problems],
            complete=report.complete,
            incomplete=list(report.incomplete),
            witnesses_configured=report.witnesses_configured,
            witnesses=[WitnessOut.model_validate(w) for w in report.witnesses],
            cosignatures_checked=report.cosignatures_checked,
            notes=report.notes(),
        )


class ProofOut(BaseModel):
    index: int
    tree_size: int
    leaf_hash: str = Field(description="base64")
    hashes: list[str] = Field(description="base64, RFC 9162 inclusion path")
    checkpoint: str = Field(description="signed checkpoint note")
    verified: bool
    entry: EntryOut


class CheckpointOut(BaseModel):
    size: int = Field(description="entries in the ledger")
    note: str | None = Field(description="the latest signed checkpoint note (null: empty ledger)")
    verifier_key: str = Field(description="the ledger's verifier key (vkey)")
