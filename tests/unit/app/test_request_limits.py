"""The request-limits middleware on its own: body size per route class, JSON depth, the 500."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from pydantic import BaseModel, TypeAdapter
from pydantic import ValidationError as PydanticValidationError
from starlette.types import Message, Receive, Scope, Send

from leitstand.api_types import MAX_ROW_ID, DbId, Timestamp
from leitstand.policy import load_policy_text
from leitstand.policy.api import ApiLimits, BodyLimits
from leitstand.web.limits import RequestLimitsMiddleware, body_class, json_depth_problem

LIMITS = ApiLimits(body_bytes=BodyLimits(json_api=2048, alert_intake=8192, form=1024), json_depth=4)


class Echo:
    """An inner app that reads the whole body and answers with its length."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        size = 0
        while True:
            message = await receive()
            size += len(message.get("body", b""))
            if not message.get("more_body", False):
                break
        if scope["path"] == "/boom":
            raise RuntimeError("exploded")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(size).encode()})


class Sent:
    def __init__(self) -> None:
        self.read = 0
        self.status = 0
        self.body = b""


def _call(
    path: str,
    chunks: Iterator[bytes],
    *,
    headers: dict[str, str] | None = None,
    inner: Any = None,
) -> Sent:
    sent = Sent()
    app = RequestLimitsMiddleware(inner or Echo(), limits=LIMITS)
    scope: Scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
    }

    async def receive() -> Message:
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        sent.read += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            sent.status = message["status"]
        else:
            sent.body += message.get("body", b"")

    asyncio.run(app(scope, receive, send))
    return sent


def _stream(total: int, size: int = 512) -> Iterator[bytes]:
    while total > 0:
        yield b"x" * min(size, total)
        total -= size


def _json(body: bytes) -> dict[str, str]:
    return {"Content-Type": "application/json", "Content-Length": str(len(body))}


CHUNKED = {"Transfer-Encoding": "chunked", "Content-Type": "text/plain"}


def test_each_route_class_has_its_own_limit() -> None:
    assert body_class("/api/v1/incidents") == "json_api"
    assert body_class("/api/v1/alerts/alertmanager") == "alert_intake"
    assert body_class("/login") == body_class("/releases/3/approve") == "form"
    assert _call("/api/v1/x", _stream(2000), headers=CHUNKED).status == 200
    assert _call("/api/v1/x", _stream(3000), headers=CHUNKED).status == 413
    assert _call("/api/v1/alerts/alertmanager", _stream(3000), headers=CHUNKED).status == 200
    assert _call("/login", _stream(1500), headers=CHUNKED).status == 413


def test_a_declared_length_over_the_limit_is_refused_before_a_byte_is_read() -> None:
    inner = Echo()
    sent = _call(
        "/api/v1/x",
        _stream(200 * 1024 * 1024),
        headers={"Content-Length": str(200 * 1024 * 1024)},
        inner=inner,
    )
    assert (sent.status, sent.read, inner.calls) == (413, 0, 0)
    answer = orjson.loads(sent.body)
    assert "at most 2048 bytes" in answer["error"]
    assert "api.limits.body_bytes.json_api" in answer["error"]


def test_a_streamed_body_is_cut_off_as_soon_as_it_passes_the_limit() -> None:
    inner = Echo()
    sent = _call("/api/v1/x", _stream(200 * 1024 * 1024), headers=CHUNKED, inner=inner)
    assert sent.status == 413
    assert sent.read <= 2048 + 512
    assert inner.calls == 0


def test_json_deeper_than_the_limit_is_a_422_naming_the_path() -> None:
    deep = json.dumps({"payload": {"a": {"b": [{"c": 1}]}}}).encode()
    sent = _call("/api/v1/x", iter([deep]), headers=_json(deep))
    assert sent.status == 422
    answer = orjson.loads(sent.body)
    assert answer["issues"][0]["path"] == "payload.a.b.0"
    assert "nested deeper than 4 levels" in answer["error"]
    flat = json.dumps({"payload": {"a": {"b": [1]}}}).encode()
    assert _call("/api/v1/x", iter([flat]), headers=_json(flat)).status == 200


def test_json_depth_is_found_also_where_the_parser_gives_up() -> None:
    assert json_depth_problem(b"[" * 5000 + b"]" * 5000, 32) == (
        "",
        "nested deeper than 32 levels of objects and arrays",
    )
    # Brackets inside strings are text, not nesting.
    assert json_depth_problem(b'{"a": "[[[[[[[[[["}', 3) is None
    assert json_depth_problem(b'{"a": "[[[[[[[[[[" ', 3) is None  # malformed: the route says so
    assert json_depth_problem(b'{"a": [1, {"b": 2}]}', 3) is None


def test_an_unhandled_error_is_a_json_500_and_is_logged_with_its_stack() -> None:
    from structlog.testing import capture_logs

    with capture_logs() as logs:
        sent = _call("/boom", iter([b"{}"]), headers=_json(b"{}"))
    assert sent.status == 500
    assert "internal error" in orjson.loads(sent.body)["error"]
    [event] = [e for e in logs if e["event"] == "unhandled_error"]
    assert event["path"] == "/boom" and event["error"] == "RuntimeError"
    assert 'raise RuntimeError("exploded")' in event["traceback"]


def test_the_limits_are_policy_with_documented_defaults() -> None:
    limits = ApiLimits()
    assert limits.body_bytes.json_api == 1024 * 1024
    assert limits.body_bytes.alert_intake == 10 * 1024 * 1024
    assert limits.body_bytes.form == 256 * 1024
    assert limits.json_depth == 32
    policy = load_policy_text("api:\n  limits:\n    json_depth: 8\n", source="test")
    assert policy.api.limits.json_depth == 8
    assert policy.api.limits.body_bytes.json_api == 1024 * 1024


def test_shared_types_bound_ids_and_timestamps() -> None:
    class Body(BaseModel):
        id: DbId
        at: Timestamp

    Body(id=MAX_ROW_ID, at=datetime(2026, 1, 1, tzinfo=UTC))
    for bad in ({"id": MAX_ROW_ID + 1}, {"id": 0}):
        with pytest.raises(PydanticValidationError, match="id"):
            Body.model_validate({**bad, "at": "2026-01-01T00:00:00Z"})
    stamps = TypeAdapter(Timestamp)
    for year in ("0001", "9999", "1969"):
        with pytest.raises(PydanticValidationError, match="between 1970 and 2199"):
            stamps.validate_python(f"{year}-01-01T00:00:00+01:00")
    with pytest.raises(PydanticValidationError, match="timezone"):
        stamps.validate_python("2026-01-01T00:00:00")
