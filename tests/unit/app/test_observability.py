"""leitstand's own logs: JSON lines, correlation ids, no secrets."""

from __future__ import annotations

import io
import json
import logging
import secrets
from collections.abc import Iterator

import pytest
import structlog
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from prometheus_client import CollectorRegistry

from leitstand.logs.pseudonym import LogPseudonymiser, pseudonym_of
from leitstand.observability import (
    HttpMetrics,
    RequestContextMiddleware,
    configure_logging,
    correlation_id,
)
from leitstand.policy.model import Policy


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    out = io.StringIO()
    configure_logging("info", stream=out)
    yield out
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()


def test_log_lines_are_json_with_the_bound_request_id_and_no_secrets(stream: io.StringIO) -> None:
    structlog.contextvars.bind_contextvars(request_id="r-1")
    structlog.get_logger("t").info("login", user="anna", password="hunter2", api_key="k")
    structlog.contextvars.clear_contextvars()
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert line["event"] == "login"
    assert line["request_id"] == "r-1"
    assert line["level"] == "info"
    assert line["timestamp"].endswith("Z")
    assert line["password"] == "[redacted]"
    assert line["api_key"] == "[redacted]"
    assert "hunter2" not in stream.getvalue()


def test_the_policy_pseudonymiser_hides_names_and_addresses_in_every_log_line() -> None:
    # "Keine PII in Logs": the policy's pseudonymiser runs in leitstand's own chain, for
    # structlog events and stdlib records (uvicorn) alike, after redaction.
    key = secrets.token_bytes(32)
    out = io.StringIO()
    configure_logging(
        "info",
        stream=out,
        pseudonymiser=LogPseudonymiser(key, Policy().logs.pseudonymise_fields),
    )
    try:
        structlog.get_logger("t").info(
            "login", user="anna.schmidt", client_ip="10.1.2.3", password="hunter2", tenant="t-01"
        )
        logging.getLogger("uvicorn.error").warning("refused %s", "anna@makler.example")
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
    first, second = (json.loads(x) for x in out.getvalue().splitlines()[-2:])
    assert first["user"] == pseudonym_of("anna.schmidt", key)
    assert first["client_ip"] == pseudonym_of("10.1.2.3", key)
    assert first["password"] == "[redacted]" and first["tenant"] == "t-01"
    assert second["event"] == f"refused {pseudonym_of('anna@makler.example', key)}"
    text = out.getvalue()
    assert "anna" not in text and "10.1.2.3" not in text and "hunter2" not in text


def test_stdlib_records_from_uvicorn_become_json_too(stream: io.StringIO) -> None:
    logging.getLogger("uvicorn.error").warning("worker %s stopped", 3)
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert line["event"] == "worker 3 stopped"
    assert line["level"] == "warning"


def test_debug_lines_are_filtered_at_info_level(stream: io.StringIO) -> None:
    structlog.get_logger("t").debug("noise")
    assert stream.getvalue() == ""


def test_correlation_id_sources() -> None:
    assert correlation_id({"x-request-id": "abc"}) == "abc"
    trace = "0af7651916cd43dd8448eb211c80319c"
    assert correlation_id({"traceparent": f"00-{trace}-b7ad6b7169203331-01"}) == trace
    zero = "00-" + "0" * 32 + "-b7ad6b7169203331-01"
    assert len(correlation_id({"traceparent": zero})) == 32
    assert correlation_id({"traceparent": zero}) != "0" * 32


# --- Trace ids in log lines, spans per request, route templates instead of raw paths ---------


def _server_lines(stream: io.StringIO) -> str:
    # The test client logs its own requests (with the raw URL); the server's lines are the rest.
    lines = (json.loads(line) for line in stream.getvalue().splitlines())
    return "\n".join(json.dumps(line) for line in lines if line.get("logger") not in _CLIENTS)


_CLIENTS = ("httpx", "httpx2")


def _traced_app(exporter: InMemorySpanExporter) -> tuple[FastAPI, TracerProvider]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = FastAPI()

    @app.get("/users/{name}")
    def user(name: str) -> dict[str, str]:
        structlog.get_logger("t").info("looked_up")
        return {"ok": "yes"}

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("broken")

    app.add_middleware(
        RequestContextMiddleware,
        metrics=HttpMetrics(CollectorRegistry()),
        tracer=provider.get_tracer("test"),
    )
    return app, provider


def test_log_lines_inside_a_span_carry_its_trace_and_span_id(stream: io.StringIO) -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("work") as span:
        structlog.get_logger("t").info("inside")
        logging.getLogger("uvicorn.error").warning("stdlib inside")
    structlog.get_logger("t").info("outside")
    inside, stdlib, outside = (json.loads(line) for line in stream.getvalue().splitlines())
    context = span.get_span_context()
    for line in (inside, stdlib):
        assert line["trace_id"] == f"{context.trace_id:032x}"
        assert line["span_id"] == f"{context.span_id:016x}"
        assert len(line["trace_id"]) == 32 and len(line["span_id"]) == 16
    assert "trace_id" not in outside and "span_id" not in outside


def test_a_request_is_a_span_named_after_its_route_and_its_log_lines_share_the_trace(
    stream: io.StringIO,
) -> None:
    exporter = InMemorySpanExporter()
    app, _provider = _traced_app(exporter)
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    response = TestClient(app).get(
        "/users/anna.schmidt", headers={"traceparent": f"00-{trace_id}-{parent_id}-01"}
    )
    assert response.status_code == 200
    (span,) = exporter.get_finished_spans()
    assert span.name == "GET /users/{name}"
    assert span.kind is SpanKind.SERVER
    assert f"{span.context.trace_id:032x}" == trace_id  # the incoming trace is continued
    assert span.parent is not None and f"{span.parent.span_id:016x}" == parent_id
    assert dict(span.attributes or {}) == {
        "http.request.method": "GET",
        "http.route": "/users/{name}",
        "http.response.status_code": 200,
    }
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    looked_up = next(line for line in lines if line["event"] == "looked_up")
    access = next(line for line in lines if line["event"] == "http_request")
    for line in (looked_up, access):
        assert line["trace_id"] == trace_id
        assert line["span_id"] == f"{span.context.span_id:016x}"
        assert line["request_id"] == trace_id  # the correlation id stays as it was
    # The access log names the route template; the raw path (a user name) is nowhere.
    assert access["route"] == "/users/{name}" and "path" not in access
    assert "anna" not in _server_lines(stream)


def test_a_request_without_a_trace_starts_one_and_errors_mark_the_span(
    stream: io.StringIO,
) -> None:
    exporter = InMemorySpanExporter()
    app, _provider = _traced_app(exporter)
    client = TestClient(app)
    assert client.get("/nowhere/anna").status_code == 404
    (span,) = exporter.get_finished_spans()
    assert span.parent is None and span.name == "GET"  # no route: the method alone
    assert "http.route" not in (span.attributes or {})
    access = json.loads(_server_lines(stream).splitlines()[-1])
    assert access["route"] == "unmatched" and access["trace_id"] == f"{span.context.trace_id:032x}"
    assert "anna" not in _server_lines(stream)
    assert span.status.status_code is StatusCode.UNSET

    exporter.clear()
    assert TestClient(app, raise_server_exceptions=False).get("/boom").status_code == 500
    (failed,) = exporter.get_finished_spans()
    assert failed.name == "GET /boom" and failed.status.status_code is StatusCode.ERROR
    assert failed.attributes is not None and failed.attributes["http.response.status_code"] == 500
    assert [event.name for event in failed.events] == ["exception"]


def test_without_a_tracer_requests_are_logged_as_before_without_trace_ids(
    stream: io.StringIO,
) -> None:
    app = FastAPI()

    @app.get("/users/{name}")
    def user(name: str) -> dict[str, str]:
        return {"ok": "yes"}

    app.add_middleware(RequestContextMiddleware, metrics=HttpMetrics(CollectorRegistry()))
    TestClient(app).get("/users/anna", headers={"x-request-id": "r-7"})
    access = json.loads(_server_lines(stream).splitlines()[-1])
    assert access["event"] == "http_request" and access["request_id"] == "r-7"
    assert access["route"] == "/users/{name}" and "path" not in access
    assert "trace_id" not in access
