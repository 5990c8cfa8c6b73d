"""Shared helpers for web pages: templates, language, page guards, display formats.

A domain's pages (``<domain>/views.py``) use ``page(...)`` to declare roles, ``render(...)`` to
answer, and ``register_texts``/``register_nav`` to add their UI texts and navigation entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials
from fastapi.templating import Jinja2Templates

from leitstand.auth.api import BEARER, RoleGuard
from leitstand.auth.model import Actor, Role
from leitstand.display import DEFAULT_ZONE, fmt_time
from leitstand.errors import AuthenticationError
from leitstand.web.i18n import LANGUAGES, jinja_filters, nav_entries, translator

__all__ = [
    "LoginRequired",
    "UiGuard",
    "human_duration",
    "local_time",
    "page",
    "render",
    "request_lang",
    "templates",
]

TEMPLATE_DIRS = [Path(__file__).parent / "templates"]
templates = Jinja2Templates(directory=[str(d) for d in TEMPLATE_DIRS])
LANG_COOKIE = "leitstand_lang"


# when, day, number, plural, label: see leitstand.web.i18n.
templates.env.filters.update(jinja_filters())


class LoginRequired(Exception):
    """Raised by page guards; the app answers with a redirect to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = quote(next_path, safe="/")


class UiGuard(RoleGuard):
    """Like RoleGuard, but an unauthenticated browser is sent to the sign-in page."""

    async def __call__(
        self,
        request: Request,
        _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)] = None,
    ) -> Actor:
        try:
            return await super().__call__(request)
        except AuthenticationError:
            raise LoginRequired(request.url.path) from None


def page(*roles: Role) -> Any:
    """Declare the roles a page admits; use as a parameter default."""
    return Depends(UiGuard(frozenset(roles)))


def request_lang(request: Request) -> str:
    """The UI language of a request: ``?lang=``, then the cookie, then German."""
    asked = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE, "de")
    return asked if asked in LANGUAGES else "de"


def render(request: Request, name: str, context: Mapping[str, Any], status: int = 200) -> Response:
    """Render a template with the UI texts, language and navigation of the request."""
    lang = request_lang(request)
    response = templates.TemplateResponse(
        request,
        name,
        {
            "t": translator(lang),
            "lang": lang,
            "other_lang": "en" if lang == "de" else "de",
            "nav": nav_entries(lang),
            "path": request.url.path,
            # Set by the guard for a session-authenticated page; base.html hands it to
            # static/leitstand.js, which adds it to every form and htmx request.
            "csrf_token": getattr(request.state, "csrf_token", ""),
        }
        | dict(context),
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


def local_time(value: str | datetime, zone: ZoneInfo = DEFAULT_ZONE, lang: str = "de") -> str:
    """A UTC time in ``zone`` with the zone's name, to the second: ``27.11.2026 09:45:00 MEZ``.

    For command-line output; the caller passes the policy's zone (``i18n.display_zone``),
    Europe/Berlin unless told. The format is ``leitstand.display.fmt_time``'s.
    """
    return fmt_time(value, lang, zone, seconds=True, sep=" ")
