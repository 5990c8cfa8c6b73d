"""Read models of the backup domain (CLI, API and pages) and the API's request bodies."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from leitstand.api_types import Timestamp
from leitstand.backups.model import DrillKind
from leitstand.backups.store import BackupRunRow, DrillRow, load
from leitstand.read_models import IsoTime

__all__ = [
    "DrillDetailOut",
    "DrillDueOut",
    "DrillIn",
    "DrillOut",
    "DrillRequestedOut",
    "DrillView",
    "ObjectiveOut",
    "RunIn",
    "RunOut",
    "RunRequestedOut",
    "RunStateOut",
    "RunView",
    "drill_view",
    "run_view",
]


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
        """The run as JSON (the API's ``RunOut``)."""
        return RunOut.model_validate(self).model_dump(mode="json")


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
        """The drill as JSON (the API's ``DrillDetailOut``, or ``DrillOut`` without protocol)."""
        out = DrillDetailOut if with_protocol else DrillOut
        return out.model_validate(self).model_dump(mode="json")


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


# -- API read models -------------------------------------------------------------------------


class _Out(BaseModel):
    """Read models are filled from the domain's views by attribute (no dict conversion)."""

    model_config = ConfigDict(from_attributes=True, populate_by_name=True)


class RunOut(_Out):
    """A backup run: start, end, size, engine ids, sites, verification."""

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
    due_at: IsoTime | None
    started_at: IsoTime
    finished_at: IsoTime | None
    seconds: float | None
    size_bytes: int | None
    stored_bytes: int | None
    sites: list[dict[str, Any]]
    verification: list[dict[str, Any]]
    expired: list[str]
    error: str | None


class RunRequestedOut(_Out):
    """A backup queued for the scheduler's workers."""

    job_key: str
    system: str
    row: str


class DrillOut(_Out):
    """A recovery drill without its Testprotokoll."""

    id: int
    drill_key: str
    kind: str
    system: str
    trigger: str
    actor: str
    status: str
    started_at: IsoTime
    finished_at: IsoTime | None
    total_seconds: float | None
    rto_seconds: float | None
    within_rto: bool | None
    ledger_index: int | None


class DrillDetailOut(DrillOut):
    """A recovery drill with its Testprotokoll (JSON)."""

    protocol: dict[str, Any] | None


class DrillRequestedOut(_Out):
    """A drill queued for the scheduler's workers."""

    job_key: str
    kind: str
    system: str
    trigger: str
    target: str | None


class RunStateOut(_Out):
    """The latest run of one schedule row of a system."""

    status: str
    started_at: str
    finished_at: str | None
    sites: dict[str, bool]
    error: str | None
    last_success_at: str | None


class DrillDueOut(_Out):
    """An applicable drill of a system with its last result and next due date."""

    kind: str
    test: str
    frequency: str
    last_passed: IsoTime | None
    last_status: str | None
    due: IsoTime | None
    overdue: bool


class ObjectiveOut(_Out):
    """RTO and RPO of one system: objectives, last measurement, estimate, drills due."""

    system: str
    name: str
    priority: str
    configured: bool
    rto_seconds: float
    rpo_seconds: float
    rpo_measured_seconds: float | None = Field(validation_alias="rpo_measured")
    restorable_until: IsoTime | None
    rpo_status: str
    rpo_reason: str
    measured_at: IsoTime | None
    rto_estimate_seconds: float | None = Field(validation_alias="rto_estimate")
    rto_status: str
    runs: dict[str, RunStateOut]
    drills: list[DrillDueOut]
