"""Browser-facing protections on every response: security headers and cross-site refusal.

``WebSecurityMiddleware`` (one line in ``app.py``):

- refuses (403) every unsafe request (POST, PUT, PATCH, DELETE) that does not carry a bearer
  token and comes from another site: ``Sec-Fetch-Site: cross-site``, or an ``Origin`` that is
  not this host. That covers a forged form post with the victim's session cookie and a
  cross-site sign-in. The per-session CSRF token (``leitstand.auth.api.check_csrf``) is the
  second, independent check.
- adds to every response: a Content-Security-Policy without inline script or style,
  ``frame-ancestors 'none'`` and ``X-Frame-Options: DENY`` (no framing, so no clickjacking),
  ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin``, and under TLS
  ``Strict-Transport-Security``. A response that sets its own CSP (the API docs page, with a
  nonce for its one inline script) keeps it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CONTENT_SECURITY_POLICY", "HSTS", "WebSecurityMiddleware", "content_security_policy"]

_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: One year, the usual HSTS preload minimum; sent only on responses served over TLS.
HSTS = "max-age=31536000"


def content_security_policy(*, script: str = "'self'", style: str = "'self'") -> str:
    """The policy of every page; ``script``/``style`` widen one page's sources (nonces)."""
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src {script}",
            f"style-src {style}",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


CONTENT_SECURITY_POLICY = content_security_policy()
_HEADERS = (
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    ("cross-origin-opener-policy", "same-origin"),
)


class WebSecurityMiddleware:
    """Pure ASGI middleware (no body buffering): header policy and cross-site refusal."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tls = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _HEADERS:
                    if name not in headers:
                        headers[name] = value
                if tls and "strict-transport-security" not in headers:
                    headers["strict-transport-security"] = HSTS
            await send(message)

        request_headers = Headers(scope=scope)
        reason = _cross_site(scope["method"], request_headers)
        if reason is not None:
            refusal = JSONResponse({"error": f"cross-site request refused: {reason}"}, 403)
            await refusal(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)


def _cross_site(method: str, headers: Headers) -> str | None:
    """Why an unsafe browser request comes from another site, or None."""
    if method not in _UNSAFE:
        return None
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return None  # a browser never adds this header to a cross-site request by itself
    if headers.get("sec-fetch-site", "").lower() == "cross-site":
        return "Sec-Fetch-Site is cross-site"
    origin = headers.get("origin")
    if origin is None:
        return None  # not sent by every client; the CSRF token still guards the session
    host = headers.get("host", "")
    # Behind a reverse proxy that rewrites Host, the proxy's X-Forwarded-Host names the host
    # the browser used. A cross-site page cannot set that header (nor any custom header)
    # without a CORS preflight, which leitstand never grants.
    forwarded = headers.get("x-forwarded-host", "").split(",")[0].strip()
    hosts = {h.lower() for h in (host, forwarded) if h}
    if origin == "null" or urlsplit(origin).netloc.lower() not in hosts:
        return f"Origin {origin!r} is not this host ({host})"
    return None
