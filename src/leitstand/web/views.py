"""Web pages: sign-in with a token, and the overview of policy, tenants, recovery objectives
and evidence."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from leitstand.auth.api import COOKIE_NAME, check_csrf, public, session_cookie_secure
from leitstand.auth.model import ALL_ROLES, READ_ROLES, Actor, Role
from leitstand.auth.service import AuthService
from leitstand.backups.monitor import BackupMonitor
from leitstand.backups.objectives import Objective
from leitstand.backups.report import seconds_text
from leitstand.deps import container_of, provide
from leitstand.errors import AuthenticationError
from leitstand.ledger.audit import AuditService
from leitstand.ledger.ownership import is_manual
from leitstand.policy.model import Policy
from leitstand.web.i18n import nav_entries, translator
from leitstand.web.render import (
    human_duration,
    page,
    render,
    request_lang,
)

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _policy_file(request: Request) -> Path | None:
    # The file the running policy was loaded from: a fact of the composition root, not a
    # service, so it is the one thing read from the container itself.
    return container_of(request).policy_file


Auth = Annotated[AuthService, provide(AuthService)]
Audit = Annotated[AuditService, provide(AuditService)]
Monitor = Annotated[BackupMonitor, provide(BackupMonitor)]
CurrentPolicy = Annotated[Policy, provide(Policy)]
PolicyFile = Annotated[Path | None, Depends(_policy_file)]


@router.get("/login", response_class=HTMLResponse, dependencies=[public()])
def login_form(request: Request, next: str = "/") -> Response:
    return render(request, "login.html", {"next": _safe_next(next), "error": None})


@router.post("/login", response_class=HTMLResponse, dependencies=[public()])
def login(
    request: Request,
    auth: Auth,
    token: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    # A cross-site sign-in (login CSRF) is refused before this by the web security middleware.
    try:
        session_id, _actor = auth.start_session(token.strip())
    except AuthenticationError:
        return render(
            request,
            "login.html",
            {"next": _safe_next(next), "error": translator(request_lang(request))["bad_token"]},
            status=401,
        )
    response = RedirectResponse(_safe_next(next), status_code=303)
    # The cookie holds a random session id, never the token (which stays with its owner).
    response.set_cookie(
        COOKIE_NAME,
        session_id,
        httponly=True,
        samesite="strict",
        secure=session_cookie_secure(request),
        path="/",
    )
    return response


@router.post("/logout", dependencies=[public()])
async def logout(request: Request, auth: Auth) -> Response:
    """Sign out: the session is revoked server-side, so a copied cookie is refused too."""
    session_id = request.cookies.get(COOKIE_NAME, "")
    if session_id:
        sessions = auth.sessions
        try:
            web = await run_in_threadpool(sessions.resolve, session_id)
        except AuthenticationError:
            web = None  # already ended or expired: only the cookie is left to clear
        if web is not None:
            await check_csrf(request, web.csrf_token)
            await run_in_threadpool(sessions.end, session_id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(
        COOKIE_NAME, httponly=True, samesite="strict", secure=session_cookie_secure(request)
    )
    return response


@router.get("/", response_class=HTMLResponse)
def overview(
    request: Request,
    actor: Annotated[Actor, page(*ALL_ROLES)],
    audit: Audit,
    monitor: Monitor,
    policy: CurrentPolicy,
    policy_file: PolicyFile,
) -> Response:
    head_size, latest = audit.latest(15)
    last = audit.last_verification()
    lang = request_lang(request)
    # Stored readings only: the monitor's scheduled job measures, the overview never connects.
    objectives = [_objective_row(o, lang) for o in monitor.objectives()]
    systems = [
        {
            "id": sid,
            "name": svc.name,
            "rto": human_duration(svc.rto),
            "rpo": human_duration(svc.rpo),
            "priority": str(getattr(svc.priority, "value", svc.priority)),
        }
        for sid, svc in policy.services.items()
    ]
    tenants = [{"id": tid, "name": tenant.name} for tid, tenant in policy.tenants.items()]
    verification = None
    if last is not None:
        # The verifier's own record, never a ledger payload (anyone may write manual entries).
        verification = {
            "ok": last.ok,
            "size": last.entries_checked,
            "first_bad_index": last.first_bad_index,
            "problems": last.problems,
            "incomplete": last.incomplete,
            "time": last.verified_at,
            "actor": last.actor,
        }
    return render(
        request,
        "overview.html",
        {
            "actor": actor,
            "systems": systems,
            "tenants": tenants,
            "objectives": objectives,
            "backups_path": _page_path("/backups", lang),
            "entries": [
                {
                    "index": e.index,
                    "time": e.time,
                    "actor": e.actor,
                    "action": e.action,
                    "manual": is_manual(e.action),
                    "subject": e.subject,
                    "tenant": e.tenant or "",
                }
                for e in latest
            ],
            "head_size": head_size,
            "verification": verification,
            "can_verify": Role(actor.role) in READ_ROLES,
            "can_export": actor.role in (Role.AUDITOR.value, Role.COMPLIANCE_OFFICER.value),
            "policy_file": str(policy_file) if policy_file else None,
        },
    )


@router.post("/ui/verify")
def verify_now(audit: Audit, actor: Annotated[Actor, page(*READ_ROLES)]) -> Response:
    audit.verify(actor=actor)
    return RedirectResponse("/", status_code=303)


def _page_path(path: str, lang: str) -> str | None:
    """``path`` when a page registered it in the navigation, else None (no dead links)."""
    return path if any(href == path for href, _ in nav_entries(lang)) else None


def _objective_row(o: Objective, lang: str) -> dict[str, Any]:
    # One status per system: a breached RPO or an exceeded RTO estimate is a breach; without a
    # stored RPO reading the system is unknown, whatever its drills say.
    breached = [
        name
        for name, bad in (("RPO", o.rpo_status == "breach"), ("RTO", o.rto_status == "exceeded"))
        if bad
    ]
    status = "breach" if breached else "ok" if o.rpo_status == "ok" else "unknown"
    if not o.configured:
        rpo_note = "ro_not_configured"
    elif o.rpo_measured is not None:
        rpo_note = None
    elif o.measured_at is not None:
        rpo_note = "ro_no_point"
    elif not o.runs:
        rpo_note = "ro_no_backup"
    else:
        rpo_note = "ro_not_measured"
    return {
        "id": o.system,
        "name": o.name,
        "status": status,
        "breached": breached,
        "rpo_target": human_duration(timedelta(seconds=o.rpo_seconds)),
        "rpo_now": seconds_text(o.rpo_measured, lang) if o.rpo_measured is not None else None,
        "rpo_note": rpo_note,
        "measured_at": o.measured_at,
        "rto_target": human_duration(timedelta(seconds=o.rto_seconds)),
        "rto_estimate": seconds_text(o.rto_estimate, lang) if o.rto_estimate is not None else None,
    }


def _safe_next(value: str) -> str:
    # Only same-site paths: an open redirect after sign-in would leak the session to phishing.
    if not value.startswith("/") or value.startswith("//"):
        return "/"
    return value
