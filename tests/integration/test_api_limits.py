"""Limits before work: bodies, credentials before bodies, JSON depth, ids, page sizes, dates."""

from __future__ import annotations

import asyncio
import re
import select
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.types import Message

from leitstand.api_types import MAX_DB_INT, MAX_ROW_ID
from leitstand.auth.model import Role
from leitstand.bootstrap import Container
from leitstand.incidents.store import IncidentRow
from leitstand.testing import ServerProcess, free_port
from leitstand.testing.cli import cli_token, run_cli
from leitstand.web.limits import api_routes, guard_of

MIB = 1024 * 1024


class Received:
    def __init__(self) -> None:
        self.read = 0
        self.status = 0
        self.headers: dict[str, str] = {}


def _asgi(app: FastAPI, method: str, path: str, headers: dict[str, str], total: int) -> Received:
    """Call the app with a lazily produced body of ``total`` bytes; count what it reads."""
    got = Received()

    def chunks() -> Iterator[bytes]:
        left = total
        while left > 0:
            yield b" " * min(64 * 1024, left)
            left -= 64 * 1024

    stream = chunks()

    async def receive() -> Message:
        chunk = next(stream, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        got.read += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            got.status = message["status"]
            got.headers = {k.decode(): v.decode() for k, v in message["headers"]}

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    asyncio.run(app(scope, receive, send))
    return got


CHUNKED_JSON = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}


def test_an_unauthenticated_body_is_not_read_before_the_401(
    app: FastAPI, headers: dict[Role, dict[str, str]]
) -> None:
    huge = 200 * MIB
    anonymous = _asgi(app, "POST", "/api/v1/audit/entries", CHUNKED_JSON, huge)
    assert (anonymous.status, anonymous.read) == (401, 0)
    assert anonymous.headers["www-authenticate"] == "Bearer"
    forged = {**CHUNKED_JSON, "Authorization": "Bearer lst_not-a-real-token"}
    assert (_asgi(app, "POST", "/api/v1/incidents", forged, huge).status, 0) == (401, 0)
    # A role the route does not admit is refused as early; so is a web form without a session.
    auditor = {**CHUNKED_JSON, **headers[Role.AUDITOR]}
    denied = _asgi(app, "POST", "/api/v1/incidents", auditor, huge)
    assert (denied.status, denied.read) == (403, 0)
    form = {"Content-Type": "application/x-www-form-urlencoded", "Transfer-Encoding": "chunked"}
    page = _asgi(app, "POST", "/releases/1/abort", form, huge)
    assert (page.status, page.read) == (303, 0)


def test_bodies_over_the_limit_are_413_declared_at_once_streamed_at_the_limit(
    app: FastAPI, headers: dict[Role, dict[str, str]]
) -> None:
    devops = headers[Role.DEVOPS]
    declared = {"Content-Type": "application/json", "Content-Length": str(200 * MIB), **devops}
    at_once = _asgi(app, "POST", "/api/v1/audit/entries", declared, 200 * MIB)
    assert (at_once.status, at_once.read) == (413, 0)
    streamed = _asgi(app, "POST", "/api/v1/audit/entries", {**CHUNKED_JSON, **devops}, 200 * MIB)
    assert streamed.status == 413
    assert MIB < streamed.read <= MIB + 64 * 1024
    # The alert intake takes Alertmanager's larger batches (a 2 MiB body is not too large).
    intake = _asgi(app, "POST", "/api/v1/alerts/alertmanager", {**CHUNKED_JSON, **devops}, 2 * MIB)
    assert intake.status == 422
    assert intake.read == 2 * MIB
    # Web forms: 256 KiB.
    form = {"Content-Type": "application/x-www-form-urlencoded", "Transfer-Encoding": "chunked"}
    assert _asgi(app, "POST", "/login", form, 300 * 1024).status == 413


def test_json_nested_deeper_than_the_policy_allows_is_a_422_naming_the_path(
    client: TestClient, headers: dict[Role, dict[str, str]]
) -> None:
    payload: dict[str, Any] = {}
    inner = payload
    for _ in range(600):
        inner["a"] = {}
        inner = inner["a"]
    entry = {"action": "manual.note", "subject": "service:enterprise-api", "payload": payload}
    deep = client.post("/api/v1/audit/entries", json=entry, headers=headers[Role.DEVOPS])
    assert deep.status_code == 422, deep.text
    [issue] = deep.json()["issues"]
    assert issue["path"] == "payload" + ".a" * 31
    assert "nested deeper than 32 levels" in issue["message"]
    systems: list[Any] = []
    for _ in range(33):
        systems = [systems]
    incident = {"title": "x", "severity": "SEV-2", "systems": systems}
    nested = client.post("/api/v1/incidents", json=incident, headers=headers[Role.DEVOPS])
    assert nested.status_code == 422 and nested.json()["issues"][0]["path"].startswith("systems.0")


def _int_path_routes(app: FastAPI) -> list[tuple[str, str, Role]]:
    found = []
    for route in api_routes(app):
        guard = guard_of(route.dependant)
        ints = [p.name for p in route.dependant.path_params if p.field_info.annotation is int]
        if not ints or guard is None or not hasattr(guard, "roles"):
            continue
        role = Role.DEVOPS if Role.DEVOPS in guard.roles else sorted(guard.roles)[0]
        for method in sorted(route.methods):
            found.append((method, route.path, role))
    return found


def test_ids_beyond_the_column_range_and_huge_page_sizes_are_422_never_500(
    app: FastAPI, client: TestClient, headers: dict[Role, dict[str, str]]
) -> None:
    routes = _int_path_routes(app)
    assert len(routes) >= 13, routes
    for method, path, role in routes:
        # Ledger indexes are BIGINT and start at 0; row ids are INTEGER (32 bits on PostgreSQL).
        top = MAX_DB_INT if "{index}" in path else MAX_ROW_ID
        zero = () if "{index}" in path else (0,)
        for bad in (top + 1, MAX_DB_INT + 1, 2**70, -1, *zero):
            url = re.sub(r"\{[^}]+\}", str(bad), path)
            answer = client.request(method, url, headers=headers[role], follow_redirects=False)
            assert answer.status_code == 422, (method, url, answer.status_code, answer.text)
        if method == "GET":
            url = re.sub(r"\{[^}]+\}", str(top), path)
            answer = client.request(method, url, headers=headers[role], follow_redirects=False)
            assert answer.status_code == 404, (url, answer.text)
    devops = headers[Role.DEVOPS]
    for url in (
        "/api/v1/releases",
        "/api/v1/audit/entries",
        "/api/v1/alerts",
        "/api/v1/backups/runs",
        "/api/v1/gates/runs",
    ):
        huge = client.get(url, params={"limit": 10**20}, headers=devops)
        assert huge.status_code == 422 and huge.json()["issues"][0]["path"] == "query.limit", url
    assert (
        client.get("/api/v1/changes/log", params={"change": 2**64}, headers=devops).status_code
        == 422
    )


def test_the_reported_500s_are_422s(
    client: TestClient, headers: dict[Role, dict[str, str]]
) -> None:
    devops = headers[Role.DEVOPS]
    created = client.post(
        "/api/v1/incidents", json={"title": "x", "severity": "SEV-2"}, headers=devops
    )
    assert created.status_code == 201, created.text
    iid = created.json()["id"]
    for field in ("tenants", "systems", "title", "severity", "personal_data_affected"):
        null = client.patch(f"/api/v1/incidents/{iid}", json={field: None}, headers=devops)
        assert null.status_code == 422, (field, null.text)
        assert "cannot be null" in null.json()["error"]
    empty = client.post(
        "/api/v1/flags/evaluate", json={"environment": "production", "flags": [""]}, headers=devops
    )
    assert empty.status_code == 422 and empty.json()["issues"][0]["path"].startswith("flags.0")
    for when in ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "0001-01-01T00:30:00+01:00"):
        year = client.post(
            "/api/v1/incidents",
            json={"title": "x", "severity": "SEV-2", "occurred_at": when},
            headers=devops,
        )
        assert year.status_code == 422, (when, year.text)
        assert year.json()["issues"][0]["path"] == "occurred_at"
        patched = client.patch(
            f"/api/v1/incidents/{iid}", json={"resolved_at": when}, headers=devops
        )
        assert patched.status_code == 422, patched.text
        since = client.get("/api/v1/audit/entries", params={"since": when}, headers=devops)
        assert since.status_code == 422, since.text


def test_an_incident_stored_with_a_year_1_time_still_shows_everywhere(
    client: TestClient, container: Container, headers: dict[Role, dict[str, str]]
) -> None:
    devops = headers[Role.DEVOPS]
    iid = client.post(
        "/api/v1/incidents", json={"title": "old row", "severity": "SEV-2"}, headers=devops
    ).json()["id"]
    with container.db.transaction() as session:
        row = session.get(IncidentRow, iid)
        assert row is not None
        row.occurred_at = datetime(1, 1, 1, tzinfo=UTC)
    for url in (
        f"/api/v1/incidents/{iid}",
        f"/api/v1/incidents/{iid}/detail",
        f"/api/v1/incidents/{iid}/timeline",
        "/api/v1/incidents",
    ):
        assert client.get(url, headers=devops).status_code == 200, url
    assert client.post(f"/api/v1/incidents/{iid}/postmortem", headers=devops).status_code == 200
    token = devops["Authorization"].removeprefix("Bearer ")
    signed_in = client.post("/login", data={"token": token, "next": "/"}, follow_redirects=False)
    assert signed_in.status_code == 303, signed_in.text
    for url in (f"/incidents/{iid}", "/incidents"):
        page = client.get(url)
        assert page.status_code == 200 and "old row" in page.text, url
    env = {"LEITSTAND_HOME": str(container.settings.home), "PATH": "/usr/bin:/bin"}
    if container.settings.database_url:
        env["LEITSTAND_DATABASE_URL"] = container.settings.database_url
        env["LEITSTAND_DATABASE_SCHEMA"] = container.settings.database_schema or ""
    shown = run_cli(["incident", "show", iid], env=env)
    assert shown.returncode == 0, shown.stderr
    assert "old row" in shown.stdout


def test_unhandled_errors_are_a_json_500_with_the_request_id(app: FastAPI) -> None:
    from structlog.testing import capture_logs

    from leitstand.auth.api import public

    def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/boom-for-test", boom, dependencies=[public()])
    with TestClient(app) as client, capture_logs() as logs:
        answer = client.get("/boom-for-test", headers={"X-Request-ID": "req-500"})
    assert answer.status_code == 500
    assert answer.json()["request_id"] == "req-500"
    assert "a bug" not in answer.text
    assert answer.headers["x-request-id"] == "req-500"
    [event] = [e for e in logs if e["event"] == "unhandled_error"]
    assert "RuntimeError: a bug" in event["traceback"]


def _vm(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(key)


def _first_line(sock: socket.socket, timeout: float = 15.0) -> str:
    ready, _, _ = select.select([sock], [], [], timeout)
    assert ready, "the server did not answer before the body was complete"
    return sock.recv(4096).decode("latin-1").split("\r\n", 1)[0]


def test_a_live_server_refuses_a_200_mb_anonymous_post_without_reading_it(tmp_path: Path) -> None:
    server = ServerProcess(home=tmp_path / "home", port=free_port())
    try:
        server.wait_ready()
        pid = server.process.pid
        assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200
        before = _vm(pid, "VmHWM")
        head = (
            "POST /api/v1/audit/entries HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/json\r\n"
        )
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(f"{head}Content-Length: {200 * MIB}\r\n\r\n".encode())
            assert _first_line(sock).startswith("HTTP/1.1 413 ")
        with socket.create_connection(("127.0.0.1", server.port), timeout=2) as sock:
            sock.sendall(f"{head}Transfer-Encoding: chunked\r\n\r\n".encode())
            chunk = f"{MIB:x}\r\n".encode() + b" " * MIB + b"\r\n"
            sock.sendall(chunk)
            assert _first_line(sock).startswith("HTTP/1.1 401 ")
            try:  # keep pushing the other 199 MB: the server must not take them in
                for _ in range(199):
                    sock.sendall(chunk)
            except OSError:
                pass
        assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200
        grown = _vm(pid, "VmHWM") - before
        assert grown < 16 * MIB, f"server memory grew by {grown / MIB:.1f} MiB"
    finally:
        server.stop()


def test_audit_record_refuses_a_payload_nested_too_deep(tmp_path: Path) -> None:
    env = {"LEITSTAND_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    env["LEITSTAND_TOKEN"] = cli_token(tmp_path / "home")  # a devops user acts
    for depth in (40, 20_000):
        payload = '{"a":' * depth + "1" + "}" * depth
        args = ["audit", "record", "--action", "manual.note", "--subject", "service:x"]
        done = run_cli([*args, "--payload", payload], env=env)
        assert done.returncode == 2, done.stderr
        assert "nested deeper than 32 levels" in done.stderr
        assert "Traceback" not in done.stderr
