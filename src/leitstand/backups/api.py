"""Backups API: objectives, runs and drills to read; runs and drills to queue (devops)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse, Response

from leitstand.api_types import PathId
from leitstand.auth.api import requires
from leitstand.auth.model import ALL_ROLES, READ_ROLES, Actor, Role
from leitstand.backups.schemas import DrillIn, RunIn
from leitstand.deps import container_of
from leitstand.errors import Issue, ValidationError

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/backups", tags=["backups"])


@router.get("/objectives")
def objectives(request: Request, _: Annotated[Actor, requires(*ALL_ROLES)]) -> list[dict[str, Any]]:
    """RTO and RPO per system: objectives, last measurement, estimate, drills due."""
    return [o.as_dict() for o in container_of(request).backup_monitor.objectives()]


@router.get("/runs")
def runs(
    request: Request,
    _: Annotated[Actor, requires(*READ_ROLES)],
    system: str | None = Query(default=None, max_length=100),
    row: str | None = Query(default=None, max_length=100),
    limit: int = Query(default=50, ge=1, le=1000),
) -> list[dict[str, Any]]:
    """Backup runs, newest first: start, end, size, engine ids, sites, verification."""
    found = container_of(request).backups.runs(system=system, row=row, limit=limit)
    return [r.as_dict() for r in found]


@router.get("/runs/{run_id}")
def run(
    request: Request, run_id: PathId, _: Annotated[Actor, requires(*READ_ROLES)]
) -> dict[str, Any]:
    """One backup run."""
    return container_of(request).backups.get_run(run_id).as_dict()


@router.post("/runs", status_code=202)
def request_run(
    body: RunIn, request: Request, actor: Annotated[Actor, requires(Role.DEVOPS)]
) -> dict[str, Any]:
    """Queue a backup of one schedule row now; the scheduler runs it in the background."""
    return container_of(request).backups.request_run(system=body.system, row=body.row, actor=actor)


@router.get("/drills")
def drills(
    request: Request,
    _: Annotated[Actor, requires(*READ_ROLES)],
    system: str | None = Query(default=None, max_length=100),
    limit: int = Query(default=50, ge=1, le=1000),
) -> list[dict[str, Any]]:
    """Recovery drills, newest first (without their Testprotokoll)."""
    found = container_of(request).drills.drills(system=system, limit=limit)
    return [d.as_dict(with_protocol=False) for d in found]


@router.get("/drills/{drill_id}", response_model=None)
def drill(
    request: Request,
    drill_id: PathId,
    _: Annotated[Actor, requires(*READ_ROLES)],
    format: str = Query(default="json", pattern="^(json|md)$"),
    lang: str = Query(default="de", pattern="^(de|en)$"),
) -> dict[str, Any] | Response:
    """One drill with its Testprotokoll (``format=md`` for the Markdown, German by default)."""
    service = container_of(request).drills
    if format == "md":
        return PlainTextResponse(service.markdown(drill_id, lang), media_type="text/markdown")
    return service.get(drill_id).as_dict()


@router.post("/drills", status_code=202)
def request_drill(
    body: DrillIn, request: Request, actor: Annotated[Actor, requires(Role.DEVOPS)]
) -> dict[str, Any]:
    """Queue a recovery drill now; the scheduler runs it in the background."""
    target = body.target
    if target is not None and target.tzinfo is None:
        raise ValidationError([Issue("target", "a time with an offset, e.g. 2026-11-27T10:00Z")])
    return container_of(request).drills.request(
        kind=body.kind, system=body.system, actor=actor, target=target
    )
