"""WSGI middleware: HTTP status and latency, and ``/metrics`` for Prometheus."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client.exposition import CONTENT_TYPE_LATEST

from leitstand.instrument.metrics import AppMetrics

__all__ = ["WSGIMiddleware"]

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


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
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.metrics_path = metrics_path
        self.tenant_key = "HTTP_" + tenant_header.upper().replace("-", "_")
        self.route_of = route_of or (lambda environ: str(environ.get("PATH_INFO", "/")))

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == self.metrics_path:
            body = self.metrics.exposition()
            start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
            return [body]
        started = time.perf_counter()
        status = 500

        def capture(status_line: str, headers: Any, exc_info: Any = None) -> Any:
            nonlocal status
            status = int(status_line.split(" ", 1)[0])
            return start_response(status_line, headers, exc_info)

        try:
            return list(self.app(environ, capture))
        finally:
            self.metrics.observe_request(
                method=str(environ.get("REQUEST_METHOD", "GET")),
                route=self.route_of(environ),
                status=status,
                seconds=time.perf_counter() - started,
                tenant=str(environ.get(self.tenant_key, ""))[:100],
            )
