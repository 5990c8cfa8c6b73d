"""Web pages: change records with their approvals, and the Änderungsprotokoll with its exports."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from leitstand.api_types import PathId
from leitstand.auth.model import READ_ROLES, Actor, Role
from leitstand.changes.schemas import ChangeLogRowOut, ChangeOut
from leitstand.changes.service import ChangeService
from leitstand.deps import provide
from leitstand.errors import LeitstandError
from leitstand.web.i18n import act_or_redisplay, register_nav, register_texts
from leitstand.web.render import page, render, request_lang

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
_READ = (*READ_ROLES, Role.DEVELOPER, Role.QA, Role.PRODUCT_OWNER)
_DECIDE = (Role.COMPLIANCE_OFFICER, Role.DEVOPS, Role.MANAGEMENT, Role.SECURITY)
Changes = Annotated[ChangeService, provide(ChangeService)]

register_nav("/changes", de="Änderungen", en="Changes", order=25)
register_texts(
    {
        "chg_title": ("Änderungen", "Changes"),
        "chg_records": ("Change-Records", "Change records"),
        "chg_log": ("Änderungsprotokoll", "Change log"),
        "chg_category": ("Kategorie", "Category"),
        "chg_status": ("Status", "Status"),
        "chg_requester": ("Beantragt von", "Requested by"),
        "chg_approved_by": ("Genehmigt von", "Approved by"),
        "chg_deployed": ("Deployed (Produktion)", "Deployed (production)"),
        "chg_what": ("Was (technisch)", "What (technical)"),
        "chg_why": ("Warum", "Why"),
        "chg_rollback": ("Rollback-Plan", "Rollback plan"),
        "chg_tests": ("Tests", "Tests"),
        "chg_approve": ("Genehmigen", "Approve"),
        "chg_reject": ("Ablehnen", "Reject"),
        "chg_comment": ("Kommentar", "Comment"),
        "chg_export_md": ("Export Markdown", "Export Markdown"),
        "chg_export_csv": ("Export CSV", "Export CSV"),
        "chg_none": ("Noch keine Änderungen.", "No changes yet."),
        "chg_event": ("Ereignis", "Event"),
        "chg_details": ("Details", "Details"),
        "chg_review_due": ("Nachträgliche Genehmigung fällig", "Retrospective review due"),
        "chg_version": ("Version", "Version"),
    }
)


def _may_decide(actor: Actor) -> bool:
    return actor.role in {r.value for r in _DECIDE}


def _index(
    request: Request,
    changes: ChangeService,
    actor: Actor,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    lang = request_lang(request)
    rows = changes.log(lang=lang)[-200:]
    return render(
        request,
        "changes/index.html",
        {
            "actor": actor,
            "changes": [ChangeOut.of(c) for c in changes.list()],
            "log": [ChangeLogRowOut.of(r) for r in reversed(rows)],
            "may_decide": _may_decide(actor),
            "error": error,
        },
        status=status,
    )


@router.get("/changes", response_class=HTMLResponse)
def changes_page(
    request: Request, changes: Changes, actor: Annotated[Actor, page(*_READ)]
) -> Response:
    return _index(request, changes, actor)


@router.get("/changes/log.{fmt}", response_model=None)
def export(
    fmt: str, request: Request, changes: Changes, _: Annotated[Actor, page(*_READ)]
) -> Response:
    lang = request_lang(request)
    try:
        text = changes.export_log(fmt, lang=lang)
    except LeitstandError as exc:
        return PlainTextResponse(exc.message, status_code=exc.http_status)
    name = ("aenderungsprotokoll" if lang == "de" else "change-log") + f".{fmt}"
    media = "text/markdown" if fmt == "md" else "text/csv"
    return PlainTextResponse(
        text,
        media_type=f"{media}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/changes/{change_id}", response_class=HTMLResponse)
def change_page(
    change_id: PathId, request: Request, changes: Changes, actor: Annotated[Actor, page(*_READ)]
) -> Response:
    lang = request_lang(request)
    change = ChangeOut.of(changes.get(change_id))
    return render(
        request,
        "changes/detail.html",
        {
            "actor": actor,
            "change": change,
            "deployed": change.deployed_at,
            "log": [ChangeLogRowOut.of(r) for r in changes.log(change_id=change_id, lang=lang)],
            "may_decide": _may_decide(actor),
        },
    )


@router.post("/changes/{change_id}/decide")
def decide(
    change_id: PathId,
    request: Request,
    changes: Changes,
    actor: Annotated[Actor, page(*_DECIDE)],
    approve: Annotated[bool, Form()] = True,
    comment: Annotated[str, Form()] = "",
) -> Response:
    return act_or_redisplay(
        lambda: changes.decide(change_id=change_id, actor=actor, approve=approve, comment=comment),
        f"/changes/{change_id}",
        lambda exc: _index(request, changes, actor, error=exc.message, status=exc.http_status),
    )
