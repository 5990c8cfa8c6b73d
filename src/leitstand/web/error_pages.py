"""Errors of web pages as pages in the UI's language (the API keeps answering with JSON).

A browser that asks for a page (not ``/api/...``, ``Accept: text/html``) and hits an error gets
``error.html``: a heading and an explanation in German or English, the technical detail below,
and the same HTTP status the API would give.
"""

# ruff: noqa: E501 - the text table below reads best one row per line
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from leitstand.web.i18n import register_texts
from leitstand.web.render import render, request_lang

__all__ = ["error_page", "wants_page"]

_HEADINGS: Mapping[int, tuple[str, str, str, str]] = {
    400: ("Ungültige Anfrage", "Bad request", "Die Anfrage ist nicht gültig.", "The request is not valid."),
    403: ("Keine Berechtigung", "Not allowed", "Ihre Rolle darf diese Seite oder Aktion nicht nutzen.", "Your role may not use this page or action."),
    404: ("Nicht gefunden", "Not found", "Diese Seite oder dieses Objekt gibt es nicht.", "This page or object does not exist."),
    409: ("Konflikt", "Conflict", "Die Aktion passt nicht zum aktuellen Stand.", "The action does not fit the current state."),
    422: ("Ungültige Eingabe", "Invalid input", "Bitte die markierten Angaben prüfen.", "Please check the input below."),
    429: ("Zu viele Anfragen", "Too many requests", "Bitte etwas später erneut versuchen.", "Please try again a little later."),
}  # fmt: skip
_OTHER = ("Fehler", "Error", "Die Aktion ist fehlgeschlagen.", "The action failed.")

register_texts({"error_back": {"de": "Zur Übersicht", "en": "Back to the overview"}})


def wants_page(request: Request) -> bool:
    """Whether the caller is a browser asking for a page (not the API)."""
    path = request.url.path
    if path.startswith(("/api/", "/static/", "/metrics", "/healthz", "/readyz", "/docs")):
        return False
    return "text/html" in request.headers.get("accept", "")


def error_page(
    request: Request,
    status: int,
    detail: str,
    issues: Sequence[Mapping[str, Any]] = (),
    headers: Mapping[str, str] | None = None,
) -> Response:
    de_head, en_head, de_text, en_text = _HEADINGS.get(status, _OTHER)
    en = request_lang(request) == "en"
    response = render(
        request,
        "error.html",
        {
            "status": status,
            "heading": en_head if en else de_head,
            "explanation": en_text if en else de_text,
            "detail": detail,
            "issues": list(issues),
            "actor": getattr(request.state, "actor", None),
        },
        status=status,
    )
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response
