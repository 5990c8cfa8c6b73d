"""leitstand's own logs: JSON lines, correlation ids, no secrets."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from leitstand.observability import configure_logging, correlation_id


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
