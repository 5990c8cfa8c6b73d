"""The whole chain on the real engines: app -> Prometheus -> Alertmanager -> leitstand -> SMTP.

A small app instrumented with ``leitstand.instrument`` answers 500s; the Prometheus stack that
`leitstand up` manages scrapes it with the rules generated from the policy; Alertmanager posts to
leitstand; e-mails arrive at a real SMTP server (aiosmtpd). Timeouts are shortened in the policy.
"""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx
import pytest

from leitstand.instrument import AppMetrics, WSGIMiddleware
from leitstand.testing import ServerProcess, free_port, wait_for
from leitstand.testing.mail import SmtpSink

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("prometheus") is None, reason="needs the Debian packages"),
]
ACK_TIMEOUT_S = 10


class _Quiet(WSGIRequestHandler):
    def log_message(self, *_args: object) -> None:
        return


def _failing_app(start_response: Callable[..., Any]) -> list[bytes]:
    start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
    return [b"boom"]


@pytest.fixture
def apps() -> Iterator[dict[str, int]]:
    servers: dict[str, WSGIServer] = {}
    for name in ("shop-a", "shop-b", "shop-c"):
        metrics = AppMetrics(service=name)
        app = WSGIMiddleware(
            lambda environ, start: _failing_app(start), metrics, route_of=lambda e: "/api"
        )
        server = make_server("127.0.0.1", free_port(), app, handler_class=_Quiet)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers[name] = server
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(timeout=2) as http:
            while not stop.wait(0.1):
                for server in servers.values():
                    with contextlib.suppress(httpx.HTTPError):
                        http.get(f"http://127.0.0.1:{server.server_port}/api")

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    try:
        yield {name: s.server_port for name, s in servers.items()}
    finally:
        stop.set()
        worker.join(5)
        for server in servers.values():
            server.shutdown()
            server.server_close()


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink(free_port()) as sink:
        yield sink


def _policy(path: Path, apps: dict[str, int], smtp: SmtpSink, names: list[str]) -> Path:
    targets = "\n".join(f"    {n}: {{address: '127.0.0.1:{apps[n]}'}}" for n in names)
    path.write_text(
        f"""
monitoring:
  scrape_interval: 1s
  evaluation_interval: 1s
  metrics:
    http_5xx_rate: {{interval: 2s}}
  targets:
{targets}
  stack: {{group_wait: 1s}}
alerting:
  ack_timeout: {ACK_TIMEOUT_S}s
  people:
    anna: {{name: Anna Ops, roles: [devops], email: anna@example.org}}
    carla: {{name: Carla Call, roles: [developer], email: carla@example.org}}
    eva: {{name: Eva Dev, roles: [developer], email: eva@example.org}}
    mario: {{name: Mario M, roles: [management], email: mario@example.org}}
  oncall: {{people: [carla]}}
  notifications:
    channels:
      email: {{smtp_host: 127.0.0.1, smtp_port: {smtp.port}, security: none}}
"""
    )
    return path


def _critical(server: ServerProcess, auth: dict[str, str], service: str) -> dict[str, Any] | None:
    alerts = httpx.get(f"{server.url}/api/v1/alerts", headers=auth, timeout=10).json()
    return next(
        (a for a in alerts if a["service"] == service and a["severity"] == "critical"), None
    )


def _mails_to(smtp: SmtpSink, needle: str, service: str) -> set[str]:
    return {
        r for m in smtp.mails if needle in m.subject and service in m.subject for r in m.recipients
    }


def test_critical_5xx_rate_pages_level_2_then_level_3_unless_acknowledged(
    tmp_path: Path, apps: dict[str, int], smtp: SmtpSink
) -> None:
    policy = _policy(tmp_path / "leitstand.yaml", apps, smtp, ["shop-a", "shop-b"])
    server = ServerProcess(
        home=tmp_path / ".leitstand",
        port=free_port(),
        env={"LEITSTAND_POLICY": str(policy)},
        managed_stack=True,
    )
    try:
        server.wait_ready()
        assert "monitoring stack: Prometheus http://127.0.0.1:" in server.stdout()
        auth = {"Authorization": f"Bearer {server.token()}"}
        a = wait_for("shop-a critical", lambda: _critical(server, auth, "shop-a"))
        b = wait_for("shop-b critical", lambda: _critical(server, auth, "shop-b"))
        assert (a["level"], a["source"], a["labels"]["alertname"]) == (
            2,
            "alertmanager",
            "Http5xxRate",
        )
        acked = httpx.post(f"{server.url}/api/v1/alerts/{b['id']}/ack", headers=auth, timeout=10)
        assert acked.status_code == 200, acked.text

        wait_for(
            "level 2 mail",
            lambda: (
                _mails_to(smtp, "Stufe 2", "shop-a") >= {"anna@example.org", "carla@example.org"}
            ),
        )
        level3 = wait_for(
            "level 3",
            lambda: (x := _critical(server, auth, "shop-a")) and x["level"] == 3 and x,
            timeout=ACK_TIMEOUT_S + 30,
        )
        incident = level3["escalation"]["incident_id"]
        assert incident and incident.startswith("INC-")
        want = {"anna@example.org", "carla@example.org", "eva@example.org", "mario@example.org"}
        wait_for("level 3 mails", lambda: _mails_to(smtp, "Stufe 3", "shop-a") >= want)

        time.sleep(3)  # shop-b was acknowledged long before its timeout: it must stay at level 2
        assert _critical(server, auth, "shop-b")["level"] == 2  # type: ignore[index]
        incidents = httpx.get(f"{server.url}/api/v1/incidents", headers=auth, timeout=10).json()
        assert [(i["id"], i["service"]) for i in incidents] == [(incident, "shop-a")]
        status = httpx.get(f"{server.url}/api/v1/alerts?status=all", headers=auth, timeout=10)
        assert all(x["occurrences"] >= 1 for x in status.json())
    finally:
        code = server.stop()
        assert code == 0, server.stderr()[-3000:]


def test_a_restart_mid_escalation_still_gives_exactly_one_level_3(
    tmp_path: Path, apps: dict[str, int], smtp: SmtpSink
) -> None:
    policy = _policy(tmp_path / "leitstand.yaml", apps, smtp, ["shop-c"])
    home = tmp_path / ".leitstand"
    env = {"LEITSTAND_POLICY": str(policy)}
    first = ServerProcess(home=home, port=free_port(), env=env, managed_stack=True)
    try:
        first.wait_ready()
        token = first.token()
        auth = {"Authorization": f"Bearer {token}"}
        alert = wait_for("shop-c critical", lambda: _critical(first, auth, "shop-c"))
        assert alert["level"] == 2
    finally:
        code = first.stop()
        assert code == 0, first.stderr()[-3000:]
    second = ServerProcess(home=home, port=free_port(), env=env, managed_stack=True)
    try:
        second.wait_ready()
        level3 = wait_for(
            "level 3 after restart",
            lambda: (x := _critical(second, auth, "shop-c")) and x["level"] == 3 and x,
            timeout=ACK_TIMEOUT_S + 40,
        )
        assert level3["id"] == alert["id"]
        time.sleep(ACK_TIMEOUT_S / 2)
        escalated = httpx.get(
            f"{second.url}/api/v1/audit/entries",
            params={"action": "alert.escalated"},
            headers=auth,
            timeout=10,
        ).json()
        assert len(escalated) == 1
        incidents = httpx.get(f"{second.url}/api/v1/incidents", headers=auth, timeout=10).json()
        assert len(incidents) == 1
        jobs = httpx.get(f"{second.url}/api/v1/scheduler/jobs", headers=auth, timeout=10).json()
        fired = [j for j in jobs if j["kind"] == "alerting.escalate"]
        assert [j["status"] for j in fired] == ["done"]
        assert fired[0]["fired_by"].endswith(f":{second.process.pid}")
    finally:
        code = second.stop()
        assert code == 0, second.stderr()[-3000:]
