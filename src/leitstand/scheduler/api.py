"""Scheduler API: the durable timers, soonest first (read-only, for operators and auditors)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from leitstand.auth.api import requires
from leitstand.auth.model import Actor, Role
from leitstand.deps import provide
from leitstand.scheduler.schemas import JobOut
from leitstand.scheduler.service import Scheduler

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/scheduler", tags=["scheduler"])
Timers = Annotated[Scheduler, provide(Scheduler)]
_READ = (Role.DEVOPS, Role.AUDITOR, Role.COMPLIANCE_OFFICER)


@router.get("/jobs")
def jobs(
    scheduler: Timers,
    _: Annotated[Actor, requires(*_READ)],
    status: str | None = None,
) -> list[JobOut]:
    """Durable timers, soonest first."""
    return [JobOut.model_validate(j) for j in scheduler.jobs(status=status)]
