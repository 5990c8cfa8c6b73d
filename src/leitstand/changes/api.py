"""Change API: open, approve, reject, show, list. Approval roles are checked per category."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse, Response

from leitstand.api_types import PathId, QueryId, QueryTimestamp
from leitstand.auth.api import requires
from leitstand.auth.model import READ_ROLES, Actor, Role
from leitstand.changes.schemas import ChangeIn, ChangeLogRowOut, ChangeOut, DecisionIn
from leitstand.changes.service import ChangeService
from leitstand.deps import provide

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/changes", tags=["changes"])
_OPEN = (Role.DEVELOPER, Role.DEVOPS, Role.PRODUCT_OWNER, Role.SECURITY)
# Who may approve which category is the policy's (changes.categories); the service checks it.
_DECIDE = (Role.COMPLIANCE_OFFICER, Role.DEVOPS, Role.MANAGEMENT, Role.SECURITY)
_READ = (*READ_ROLES, Role.DEVELOPER, Role.QA, Role.PRODUCT_OWNER)
Changes = Annotated[ChangeService, provide(ChangeService)]


@router.get("")
def list_changes(
    changes: Changes,
    _: Annotated[Actor, requires(*_READ)],
    service: str | None = None,
    status: str | None = None,
) -> list[ChangeOut]:
    """Change records, newest first."""
    return [ChangeOut.of(c) for c in changes.list(service=service, status=status)]


@router.post("", status_code=201)
def open_change(
    body: ChangeIn, changes: Changes, actor: Annotated[Actor, requires(*_OPEN)]
) -> ChangeOut:
    """Open a change record (a standard change is approved by the pipeline at once)."""
    fields = {"what": body.what, "why": body.why, "rollback": body.rollback, "tests": body.tests}
    change = changes.open(
        service=body.service,
        version=body.version,
        category=body.category,
        fields=fields,
        actor=actor,
    )
    return ChangeOut.of(change)


@router.get("/log", response_model=list[ChangeLogRowOut])
def change_log(
    changes: Changes,
    _: Annotated[Actor, requires(*_READ)],
    service: str | None = None,
    change: QueryId | None = None,
    since: QueryTimestamp | None = None,
    until: QueryTimestamp | None = None,
    format: str = "json",
    lang: str = "de",
) -> list[ChangeLogRowOut] | Response:
    """The Änderungsprotokoll (a view of the ledger): JSON, or ``format=md|csv`` to export."""
    if format == "json":
        rows = changes.log(service=service, change_id=change, since=since, until=until, lang=lang)
        return [ChangeLogRowOut.of(row) for row in rows]
    text = changes.export_log(
        format, service=service, change_id=change, since=since, until=until, lang=lang
    )
    media = "text/markdown" if format == "md" else "text/csv"
    name = f"aenderungsprotokoll.{format}" if lang != "en" else f"change-log.{format}"
    return PlainTextResponse(
        text,
        media_type=f"{media}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/{change_id}")
def show_change(
    change_id: PathId, changes: Changes, _: Annotated[Actor, requires(*_READ)]
) -> ChangeOut:
    """One change record with its approvals."""
    return ChangeOut.of(changes.get(change_id))


@router.post("/{change_id}/approve")
def approve_change(
    change_id: PathId,
    body: DecisionIn,
    changes: Changes,
    actor: Annotated[Actor, requires(*_DECIDE)],
) -> ChangeOut:
    """Approve: the category's role, never the requester (four eyes)."""
    change = changes.decide(change_id=change_id, actor=actor, approve=True, comment=body.comment)
    return ChangeOut.of(change)


@router.post("/{change_id}/reject")
def reject_change(
    change_id: PathId,
    body: DecisionIn,
    changes: Changes,
    actor: Annotated[Actor, requires(*_DECIDE)],
) -> ChangeOut:
    """Reject a change waiting for approval."""
    change = changes.decide(change_id=change_id, actor=actor, approve=False, comment=body.comment)
    return ChangeOut.of(change)
