"""WSGI middleware: HTTP status and latency, ``/metrics`` for Prometheus, and a span.

Each request is an OpenTelemetry server span (continuing an incoming W3C ``traceparent``) from
``tracer_provider``, by default the global one. The span is named after ``route_of(environ)``
when the service gives that function; without it, after the method alone (never the raw path).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import TracerProvider
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from leitstand.instrument.metrics import AppMetrics
from leitstand.telemetry.spans import PROPAGATED_HEADERS, finish_server_span, server_span

__all__ = ["WSGIMiddleware"]

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
_TRACE_KEYS = {"HTTP_" + name.upper().replace("-", "_"): name for name in PROPAGATED_HEADERS}


class WSGIMiddleware:
    """Wrap a WSGI app; ``route_of(environ)`` maps a request to its route template."""

    def __init__(
        self,
        app: WSGIApp,
        metrics: AppMetrics,
        *,
        metrics_path: str = "/metrics",
        tenant_header: str = "X-Tenant",
        route_of: Callable[[dict[str, Any]], str] | None = None,
        tracer_provider: TracerProvider | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.metrics_path = metrics_path
        self.tenant_key = "HTTP_" + tenant_header.upper().replace("-", "_")
        self.route_of = route_of or (lambda environ: str(environ.get("PATH_INFO", "/")))
        # Spans name a route only when the service says what its routes are.
        self._span_route = route_of
        self.tracer = trace.get_tracer("leitstand.instrument", tracer_provider=tracer_provider)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == self.metrics_path:
            body = self.metrics.exposition()
            start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
            return [body]
        method = str(environ.get("REQUEST_METHOD", "GET"))
        carrier = {name: str(environ[key]) for key, name in _TRACE_KEYS.items() if key in environ}
        started = time.perf_counter()
        status = 500

        def capture(status_line: str, headers: Any, exc_info: Any = None) -> Any:
            nonlocal status
            status = int(status_line.split(" ", 1)[0])
            return start_response(status_line, headers, exc_info)

        with server_span(self.tracer, method, carrier) as span:
            try:
                return list(self.app(environ, capture))
            finally:
                route = self.route_of(environ)
                finish_server_span(
                    span,
                    method=method,
                    route=route if self._span_route is not None else None,
                    status=status,
                )
                self.metrics.observe_request(
                    method=method,
                    route=route,
                    status=status,
                    seconds=time.perf_counter() - started,
                    tenant=str(environ.get(self.tenant_key, ""))[:100],
                )
