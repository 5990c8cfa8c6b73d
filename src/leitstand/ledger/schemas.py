"""Wire schemas of the audit API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from leitstand.ledger.canonical import Entry
from leitstand.ledger.ownership import is_manual

__all__ = ["EntryIn", "EntryOut", "ProofOut", "VerifyOut"]


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
        data = entry.as_dict()
        del data["v"]
        data["manual"] = is_manual(entry.action)
        return cls.model_validate(data)


class ProblemOut(BaseModel):
    index: int | None
    message: str


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
    witnesses: list[dict[str, str | int | None]] = Field(
        default_factory=list, description="each configured witness: name, url, size, status"
    )
    cosignatures_checked: int = 0
    notes: list[str] = Field(default_factory=list)


class ProofOut(BaseModel):
    index: int
    tree_size: int
    leaf_hash: str = Field(description="base64")
    hashes: list[str] = Field(description="base64, RFC 9162 inclusion path")
    checkpoint: str = Field(description="signed checkpoint note")
    verified: bool
    entry: EntryOut
