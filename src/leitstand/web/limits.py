"""Limits before work: body size, credentials before the body, JSON depth, and no bare 500.

``RequestLimitsMiddleware`` runs inside the request-context middleware (so its answers carry the
request id) and before any route:

1. A body larger than its route class allows (``api.limits.body_bytes``: the JSON API, the
   Alertmanager intake, web forms) is a 413: at once when ``Content-Length`` says so, else as
   soon as the streamed (chunked) body passes the limit. Nothing beyond the limit is read.
2. For a route that requires a role, the route's own guard runs before a single body byte is
   read: a request whose credentials do not authenticate gets its 401 (or the sign-in redirect,
   or a 403 for a role that is not admitted) without its body being read or parsed.
3. A JSON body nested deeper than ``api.limits.json_depth`` is a 422 naming the path.
4. An unhandled error is logged with its stack trace and request id and answered with a JSON
   500 that names the request id (and nothing else about the failure).
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import structlog
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from leitstand.auth.api import PublicMarker, RoleGuard
from leitstand.policy.api import ApiLimits

__all__ = [
    "ALERT_INTAKE_PATH",
    "RequestLimitsMiddleware",
    "api_routes",
    "body_class",
    "guard_of",
    "json_depth_problem",
]

log = structlog.get_logger(__name__)

#: The one route that takes Alertmanager's batches (route class ``alert_intake``).
ALERT_INTAKE_PATH = "/api/v1/alerts/alertmanager"
_CLASS_TEXT = {
    "json_api": "the API",
    "alert_intake": "the alert intake",
    "form": "a web form",
}
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


class _BodyNeeded(Exception):
    """A guard asked for the body before deciding; the body is read after all."""


def body_class(path: str) -> str:
    """The route class of a path, naming its limit in ``api.limits.body_bytes``."""
    if path == ALERT_INTAKE_PATH:
        return "alert_intake"
    if path.startswith("/api/"):
        return "json_api"
    return "form"


def api_routes(app: FastAPI) -> list[APIRoute]:
    """Every APIRoute of the app, also inside included routers."""
    found: list[APIRoute] = []

    def walk(routes: list[Any]) -> None:
        for route in routes:
            if isinstance(route, APIRoute):
                found.append(route)
            elif hasattr(route, "original_router"):  # FastAPI >= 0.160 wraps included routers
                walk(list(route.original_router.routes))

    walk(list(app.routes))
    return found


def guard_of(dependant: Dependant) -> RoleGuard | PublicMarker | None:
    """The role guard (or public marker) a route declares, if any."""
    for dep in dependant.dependencies:
        if isinstance(dep.call, RoleGuard | PublicMarker):
            return dep.call
        inner = guard_of(dep)
        if inner is not None:
            return inner
    return None


def json_depth_problem(body: bytes, max_depth: int) -> tuple[str, str] | None:
    """(path, message) if a JSON body nests deeper than ``max_depth``; None otherwise.

    Malformed JSON is left to the route, which reports it in its own words.
    """
    message = f"nested deeper than {max_depth} levels of objects and arrays"
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return ("", message) if _bracket_depth(body) > max_depth else None
    stack: list[tuple[Any, tuple[str, ...], int]] = [(data, (), 1)]
    while stack:
        node, path, depth = stack.pop()
        items: list[tuple[str, Any]]
        if isinstance(node, dict):
            items = [(str(k), v) for k, v in node.items()]
        elif isinstance(node, list):
            items = [(str(i), v) for i, v in enumerate(node)]
        else:
            continue
        if depth > max_depth:
            return ".".join(path), message
        stack.extend((value, (*path, key), depth + 1) for key, value in items)
    return None


def _bracket_depth(body: bytes) -> int:
    # For bodies orjson refuses (its own nesting bound, huge numbers): count brackets outside
    # strings.
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub(b"", body)):
        if match.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _error(status: int, message: str, path: str | None = None) -> Response:
    issues = [] if path is None else [{"path": path, "message": message, "line": None}]
    text = f"{path}: {message}" if path else message
    return JSONResponse({"error": text, "issues": issues}, status_code=status)


class RequestLimitsMiddleware:
    """Enforce the API limits of the policy before a route reads anything (see module doc)."""

    def __init__(self, app: ASGIApp, *, limits: ApiLimits) -> None:
        self.app = app
        self.limits = limits
        self._routes: list[APIRoute] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self._limited(scope, receive, tracking_send)
        except Exception as exc:
            request_id = structlog.contextvars.get_contextvars().get("request_id", "")
            # The stack trace as a field, not exc_info: the log's redaction (secrets by key and
            # by value pattern) then covers it too, and no renderer prints local variables.
            log.error(
                "unhandled_error",
                method=scope.get("method"),
                path=scope.get("path"),
                error=type(exc).__name__,
                traceback=traceback.format_exc(),
            )
            if started:
                raise
            response = JSONResponse(
                {
                    "error": f"internal error; the server log has the details under request id "
                    f"{request_id}",
                    "issues": [],
                    "request_id": request_id,
                },
                status_code=500,
            )
            await response(scope, receive, send)

    async def _limited(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        declared = headers.get("content-length", "").strip()
        if not (declared not in ("", "0") or "transfer-encoding" in headers):
            await self.app(scope, receive, send)
            return
        kind = body_class(scope["path"])
        limit = int(getattr(self.limits.body_bytes, kind))
        too_large = (
            f"request body is larger than {limit} bytes; {_CLASS_TEXT[kind]} accepts at most "
            f"{limit} bytes (api.limits.body_bytes.{kind})"
        )
        if declared.isdigit() and int(declared) > limit:
            await _error(413, too_large)(scope, receive, send)
            return
        refused = await self._authenticate_first(scope)
        if refused is not None:
            await refused(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _error(413, too_large)(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if body and (not content_type or content_type.endswith(("/json", "+json"))):
            problem = json_depth_problem(body, self.limits.json_depth)
            if problem is not None:
                where, why = problem
                await _error(422, f"{why} (api.limits.json_depth)", where)(scope, receive, send)
                return
        await self.app(scope, _replay(body, receive), send)

    async def _authenticate_first(self, scope: Scope) -> Response | None:
        """Run the route's guard without the body; its refusal, or None to go on."""
        app = scope.get("app")
        if not isinstance(app, FastAPI):
            return None
        guard = self._guard(app, scope)
        if not isinstance(guard, RoleGuard):
            return None
        request = Request(scope, receive=_no_body)
        try:
            await guard(request)
        except _BodyNeeded:
            return None
        except Exception as exc:
            handler = _handler(app, exc)
            if handler is None:
                raise
            return await handler(request, exc)
        return None

    def _guard(self, app: FastAPI, scope: Scope) -> RoleGuard | PublicMarker | None:
        if self._routes is None:
            self._routes = api_routes(app)
        for route in self._routes:
            match, _child = route.matches(scope)
            if match == Match.FULL:
                return guard_of(route.dependant)
        return None


def _handler(
    app: FastAPI, exc: Exception
) -> Callable[[Request, Exception], Awaitable[Response]] | None:
    for cls in type(exc).__mro__:
        handler = app.exception_handlers.get(cls)
        if handler is not None:
            return handler  # type: ignore[return-value]
    return None


async def _no_body() -> Message:
    raise _BodyNeeded


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
