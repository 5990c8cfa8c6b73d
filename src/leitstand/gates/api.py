"""Gate API: the recorded gate runs (running the gates is a CLI/CI job, not an HTTP request)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from leitstand.auth.api import requires
from leitstand.auth.model import READ_ROLES, Actor, Role
from leitstand.deps import provide
from leitstand.gates.schemas import GateRunOut
from leitstand.gates.service import GateService

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/gates", tags=["gates"])
Gates = Annotated[GateService, provide(GateService)]


@router.get("/runs", response_model=list[GateRunOut])
def runs(
    gates: Gates,
    _: Annotated[Actor, requires(*READ_ROLES, Role.DEVELOPER, Role.QA)],
    project: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[GateRunOut]:
    """Gate runs from the evidence ledger, newest first: result per stage and check, and each
    run's id (what `leitstand image sign --gate-run` takes)."""
    return [GateRunOut.of(e, run_id) for e, run_id in gates.runs(project=project, limit=limit)]
