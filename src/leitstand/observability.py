"""leitstand's own logs and metrics: structured JSON logs with a correlation id per request.

The correlation id comes from ``X-Request-ID`` or the trace id of a W3C ``traceparent`` header,
else it is generated; it is bound to every log line of the request and returned in the response.
With a tracer (``telemetry`` in the policy), each request is also an OpenTelemetry server span that
continues an incoming ``traceparent``; every log line written inside it carries ``trace_id`` and
``span_id``. The access log line names the route template, never the raw path.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any, TextIO, cast

import orjson
import structlog
from opentelemetry.trace import Span, Tracer
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.typing import Processor

from leitstand.redaction import redact
from leitstand.telemetry.spans import add_trace_ids, finish_server_span, server_span

__all__ = [
    "HttpMetrics",
    "LineSink",
    "RequestContextMiddleware",
    "configure_logging",
    "correlation_id",
]

_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_UNMATCHED = "unmatched"


def _orjson_dumps(value: Any, **kw: Any) -> str:
    """structlog's serializer: orjson (about 3x faster than json), as text; what orjson cannot
    encode (integers beyond 64 bits) falls back to the standard library."""
    try:
        return orjson.dumps(
            value, default=kw.get("default"), option=orjson.OPT_NON_STR_KEYS
        ).decode()
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(value, **kw)


def _redact_processor(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> Any:
    # Secrets never reach a log line, whatever a caller binds.
    return redact(event)


#: Takes each rendered line with the event it was rendered from (``leitstand.logs.shipping``).
LineSink = Callable[[str, Mapping[str, Any]], None]


class _Shipping:
    """The renderer, and every line it renders also handed to ``sink`` (rsyslog): the same
    text as on stderr, after redaction and pseudonymisation."""

    def __init__(self, renderer: Any, sink: LineSink) -> None:
        self.renderer = renderer
        self.sink = sink

    def __call__(self, logger: Any, method: str, event: MutableMapping[str, Any]) -> Any:
        rendered = self.renderer(logger, method, event)
        if isinstance(rendered, str):
            # Shipping never breaks a log call.
            with contextlib.suppress(Exception):
                self.sink(rendered, event)
        return rendered


class _CurrentStderr(io.TextIOBase):
    """Whatever ``sys.stderr`` is at each write, not the object it was at configuration time.

    A stream replaced later (a test runner's capture that is closed afterwards, a daemon's
    redirection) is followed instead of written to after it was closed.
    """

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(
    level: str = "info",
    *,
    json_output: bool = True,
    stream: TextIO | None = None,
    pseudonymiser: Processor | None = None,
    ship: LineSink | None = None,
) -> None:
    """Configure structlog (and stdlib logging, for uvicorn) to write JSON lines to stderr.

    ``pseudonymiser`` (the policy's ``logs.pseudonym_key``: ``leitstand.logs.pseudonym``) runs
    just before the renderer: after redaction (a password in a URL is removed, not hashed) and
    after exceptions are formatted (their text is covered too).

    ``ship`` (a :class:`leitstand.logs.shipping.Shipper`'s ``offer``) also gets every rendered
    line, the stderr text itself, with the event it came from (for its log type).
    """
    out: TextIO = stream or cast("TextIO", _CurrentStderr())
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_trace_ids,
        _redact_processor,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=_orjson_dumps)
        if json_output
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    if ship is not None:
        renderer = _Shipping(renderer, ship)
    last: list[Any] = [pseudonymiser] if pseudonymiser is not None else []
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, *last, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *last,
                renderer,
            ],
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True


def correlation_id(headers: dict[str, str]) -> str:
    """Pick the request's correlation id from its headers, or make one."""
    given = headers.get("x-request-id", "").strip()
    if given and _REQUEST_ID.match(given):
        return given
    match = _TRACEPARENT.match(headers.get("traceparent", "").strip().lower())
    if match and match.group(1) != "0" * 32:
        return match.group(1)
    return uuid.uuid4().hex


class HttpMetrics:
    """Prometheus metrics of the HTTP API, on the app's own registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "leitstand_http_requests_total",
            "HTTP requests handled, by method, route and status code.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.duration = Histogram(
            "leitstand_http_request_duration_seconds",
            "HTTP request duration in seconds, by method and route.",
            ["method", "route"],
            registry=registry,
        )


class RequestContextMiddleware:
    """Bind a correlation id, log one line per request, count it, echo ``X-Request-ID``.

    With a ``tracer``, the request runs inside a server span (see ``leitstand.telemetry.spans``).
    """

    def __init__(self, app: ASGIApp, *, metrics: HttpMetrics, tracer: Tracer | None = None) -> None:
        self.app = app
        self.metrics = metrics
        self.tracer = tracer
        self.log = structlog.get_logger("leitstand.http")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        request_id = correlation_id(headers)
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        if self.tracer is None:
            await self._handle(scope, receive, send, request_id, None)
            return
        with server_span(self.tracer, scope["method"], headers) as span:
            await self._handle(scope, receive, send, request_id, span)

    async def _handle(
        self, scope: Scope, receive: Receive, send: Send, request_id: str, span: Span | None
    ) -> None:
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode("latin-1")),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            self.metrics.requests.labels(scope["method"], route, str(status)).inc()
            self.metrics.duration.labels(scope["method"], route).observe(elapsed)
            if span is not None:
                finish_server_span(
                    span,
                    method=scope["method"],
                    route=None if route == _UNMATCHED else route,
                    status=status,
                )
            # The route template only: a raw path carries user names and ids.
            self.log.info(
                "http_request",
                method=scope["method"],
                route=route,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
            )
            structlog.contextvars.clear_contextvars()


def _route_template(scope: Scope) -> str:
    # The route template, not the raw path, keeps label cardinality bounded.
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else _UNMATCHED
