"""ASGI middleware: HTTP status and latency per route, ``/metrics`` for Prometheus, and a span.

Each request is an OpenTelemetry server span (continuing an incoming W3C ``traceparent``) from
``tracer_provider``, by default the global one (a no-op until the service sets one, for example
``leitstand.instrument.tracer_provider(policy.telemetry, service_name=...)``). The span is named
after the route template, never the raw path.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, TracerProvider
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from leitstand.instrument.metrics import AppMetrics
from leitstand.telemetry.spans import PROPAGATED_HEADERS, finish_server_span, server_span

__all__ = ["PrometheusMiddleware"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


_TRACE_HEADERS = frozenset(name.encode("latin-1") for name in PROPAGATED_HEADERS)


def _template(scope: Scope) -> str | None:
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(template) if template else None


def _route(scope: Scope) -> str:
    # The route template (Starlette/FastAPI), never the raw path: ids in paths would explode
    # the number of series.
    return _template(scope) or "unmatched"


class PrometheusMiddleware:
    """Wrap an ASGI app; ``tenant_header`` names the request header carrying the tenant id."""

    def __init__(
        self,
        app: ASGIApp,
        metrics: AppMetrics,
        *,
        metrics_path: str = "/metrics",
        tenant_header: str = "x-tenant",
        tracer_provider: TracerProvider | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.metrics_path = metrics_path
        self.tenant_header = tenant_header.lower().encode()
        self.tracer = trace.get_tracer("leitstand.instrument", tracer_provider=tracer_provider)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope.get("path") == self.metrics_path:
            body = self.metrics.exposition()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", CONTENT_TYPE_LATEST.encode())],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        tenant = ""
        carrier: dict[str, str] = {}
        for key, value in scope.get("headers", []):
            if key == self.tenant_header:
                tenant = value.decode("latin-1")[:100]
            elif key in _TRACE_HEADERS:
                carrier[key.decode("latin-1")] = value.decode("latin-1")
        method = str(scope.get("method", "GET"))
        with server_span(self.tracer, method, carrier) as span:
            await self._handle(scope, receive, send, tenant, method, span)

    async def _handle(
        self, scope: Scope, receive: Receive, send: Send, tenant: str, method: str, span: Span
    ) -> None:
        status = 500
        started = time.perf_counter()

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            finish_server_span(span, method=method, route=_template(scope), status=status)
            self.metrics.observe_request(
                method=method,
                route=_route(scope),
                status=status,
                seconds=time.perf_counter() - started,
                tenant=tenant,
            )
