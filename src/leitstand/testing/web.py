"""Test support for the web UI: sign in like a browser does (session cookie plus CSRF token)."""

from __future__ import annotations

from typing import Any

from leitstand.auth.api import COOKIE_NAME, CSRF_HEADER
from leitstand.auth.sessions import csrf_token_for

__all__ = ["sign_in"]


def sign_in(client: Any, token: str) -> str:
    """Sign ``client`` (a TestClient or httpx client) in with ``token`` through ``POST /login``.

    The client keeps the session cookie and sends the session's CSRF token as a default
    header from then on, as the UI's script does for every form. Returns the CSRF token.
    """
    answer = client.post("/login", data={"token": token, "next": "/"}, follow_redirects=False)
    if answer.status_code != 303:
        raise AssertionError(f"sign-in failed: {answer.status_code} {answer.text[:200]}")
    session_id = client.cookies.get(COOKIE_NAME)
    if not session_id:
        raise AssertionError("sign-in set no session cookie")
    csrf = csrf_token_for(session_id)
    client.headers[CSRF_HEADER] = csrf
    return csrf
