"""OpenTelemetry end to end: spans over OTLP/HTTP to a real receiver, their ids in the log lines.

The receiver is a small HTTP server on 127.0.0.1 that decodes what the SDK's OTLP exporter sends
(protobuf ``ExportTraceServiceRequest``, as a Collector would) and keeps the spans.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest
import structlog
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span as SpanProto

from leitstand import __version__
from leitstand.app import create_app
from leitstand.bootstrap import build
from leitstand.instrument import (
    AppMetrics,
    PrometheusMiddleware,
    WSGIMiddleware,
    add_trace_ids,
    tracer_provider,
)
from leitstand.observability import configure_logging
from leitstand.policy.telemetry import TelemetryPolicy
from leitstand.settings import Settings
from leitstand.testing import ManualClock, free_port


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    version: str | None
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]
    status: int


class OtlpReceiver:
    """An OTLP/HTTP traces endpoint: POST /v1/traces with a protobuf body."""

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.requests: list[tuple[str, str]] = []  # (path, content type)
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                receiver.receive(self.path, self.headers.get("Content-Type", ""), body)
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.port = free_port()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def receive(self, path: str, content_type: str, body: bytes) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        with self._lock:
            self.requests.append((path, content_type))
            for resource_spans in request.resource_spans:
                resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        self.spans.append(_received(resource, span))

    def wait_for(self, count: int, timeout: float = 60) -> list[ReceivedSpan]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.spans) >= count:
                    return list(self.spans)
            time.sleep(0.02)
        raise AssertionError(f"expected {count} spans, got {self.spans}")

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


def _received(resource: dict[str, str], span: SpanProto) -> ReceivedSpan:
    return ReceivedSpan(
        service=resource["service.name"],
        version=resource.get("service.version"),
        name=span.name,
        kind=span.kind,
        trace_id=span.trace_id.hex(),
        span_id=span.span_id.hex(),
        parent_span_id=span.parent_span_id.hex(),
        attributes={a.key: _value(a.value) for a in span.attributes},
        status=span.status.code,
    )


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    server = OtlpReceiver()
    yield server
    server.close()


@pytest.fixture
def log() -> Iterator[io.StringIO]:
    out = io.StringIO()
    configure_logging("info", stream=out)
    yield out
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()


def _lines(out: io.StringIO, event: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == event]


def _traceparent() -> tuple[str, str, str]:
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, parent_id, f"00-{trace_id}-{parent_id}-01"


def _settings(tmp_path: Path, policy: str) -> Settings:
    path = tmp_path / "leitstand.yaml"
    path.write_text(policy, encoding="utf-8")
    return Settings(home=tmp_path / "home", policy=path)


_SERVER = 2  # SPAN_KIND_SERVER in the OTLP protobuf
_ERROR = 2  # STATUS_CODE_ERROR


def test_leitstand_exports_a_span_per_request_continuing_the_callers_trace(
    tmp_path: Path, receiver: OtlpReceiver, log: io.StringIO
) -> None:
    policy = f"telemetry:\n  endpoint: {receiver.url}\n  service_name: leitstand-test\n"
    container = build(_settings(tmp_path, policy), clock=ManualClock(), migrate=True)
    trace_id, parent_id, traceparent = _traceparent()
    try:
        with TestClient(create_app(container), base_url="http://127.0.0.1") as client:
            assert client.get("/healthz", headers={"traceparent": traceparent}).status_code == 200
            missing = client.get("/api/v1/incidents/4711")  # no token: 401
            assert missing.status_code == 401
        # Leaving the client ran the app's shutdown, which sent the queued spans.
    finally:
        container.close()
    spans = receiver.wait_for(2)
    assert {path for path, _ in receiver.requests} == {"/v1/traces"}
    assert {kind for _, kind in receiver.requests} == {"application/x-protobuf"}
    health = next(s for s in spans if s.name == "GET /healthz")
    assert (health.service, health.version, health.kind) == ("leitstand-test", __version__, _SERVER)
    assert health.trace_id == trace_id and health.parent_span_id == parent_id
    assert health.attributes == {
        "http.request.method": "GET",
        "http.route": "/healthz",
        "http.response.status_code": 200,
    }
    incident = next(s for s in spans if s.name == "GET /api/v1/incidents/{incident_id}")
    assert incident.parent_span_id == "" and incident.trace_id != trace_id  # a new trace
    assert incident.attributes["http.response.status_code"] == 401
    assert all("4711" not in json.dumps(s.attributes) for s in spans)

    # The request's log line carries the span's ids; the correlation id stays the trace id.
    (health_line,) = [line for line in _lines(log, "http_request") if line["route"] == "/healthz"]
    assert health_line["trace_id"] == trace_id and health_line["span_id"] == health.span_id
    assert health_line["request_id"] == trace_id
    (incident_line,) = [
        line for line in _lines(log, "http_request") if line["route"].startswith("/api/v1/inc")
    ]
    assert incident_line["route"] == "/api/v1/incidents/{incident_id}"
    assert incident_line["trace_id"] == incident.trace_id
    assert "path" not in incident_line and "4711" not in json.dumps(incident_line)


def test_with_traces_off_nothing_is_made_and_log_lines_have_no_trace_ids(
    tmp_path: Path, receiver: OtlpReceiver, log: io.StringIO
) -> None:
    policy = f"telemetry:\n  traces: false\n  endpoint: {receiver.url}\n"
    container = build(_settings(tmp_path, policy), clock=ManualClock(), migrate=True)
    try:
        app = create_app(container)
        assert app.state.tracer_provider is None
        with TestClient(app) as client:
            assert client.get("/healthz").status_code == 200
    finally:
        container.close()
    (line,) = _lines(log, "http_request")
    assert "trace_id" not in line and line["route"] == "/healthz"
    # No provider, so no exporter exists that could still send something later.
    assert receiver.spans == []


def _shop() -> FastAPI:
    app = FastAPI()

    @app.get("/users/{name}")
    def user(name: str) -> dict[str, str]:
        structlog.get_logger("shop").info("user_shown")
        return {"shown": "yes"}

    @app.get("/fail")
    def fail() -> Any:
        from fastapi.responses import JSONResponse

        return JSONResponse({"error": "down"}, status_code=503)

    return app


def test_an_asgi_service_wrapped_by_leitstand_instrument_exports_its_spans(
    receiver: OtlpReceiver,
) -> None:
    out = io.StringIO()
    structlog.configure(
        processors=[add_trace_ids, structlog.processors.JSONRenderer()],
        logger_factory=structlog.PrintLoggerFactory(file=out),
    )
    tracing = tracer_provider(TelemetryPolicy(endpoint=receiver.url), service_name="shop")
    assert tracing is not None
    app = PrometheusMiddleware(_shop(), AppMetrics(service="shop"), tracer_provider=tracing)
    trace_id, parent_id, traceparent = _traceparent()
    try:
        client = TestClient(app)
        assert client.get("/users/anna", headers={"traceparent": traceparent}).status_code == 200
        assert client.get("/fail").status_code == 503
        assert client.get("/metrics").status_code == 200  # the scrape is no span
    finally:
        tracing.shutdown()
        structlog.reset_defaults()
    spans = receiver.wait_for(2)
    assert len(spans) == 2
    user = next(s for s in spans if s.name == "GET /users/{name}")
    assert (user.service, user.kind) == ("shop", _SERVER)
    assert user.trace_id == trace_id and user.parent_span_id == parent_id
    assert user.attributes["http.route"] == "/users/{name}"
    assert "anna" not in json.dumps(user.attributes)
    failed = next(s for s in spans if s.name == "GET /fail")
    assert failed.status == _ERROR and failed.attributes["http.response.status_code"] == 503
    # The service's own log line written inside the request carries the same trace.
    line = json.loads(out.getvalue().splitlines()[0])
    assert line["event"] == "user_shown"
    assert (line["trace_id"], line["span_id"]) == (trace_id, user.span_id)


def _wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def _call(app: WSGIMiddleware, path: str, headers: dict[str, str]) -> bytes:
    environ: dict[str, Any] = {"PATH_INFO": path}
    setup_testing_defaults(environ)
    environ.update(headers)
    return b"".join(app(environ, lambda status, headers, exc_info=None: None))


def test_a_wsgi_service_wrapped_by_leitstand_instrument_exports_its_spans(
    receiver: OtlpReceiver,
) -> None:
    tracing = tracer_provider(TelemetryPolicy(endpoint=receiver.url), service_name="legacy")
    assert tracing is not None
    routed = WSGIMiddleware(
        _wsgi_app,
        AppMetrics(service="legacy"),
        route_of=lambda environ: "/orders/{id}",
        tracer_provider=tracing,
    )
    unrouted = WSGIMiddleware(_wsgi_app, AppMetrics(service="legacy"), tracer_provider=tracing)
    trace_id, parent_id, traceparent = _traceparent()
    try:
        assert _call(routed, "/orders/991", {"HTTP_TRACEPARENT": traceparent}) == b"ok"
        assert _call(unrouted, "/profile/anna", {}) == b"ok"
    finally:
        tracing.shutdown()
    spans = receiver.wait_for(2)
    order = next(s for s in spans if s.name == "GET /orders/{id}")
    assert order.trace_id == trace_id and order.parent_span_id == parent_id
    assert order.service == "legacy" and order.attributes["http.route"] == "/orders/{id}"
    # Without route_of the service has not said what its routes are: no raw path in the span.
    plain = next(s for s in spans if s.name == "GET")
    assert "http.route" not in plain.attributes
    assert "anna" not in json.dumps(plain.attributes)


def test_the_sampling_ratio_applies_to_new_traces_and_a_caller_decision_is_kept(
    receiver: OtlpReceiver,
) -> None:
    out = io.StringIO()
    structlog.configure(
        processors=[add_trace_ids, structlog.processors.JSONRenderer()],
        logger_factory=structlog.PrintLoggerFactory(file=out),
    )
    tracing = tracer_provider(
        TelemetryPolicy(endpoint=receiver.url, sampling_ratio=0), service_name="shop"
    )
    assert tracing is not None
    app = PrometheusMiddleware(_shop(), AppMetrics(service="shop"), tracer_provider=tracing)
    trace_id, _parent_id, traceparent = _traceparent()
    try:
        client = TestClient(app)
        assert client.get("/users/new").status_code == 200  # a new trace: not sampled
        assert client.get("/users/old", headers={"traceparent": traceparent}).status_code == 200
    finally:
        tracing.shutdown()
        structlog.reset_defaults()
    (span,) = receiver.wait_for(1)
    assert span.trace_id == trace_id  # the caller sampled it (flags 01): it is kept
    # shutdown() exported every finished span before it returned: nothing else is on its way.
    assert len(receiver.spans) == 1
    # An unsampled request still has ids for its log lines.
    first = json.loads(out.getvalue().splitlines()[0])
    assert len(first["trace_id"]) == 32 and first["trace_id"] != trace_id
