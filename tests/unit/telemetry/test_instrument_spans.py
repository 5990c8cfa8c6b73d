"""leitstand.instrument's middleware: spans per request, metrics as before without a provider."""

from __future__ import annotations

import secrets
from typing import Any
from wsgiref.util import setup_testing_defaults

from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from leitstand.instrument import AppMetrics, PrometheusMiddleware, WSGIMiddleware


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/orders/{order_id}")
    def order(order_id: int) -> dict[str, int]:
        return {"order": order_id}

    return app


def _count(metrics: AppMetrics, route: str) -> float | None:
    return metrics.registry.get_sample_value(
        "http_server_request_duration_seconds_count",
        {
            "service": "shop",
            "tenant": "",
            "http_request_method": "GET",
            "http_route": route,
            "http_response_status_code": "200",
        },
    )


def test_without_a_provider_requests_are_served_and_counted_as_before() -> None:
    # OpenTelemetry's global provider is a no-op until a service sets one.
    metrics = AppMetrics(service="shop")
    client = TestClient(PrometheusMiddleware(_app(), metrics))
    assert client.get("/orders/7").json() == {"order": 7}
    assert _count(metrics, "/orders/{order_id}") == 1


def test_the_asgi_middleware_makes_a_server_span_per_request_from_its_provider() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    metrics = AppMetrics(service="shop")
    client = TestClient(PrometheusMiddleware(_app(), metrics, tracer_provider=provider))
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    client.get("/orders/7", headers={"traceparent": f"00-{trace_id}-{parent_id}-01"})
    client.get("/metrics")
    (span,) = exporter.get_finished_spans()  # the scrape is no span
    assert span.name == "GET /orders/{order_id}" and span.kind is SpanKind.SERVER
    assert f"{span.context.trace_id:032x}" == trace_id
    assert span.parent is not None and f"{span.parent.span_id:016x}" == parent_id
    assert _count(metrics, "/orders/{order_id}") == 1


def _wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def test_the_wsgi_middleware_names_spans_only_after_routes_the_service_declares() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    plain = WSGIMiddleware(_wsgi, AppMetrics(service="shop"), tracer_provider=provider)
    environ: dict[str, Any] = {"PATH_INFO": "/profile/anna"}
    setup_testing_defaults(environ)
    assert plain(environ, lambda *args: None) == [b"ok"]
    (span,) = exporter.get_finished_spans()
    assert span.name == "GET" and "http.route" not in (span.attributes or {})
    assert "anna" not in str(dict(span.attributes or {}))
    # The metrics keep their documented default (PATH_INFO) when no route_of is given.
    assert (
        plain.metrics.registry.get_sample_value(
            "http_server_request_duration_seconds_count",
            {
                "service": "shop",
                "tenant": "",
                "http_request_method": "GET",
                "http_route": "/profile/anna",
                "http_response_status_code": "200",
            },
        )
        == 1
    )
