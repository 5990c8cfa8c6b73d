"""Wire schemas of the gate API: recorded gate runs as the evidence ledger holds them."""

from __future__ import annotations

from pydantic import BaseModel, Field

from leitstand.ledger.canonical import Entry

__all__ = ["GateRunOut"]


class GateRunOut(BaseModel):
    """One recorded gate run (a ``gate.run`` evidence entry): result per stage and check."""

    index: int = Field(description="ledger index of the run's evidence entry")
    time: str
    actor: str
    project: str
    version: str
    commit: str | None = None
    status: str = Field(description="pass, fail or skip")
    stages: dict[str, str] = Field(default_factory=dict, description="stage -> status")
    checks: dict[str, str] = Field(default_factory=dict, description="check id -> status")
    not_run: list[str] = Field(default_factory=list)
    change_id: int | None = None
    duration_s: float | None = None
    report_sha256: str | None = None
    service: str | None = None
    artifact_digests: list[str] = Field(default_factory=list)

    @classmethod
    def of(cls, entry: Entry) -> GateRunOut:
        return cls.model_validate(
            {**entry.payload, "index": entry.index, "time": entry.time, "actor": entry.actor}
        )
