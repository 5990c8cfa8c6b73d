"""Web pages: sign-in with a token, and the overview of policy, tenants and evidence."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from leitstand.auth.api import COOKIE_NAME, RoleGuard, public
from leitstand.auth.model import ALL_ROLES, READ_ROLES, Actor, Role
from leitstand.clock import BERLIN
from leitstand.deps import container_of
from leitstand.errors import AuthenticationError
from leitstand.ledger.service import EntryQuery
from leitstand.web.i18n import LANGUAGES, translator

__all__ = ["LoginRequired", "UiGuard", "router"]

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
router = APIRouter(include_in_schema=False)
LANG_COOKIE = "leitstand_lang"


class LoginRequired(Exception):
    """Raised by page guards; the app answers with a redirect to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = quote(next_path, safe="/")


class UiGuard(RoleGuard):
    """Like RoleGuard, but an unauthenticated browser is sent to the sign-in page."""

    def __call__(self, request: Request) -> Actor:
        try:
            return super().__call__(request)
        except AuthenticationError:
            raise LoginRequired(request.url.path) from None


def page(*roles: Role) -> Any:
    """Declare the roles a page admits; use as a parameter default."""
    return Depends(UiGuard(frozenset(roles)))


def _lang(request: Request) -> str:
    asked = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE, "de")
    return asked if asked in LANGUAGES else "de"


def _render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    lang = _lang(request)
    response = templates.TemplateResponse(
        request,
        name,
        {"t": translator(lang), "lang": lang, "other_lang": "en" if lang == "de" else "de"}
        | context,
        status_code=status,
    )
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, samesite="strict", httponly=True)
    return response


def human_duration(value: timedelta) -> str:
    """Render a duration the way the seed writes it: 15 min, 4 h, 24 h."""
    seconds = int(value.total_seconds())
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def local_time(value: str | datetime) -> str:
    """Render a UTC time in Europe/Berlin, German style."""
    when = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
    return when.astimezone(BERLIN).strftime("%d.%m.%Y %H:%M:%S")


@router.get("/login", response_class=HTMLResponse, dependencies=[public()])
def login_form(request: Request, next: str = "/") -> Response:
    return _render(request, "login.html", {"next": _safe_next(next), "error": None})


@router.post("/login", response_class=HTMLResponse, dependencies=[public()])
def login(
    request: Request, token: Annotated[str, Form()], next: Annotated[str, Form()] = "/"
) -> Response:
    try:
        container_of(request).auth.authenticate(token.strip())
    except AuthenticationError:
        return _render(
            request,
            "login.html",
            {"next": _safe_next(next), "error": translator(_lang(request))["bad_token"]},
            status=401,
        )
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(COOKIE_NAME, token.strip(), httponly=True, samesite="strict")
    return response


@router.post("/logout", dependencies=[public()])
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE_NAME)
    return response


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, actor: Annotated[Actor, page(*ALL_ROLES)]) -> Response:
    container = container_of(request)
    policy = container.policy
    with container.db.reader() as session:
        head = container.ledger.head(session)
        latest = container.ledger.entries(session, EntryQuery(limit=15))
    last = container.audit.last_verification()
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
        verification = {
            "ok": bool(last.payload.get("ok")),
            "size": last.payload.get("size"),
            "first_bad_index": last.payload.get("first_bad_index"),
            "problems": last.payload.get("problems") or [],
            "time": local_time(last.time),
            "actor": last.actor,
        }
    return _render(
        request,
        "overview.html",
        {
            "actor": actor,
            "systems": systems,
            "tenants": tenants,
            "entries": [
                {
                    "index": e.index,
                    "time": local_time(e.time),
                    "actor": e.actor,
                    "action": e.action,
                    "subject": e.subject,
                    "tenant": e.tenant or "",
                }
                for e in latest
            ],
            "head_size": head.size,
            "verification": verification,
            "can_verify": Role(actor.role) in READ_ROLES,
            "policy_file": str(container.policy_file) if container.policy_file else None,
        },
    )


@router.post("/ui/verify")
def verify_now(request: Request, actor: Annotated[Actor, page(*READ_ROLES)]) -> Response:
    container_of(request).audit.verify(actor=actor)
    return RedirectResponse("/", status_code=303)


def _safe_next(value: str) -> str:
    # Only same-site paths: an open redirect after sign-in would leak the session to phishing.
    if not value.startswith("/") or value.startswith("//"):
        return "/"
    return value
