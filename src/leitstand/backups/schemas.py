"""Read models of the backup domain (CLI, API and pages) and the API's request bodies."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from leitstand.api_types import Timestamp
from leitstand.backups.model import DrillKind
from leitstand.backups.store import BackupRunRow, DrillRow, load

__all__ = [
    "DrillIn",
    "DrillView",
    "RunIn",
    "RunView",
    "drill_view",
    "run_view",
]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass(frozen=True, slots=True)
class RunView:
    """A backup run as operators see it."""

    id: int
    run_key: str
    system: str
    row: str
    data: str
    method: str
    engine: str
    trigger: str
    actor: str
    status: str
    attempts: int
    due_at: datetime | None
    started_at: datetime
    finished_at: datetime | None
    size_bytes: int | None
    stored_bytes: int | None
    sites: list[dict[str, Any]] = field(default_factory=list)
    verification: list[dict[str, Any]] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return round((self.finished_at - self.started_at).total_seconds(), 3)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "run_key": self.run_key,
            "system": self.system,
            "row": self.row,
            "data": self.data,
            "method": self.method,
            "engine": self.engine,
            "trigger": self.trigger,
            "actor": self.actor,
            "status": self.status,
            "attempts": self.attempts,
            "due_at": _iso(self.due_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "seconds": self.seconds,
            "size_bytes": self.size_bytes,
            "stored_bytes": self.stored_bytes,
            "sites": self.sites,
            "verification": self.verification,
            "expired": self.expired,
            "error": self.error,
        }


def run_view(row: BackupRunRow) -> RunView:
    return RunView(
        id=row.id,
        run_key=row.run_key,
        system=row.system,
        row=row.row,
        data=row.data,
        method=row.method,
        engine=row.engine,
        trigger=row.trigger,
        actor=row.actor,
        status=row.status,
        attempts=row.attempts,
        due_at=row.due_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        size_bytes=row.size_bytes,
        stored_bytes=row.stored_bytes,
        sites=load(row.sites) or [],
        verification=load(row.verification) or [],
        expired=load(row.expired) or [],
        error=row.error,
    )


@dataclass(frozen=True, slots=True)
class DrillView:
    """A recovery drill with its Testprotokoll (JSON)."""

    id: int
    drill_key: str
    kind: str
    system: str
    trigger: str
    actor: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    total_seconds: float | None
    rto_seconds: float | None
    within_rto: bool | None
    protocol: dict[str, Any] | None
    ledger_index: int | None

    def as_dict(self, *, with_protocol: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "drill_key": self.drill_key,
            "kind": self.kind,
            "system": self.system,
            "trigger": self.trigger,
            "actor": self.actor,
            "status": self.status,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "total_seconds": self.total_seconds,
            "rto_seconds": self.rto_seconds,
            "within_rto": self.within_rto,
            "ledger_index": self.ledger_index,
        }
        if with_protocol:
            data["protocol"] = self.protocol
        return data


def drill_view(row: DrillRow) -> DrillView:
    return DrillView(
        id=row.id,
        drill_key=row.drill_key,
        kind=row.kind,
        system=row.system,
        trigger=row.trigger,
        actor=row.actor,
        status=row.status,
        started_at=row.started_at,
        finished_at=row.finished_at,
        total_seconds=row.total_seconds,
        rto_seconds=row.rto_seconds,
        within_rto=row.within_rto,
        protocol=load(row.protocol),
        ledger_index=row.ledger_index,
    )


class RunIn(BaseModel):
    """Ask for a backup now; it runs in the background under the scheduler's lease."""

    model_config = ConfigDict(extra="forbid")

    system: str = Field(min_length=1, examples=["enterprise-api"])
    row: str = Field(min_length=1, examples=["database_full"])


class DrillIn(BaseModel):
    """Ask for a recovery drill now; it runs in the background under the scheduler's lease."""

    model_config = ConfigDict(extra="forbid")

    kind: DrillKind
    system: str = Field(min_length=1, examples=["enterprise-api"])
    target: Timestamp | None = Field(default=None, description="pitr: the point to restore to")
