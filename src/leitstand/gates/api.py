"""Gate API: the recorded gate runs (running the gates is a CLI/CI job, not an HTTP request)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from leitstand.auth.api import requires
from leitstand.auth.model import READ_ROLES, Actor, Role
from leitstand.deps import container_of

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/gates", tags=["gates"])


@router.get("/runs")
def runs(
    request: Request,
    _: Annotated[Actor, requires(*READ_ROLES, Role.DEVELOPER, Role.QA)],
    project: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[dict[str, Any]]:
    """Gate runs from the evidence ledger, newest first: result per stage and check."""
    return container_of(request).gates.runs(project=project, limit=limit)
