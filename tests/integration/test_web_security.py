"""The web surface as an attacker meets it: sessions, CSRF, cross-site posts, headers, docs."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from leitstand.auth.api import COOKIE_NAME, CSRF_HEADER
from leitstand.auth.model import Role
from leitstand.bootstrap import Container
from leitstand.ledger.service import EntryQuery
from leitstand.testing import ManualClock
from leitstand.testing.web import sign_in

Headers = dict[Role, dict[str, str]]
ORIGIN = "http://127.0.0.1"
FOREIGN = "https://evil.example"


def _flag_in_production(client: TestClient, headers: Headers) -> bool:
    answer = client.get("/api/v1/flags/new-billing", headers=headers[Role.AUDITOR])
    assert answer.status_code == 200, answer.text
    return bool(answer.json()["environments"]["production"]["enabled"])


@pytest.fixture
def flag(client: TestClient, headers: Headers) -> str:
    created = client.post(
        "/api/v1/flags",
        json={"key": "new-billing", "type": "release"},
        headers=headers[Role.DEVOPS],
    )
    assert created.status_code == 201, created.text
    assert not _flag_in_production(client, headers)
    return "new-billing"


TOGGLE = {"environment": "production", "enabled": "true", "reason": "go live", "back": "list"}


# -- sessions ---------------------------------------------------------------------------------


def test_the_login_cookie_is_a_server_side_session_not_the_api_token(
    client: TestClient, tokens: dict[Role, str], container: Container
) -> None:
    token = tokens[Role.DEVOPS]
    answer = client.post("/login", data={"token": token}, follow_redirects=False)
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"]
    session_id = client.cookies[COOKIE_NAME]
    assert token not in cookie and session_id != token
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert "Secure" not in cookie  # plain HTTP here; see the TLS test
    with container.db.reader() as session:
        stored = session.execute(sa.text("SELECT session_hash FROM web_sessions")).scalars().all()
    assert stored == [hashlib.sha256(session_id.encode()).hexdigest()]
    assert client.get("/", follow_redirects=False).status_code == 200


def test_an_api_token_in_the_cookie_no_longer_signs_anyone_in(
    client: TestClient, tokens: dict[Role, str]
) -> None:
    client.cookies.set(COOKIE_NAME, tokens[Role.DEVOPS])
    assert client.get("/", follow_redirects=False).status_code == 303
    client.cookies.set("leitstand_token", tokens[Role.DEVOPS])  # the old cookie name
    assert client.get("/api/v1/me").status_code == 401


def test_logout_revokes_the_session_and_the_old_cookie_is_refused(
    client: TestClient, tokens: dict[Role, str], container: Container
) -> None:
    sign_in(client, tokens[Role.DEVOPS])
    stolen = client.cookies[COOKIE_NAME]
    assert client.get("/api/v1/me").json()["name"] == "u-devops"
    out = client.post("/logout", follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    client.cookies.set(COOKIE_NAME, stolen)  # a copy of the cookie taken before sign-out
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/", follow_redirects=False).headers["location"].startswith("/login")
    entries = container.audit.log(EntryQuery(action="auth.session.*", newest_first=False))
    assert [e.action for e in entries] == ["auth.session.started", "auth.session.ended"]
    assert all(stolen not in str(e.payload) for e in entries)


def test_revoking_the_token_ends_the_sessions_opened_with_it(
    client: TestClient, tokens: dict[Role, str], headers: Headers
) -> None:
    sign_in(client, tokens[Role.QA])
    assert client.get("/api/v1/me").status_code == 200
    revoked = client.delete("/api/v1/users/u-qa/tokens", headers=headers[Role.DEVOPS])
    assert revoked.status_code == 200
    assert client.get("/api/v1/me").status_code == 401


# -- CSRF -------------------------------------------------------------------------------------


def test_a_cross_origin_form_post_with_a_valid_cookie_is_refused(
    client: TestClient, tokens: dict[Role, str], headers: Headers, flag: str
) -> None:
    csrf = sign_in(client, tokens[Role.DEVOPS])
    # The attack as a browser sends it: the victim's cookie, a foreign Origin, even the token.
    forged = client.post(
        f"/flags/{flag}/toggle",
        data=TOGGLE | {"csrf_token": csrf},
        headers={"Origin": FOREIGN},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    assert "cross-site" in forged.json()["error"]
    fetch_meta = client.post(
        f"/flags/{flag}/toggle",
        data=TOGGLE,
        headers={"Sec-Fetch-Site": "cross-site"},
        follow_redirects=False,
    )
    assert fetch_meta.status_code == 403
    null_origin = client.post(
        f"/flags/{flag}/toggle", data=TOGGLE, headers={"Origin": "null"}, follow_redirects=False
    )
    assert null_origin.status_code == 403
    assert not _flag_in_production(client, headers)


def test_a_same_origin_post_without_the_csrf_token_is_refused(
    client: TestClient, tokens: dict[Role, str], headers: Headers, flag: str
) -> None:
    sign_in(client, tokens[Role.DEVOPS])
    del client.headers[CSRF_HEADER]
    missing = client.post(
        f"/flags/{flag}/toggle", data=TOGGLE, headers={"Origin": ORIGIN}, follow_redirects=False
    )
    assert missing.status_code == 403
    assert "CSRF token" in missing.json()["error"]
    wrong = client.post(
        f"/flags/{flag}/toggle",
        data=TOGGLE | {"csrf_token": "0" * 64},
        headers={"Origin": ORIGIN},
        follow_redirects=False,
    )
    assert wrong.status_code == 403
    # The cookie alone does not do for the JSON API either.
    api = client.post(
        f"/api/v1/flags/{flag}/toggle",
        json={"environment": "production", "enabled": True, "reason": "x"},
    )
    assert api.status_code == 403
    assert not _flag_in_production(client, headers)


def test_a_same_origin_post_with_the_token_works(
    client: TestClient, tokens: dict[Role, str], headers: Headers, flag: str
) -> None:
    csrf = sign_in(client, tokens[Role.DEVOPS])
    del client.headers[CSRF_HEADER]
    page = client.get("/flags")
    assert f'<meta name="csrf-token" content="{csrf}">' in page.text
    done = client.post(
        f"/flags/{flag}/toggle",
        data=TOGGLE | {"csrf_token": csrf},
        headers={"Origin": ORIGIN, "Sec-Fetch-Site": "same-origin"},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    assert _flag_in_production(client, headers)


def test_logout_needs_the_csrf_token_too(client: TestClient, tokens: dict[Role, str]) -> None:
    sign_in(client, tokens[Role.DEVOPS])
    csrf = client.headers.pop(CSRF_HEADER)
    assert client.post("/logout", follow_redirects=False).status_code == 403
    assert client.get("/api/v1/me").status_code == 200  # still signed in
    client.headers[CSRF_HEADER] = csrf
    assert client.post("/logout", follow_redirects=False).status_code == 303
    assert client.get("/api/v1/me").status_code == 401


def test_a_cross_site_sign_in_is_refused(client: TestClient, tokens: dict[Role, str]) -> None:
    answer = client.post(
        "/login",
        data={"token": tokens[Role.DEVOPS]},
        headers={"Origin": FOREIGN},
        follow_redirects=False,
    )
    assert answer.status_code == 403
    assert COOKIE_NAME not in client.cookies


def test_bearer_token_calls_need_no_csrf_token_whatever_their_origin(
    client: TestClient, headers: Headers, flag: str
) -> None:
    answer = client.post(
        f"/api/v1/flags/{flag}/toggle",
        json={"environment": "production", "enabled": True, "reason": "release 2.4"},
        headers=headers[Role.DEVOPS] | {"Origin": FOREIGN},
    )
    assert answer.status_code == 200, answer.text
    assert _flag_in_production(client, headers)


# -- headers and docs -------------------------------------------------------------------------


def _csp(value: str) -> dict[str, str]:
    parts = [p.strip().split(" ", 1) for p in value.split(";") if p.strip()]
    return {p[0]: p[1] if len(p) > 1 else "" for p in parts}


@pytest.mark.parametrize(
    "path", ["/login", "/healthz", "/api/v1/me", "/static/style.css", "/openapi.json", "/nope"]
)
def test_every_response_carries_the_security_headers(client: TestClient, path: str) -> None:
    answer = client.get(path, follow_redirects=False)
    csp = _csp(answer.headers["content-security-policy"])
    assert csp["script-src"] == "'self'" and "unsafe-inline" not in csp["style-src"]
    assert csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'"
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] in ("no-referrer", "same-origin")
    assert "strict-transport-security" not in answer.headers  # only under TLS


def test_no_page_template_has_inline_script_or_handlers() -> None:
    from leitstand.web.render import TEMPLATE_DIRS

    for folder in TEMPLATE_DIRS:
        for template in folder.rglob("*.html"):
            text = template.read_text(encoding="utf-8")
            assert not re.search(r"<script(?![^>]*\bsrc=)", text), template
            assert not re.search(r"\son[a-z]+\s*=", text), template
            assert not re.search(r"<style|\sstyle=", text), template


def test_the_api_docs_are_served_from_leitstand_itself(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/static/swagger-ui/") for s in sources), sources
    for source in sources:
        assert client.get(source).status_code == 200, source
    csp = _csp(page.headers["content-security-policy"])
    [nonce] = re.findall(r'<script nonce="([^"]+)">', page.text)
    assert csp["script-src"] == f"'self' 'nonce-{nonce}'"
    assert "unsafe-inline" not in csp["script-src"] and csp["style-src"] == "'self'"
    assert (
        client.get("/docs").headers["content-security-policy"]
        != page.headers["content-security-policy"]
    )  # a fresh nonce per response


def test_the_openapi_document_declares_the_bearer_scheme(app: FastAPI) -> None:
    spec = app.openapi()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearer"]["type"] == "http" and schemes["bearer"]["scheme"] == "bearer"
    operations = {
        (path, method): op for path, item in spec["paths"].items() for method, op in item.items()
    }
    assert operations[("/api/v1/me", "get")]["security"] == [{"bearer": []}]
    assert operations[("/api/v1/flags", "post")]["security"] == [{"bearer": []}]
    for public in ("/healthz", "/readyz", "/metrics"):
        assert "security" not in operations[(public, "get")], public
    guarded = [k for k, op in operations.items() if "security" in op]
    assert len(guarded) >= 30


# -- token lifecycle over HTTP ----------------------------------------------------------------


def test_an_expiring_token_over_the_api_and_its_last_use(
    client: TestClient, headers: Headers, clock: ManualClock
) -> None:
    issued = client.post(
        "/api/v1/users/u-qa/tokens",
        json={"label": "nightly", "expires": "1h"},
        headers=headers[Role.DEVOPS],
    )
    assert issued.status_code == 201, issued.text
    body = issued.json()
    assert dt.datetime.fromisoformat(body["expires_at"]) == clock.now() + timedelta(hours=1)
    bearer = {"Authorization": f"Bearer {body['token']}"}
    assert client.get("/api/v1/me", headers=bearer).status_code == 200
    users = client.get("/api/v1/users", headers=headers[Role.DEVOPS]).json()
    qa = next(u for u in users if u["name"] == "u-qa")
    assert qa["active_tokens"] == 2
    assert dt.datetime.fromisoformat(qa["last_used_at"]) == clock.now()
    clock.advance(timedelta(hours=1))
    expired = client.get("/api/v1/me", headers=bearer)
    assert expired.status_code == 401 and "expired" in expired.json()["error"]
    bad = client.post(
        "/api/v1/users/u-qa/tokens", json={"expires": "soon"}, headers=headers[Role.DEVOPS]
    )
    assert bad.status_code == 422 and bad.json()["issues"][0]["path"] == "expires"
