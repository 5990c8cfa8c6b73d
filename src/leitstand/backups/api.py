"""Backups API: objectives, runs and drills to read; runs and drills to queue (devops)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse, Response

from leitstand.api_types import PathId
from leitstand.auth.api import requires
from leitstand.auth.model import ALL_ROLES, READ_ROLES, Actor, Role
from leitstand.backups.drills import DrillService
from leitstand.backups.monitor import BackupMonitor
from leitstand.backups.schemas import (
    DrillDetailOut,
    DrillIn,
    DrillOut,
    DrillRequestedOut,
    ObjectiveOut,
    RunIn,
    RunOut,
    RunRequestedOut,
)
from leitstand.backups.service import BackupService
from leitstand.deps import provide
from leitstand.errors import Issue, ValidationError

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/backups", tags=["backups"])

Backups = Annotated[BackupService, provide(BackupService)]
Drills = Annotated[DrillService, provide(DrillService)]
Monitor = Annotated[BackupMonitor, provide(BackupMonitor)]


@router.get("/objectives")
def objectives(monitor: Monitor, _: Annotated[Actor, requires(*ALL_ROLES)]) -> list[ObjectiveOut]:
    """RTO and RPO per system: objectives, last measurement, estimate, drills due."""
    return [ObjectiveOut.model_validate(o) for o in monitor.objectives()]


@router.get("/runs")
def runs(
    backups: Backups,
    _: Annotated[Actor, requires(*READ_ROLES)],
    system: str | None = Query(default=None, max_length=100),
    row: str | None = Query(default=None, max_length=100),
    limit: int = Query(default=50, ge=1, le=1000),
) -> list[RunOut]:
    """Backup runs, newest first: start, end, size, engine ids, sites, verification."""
    return [RunOut.model_validate(r) for r in backups.runs(system=system, row=row, limit=limit)]


@router.get("/runs/{run_id}")
def run(run_id: PathId, backups: Backups, _: Annotated[Actor, requires(*READ_ROLES)]) -> RunOut:
    """One backup run."""
    return RunOut.model_validate(backups.get_run(run_id))


@router.post("/runs", status_code=202)
def request_run(
    body: RunIn, backups: Backups, actor: Annotated[Actor, requires(Role.DEVOPS)]
) -> RunRequestedOut:
    """Queue a backup of one schedule row now; the scheduler runs it in the background."""
    return backups.request_run(system=body.system, row=body.row, actor=actor)


@router.get("/drills")
def drills(
    service: Drills,
    _: Annotated[Actor, requires(*READ_ROLES)],
    system: str | None = Query(default=None, max_length=100),
    limit: int = Query(default=50, ge=1, le=1000),
) -> list[DrillOut]:
    """Recovery drills, newest first (without their Testprotokoll)."""
    return [DrillOut.model_validate(d) for d in service.drills(system=system, limit=limit)]


@router.get(
    "/drills/{drill_id}",
    response_model=DrillDetailOut,
    responses={200: {"content": {"text/markdown": {"schema": {"type": "string"}}}}},
)
def drill(
    drill_id: PathId,
    service: Drills,
    _: Annotated[Actor, requires(*READ_ROLES)],
    format: str = Query(default="json", pattern="^(json|md)$"),
    lang: str = Query(default="de", pattern="^(de|en)$"),
) -> DrillDetailOut | Response:
    """One drill with its Testprotokoll (``format=md`` for the Markdown, German by default)."""
    if format == "md":
        return PlainTextResponse(service.markdown(drill_id, lang), media_type="text/markdown")
    return DrillDetailOut.model_validate(service.get(drill_id))


@router.post("/drills", status_code=202)
def request_drill(
    body: DrillIn, service: Drills, actor: Annotated[Actor, requires(Role.DEVOPS)]
) -> DrillRequestedOut:
    """Queue a recovery drill now; the scheduler runs it in the background."""
    target = body.target
    if target is not None and target.tzinfo is None:
        raise ValidationError([Issue("target", "a time with an offset, e.g. 2026-11-27T10:00Z")])
    return service.request(kind=body.kind, system=body.system, actor=actor, target=target)
