"""ASGI middleware: HTTP status and latency per route, and ``/metrics`` for Prometheus."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client.exposition import CONTENT_TYPE_LATEST

from leitstand.instrument.metrics import AppMetrics

__all__ = ["PrometheusMiddleware"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _route(scope: Scope) -> str:
    # The route template (Starlette/FastAPI), never the raw path: ids in paths would explode
    # the number of series.
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(template) if template else "unmatched"


class PrometheusMiddleware:
    """Wrap an ASGI app; ``tenant_header`` names the request header carrying the tenant id."""

    def __init__(
        self,
        app: ASGIApp,
        metrics: AppMetrics,
        *,
        metrics_path: str = "/metrics",
        tenant_header: str = "x-tenant",
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.metrics_path = metrics_path
        self.tenant_header = tenant_header.lower().encode()

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
        for key, value in scope.get("headers", []):
            if key == self.tenant_header:
                tenant = value.decode("latin-1")[:100]
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
            self.metrics.observe_request(
                method=str(scope.get("method", "GET")),
                route=_route(scope),
                status=status,
                seconds=time.perf_counter() - started,
                tenant=tenant,
            )
