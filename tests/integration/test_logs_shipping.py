"""leitstand's own log lines reach a real rsyslog: RFC 5424 over TCP, one stream per log type.

rsyslogd runs from the rendered configuration (``rsyslogd -n -f CONF -i PIDFILE``) on a free port
of 127.0.0.1, or as part of the managed stack; leitstand's logging ships each rendered line (the
stderr text: redacted, pseudonymised) through :class:`leitstand.logs.shipping.Shipper`.
"""

from __future__ import annotations

import io
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import structlog
from fastapi.testclient import TestClient

from leitstand.alerting.stack import LocalStack, read_status
from leitstand.app import create_app
from leitstand.bootstrap import Container, build
from leitstand.logs.pseudonym import LogPseudonymiser, pseudonym_of
from leitstand.logs.service import LogService
from leitstand.logs.shipping import Shipper
from leitstand.observability import configure_logging
from leitstand.policy import default_policy
from leitstand.settings import Settings
from leitstand.testing import free_port, wait_for

pytestmark = pytest.mark.skipif(
    shutil.which("rsyslogd", path="/usr/sbin:/usr/bin") is None
    or shutil.which("logrotate", path="/usr/sbin:/usr/bin") is None,
    reason="needs rsyslog and logrotate (apt-get install rsyslog logrotate)",
)


KEY = secrets.token_bytes(32)


@pytest.fixture
def container(tmp_path: Path) -> Iterator[Container]:
    c = build(Settings(home=tmp_path / "home"), migrate=True, policy=default_policy())
    try:
        yield c
    finally:
        c.close()


class Rsyslogd:
    """rsyslogd from the rendered configuration, as a child process of the test."""

    def __init__(self, logs: LogService, conf: Path, port: int) -> None:
        self.command = [
            str(logs.engines.rsyslogd),
            "-n",
            "-f",
            str(conf / "rsyslog.conf"),
            "-i",
            str(logs.paths(port=port).pid_file),
        ]
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for("rsyslogd listening", self._listening, timeout=30)

    def _listening(self) -> bool:
        assert self.process is not None
        assert self.process.poll() is None, "rsyslogd exited"
        with closing(socket.socket()) as sock:
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self) -> None:
        if self.process is None:
            return
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


@pytest.fixture
def shipping(
    container: Container, tmp_path: Path
) -> Iterator[tuple[LogService, Rsyslogd, Shipper, io.StringIO]]:
    logs = container.get(LogService)
    conf = tmp_path / "conf"
    port = free_port()
    logs.render(out=conf, port=port)
    logs.paths(port=port).work_directory.mkdir(parents=True, exist_ok=True)
    rsyslog = Rsyslogd(logs, conf, port)
    shipper = Shipper("127.0.0.1", port, retry_after=0.1)
    stderr = io.StringIO()
    configure_logging(
        "info",
        stream=stderr,
        pseudonymiser=LogPseudonymiser(KEY, container.policy.logs.pseudonymise_fields),
        ship=shipper.offer,
    )
    try:
        yield logs, rsyslog, shipper, stderr
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
        shipper.close()
        rsyslog.stop()


def _lines(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _with(path: Path, key: str, value: str) -> dict[str, Any] | None:
    return next((r for r in _lines(path) if r["data"].get(key) == value), None)


def test_leitstand_log_lines_land_in_their_streams_pseudonymised_as_on_stderr(
    shipping: tuple[LogService, Rsyslogd, Shipper, io.StringIO], container: Container
) -> None:
    logs, _rsyslog, _shipper, stderr = shipping
    with TestClient(create_app(container)) as client:
        assert client.get("/healthz", headers={"X-Request-ID": "ship-1"}).status_code == 200
    log = structlog.get_logger("leitstand.test")
    log.info("audit.logs_exported", user="anna.schmidt", request_id="ship-2")
    log.warning("login_failed", client_ip="10.1.2.3", request_id="ship-3")
    log.info("checks_done", count=3, request_id="ship-4")

    access = wait_for(
        "the request in access.log",
        lambda: _with(logs.directory / "access.log", "request_id", "ship-1"),
    )
    assert access["app"] == "leitstand"
    assert access["data"]["event"] == "http_request"
    assert access["data"]["route"] == "/healthz"
    audit = wait_for(
        "the audit event", lambda: _with(logs.directory / "audit.log", "request_id", "ship-2")
    )
    assert audit["data"]["user"] == pseudonym_of("anna.schmidt", KEY)
    security = wait_for(
        "the sign-in failure",
        lambda: _with(logs.directory / "security.log", "request_id", "ship-3"),
    )
    assert security["data"]["client_ip"] == pseudonym_of("10.1.2.3", KEY)
    wait_for(
        "the other event", lambda: _with(logs.directory / "application.log", "request_id", "ship-4")
    )
    # Exactly the lines written to stderr: the same processors, the same text.
    written = {
        r["request_id"]: r
        for r in map(json.loads, stderr.getvalue().splitlines())
        if "request_id" in r
    }
    assert written["ship-2"] == audit["data"]
    assert written["ship-3"] == security["data"]
    assert "anna.schmidt" not in (logs.directory / "audit.log").read_text()


def test_a_stopped_rsyslog_neither_blocks_nor_breaks_logging_and_lines_flow_after_restart(
    shipping: tuple[LogService, Rsyslogd, Shipper, io.StringIO],
) -> None:
    logs, rsyslog, shipper, stderr = shipping
    log = structlog.get_logger("leitstand.test")
    log.info("before_stop", marker="m0")
    stream = logs.directory / "application.log"
    wait_for("the first line", lambda: _with(stream, "marker", "m0"))

    rsyslog.stop()
    started = time.monotonic()
    for n in range(2000):
        log.info("while_stopped", marker=f"s{n}")
    assert time.monotonic() - started < 60  # a blocking send would wait per line: far longer
    # Every line still reached stderr; the shipped ones that could not go are counted.
    assert stderr.getvalue().count('"while_stopped"') == 2000
    wait_for("lines counted as dropped", lambda: shipper.dropped > 0, timeout=30)

    rsyslog.start()

    sent: set[str] = set()

    def flows() -> bool:
        # A new line each poll: the ones sent before the shipper reconnected are dropped.
        marker = uuid.uuid4().hex
        sent.add(marker)
        log.info("after_restart", marker=marker)
        return any(r["data"].get("marker") in sent for r in _lines(stream))

    wait_for("a line after the restart", flows, timeout=30, interval=0.2)


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("prometheus") is None or shutil.which("prometheus-alertmanager") is None,
    reason="needs the Debian packages prometheus and prometheus-alertmanager",
)
def test_the_managed_stack_runs_rsyslog_and_writes_the_streams_below_the_home(
    container: Container,
) -> None:
    local = LocalStack(
        home=container.settings.home,
        policy=container.policy,
        policy_file=None,
        leitstand_url="http://127.0.0.1:9",
        auth=container.auth,
    )
    local.start()
    shipper: Shipper | None = None
    try:
        assert local.rsyslog_target is not None
        status = wait_for(
            "rsyslog ready",
            lambda: (
                (s := read_status(container.settings.home))
                and any(c["name"] == "rsyslog" and c["ready"] for c in s["components"])
                and s
            ),
            timeout=30,
        )
        assert status["installed"]["rsyslogd"]
        rsyslog = next(c for c in status["components"] if c["name"] == "rsyslog")
        assert rsyslog["url"] == f"tcp://127.0.0.1:{local.rsyslog_target[1]}"
        assert (local.folder / "config" / "rsyslog" / "rsyslog.conf").is_file()

        shipper = Shipper(*local.rsyslog_target)
        shipper.offer(json.dumps({"event": "stack_checked", "level": "info"}), {"event": "x"})
        stream = container.settings.home / "logs" / "application.log"
        assert wait_for("the stack's stream", lambda: _with(stream, "event", "stack_checked"))

        # The engines' own output is tailed into the application stream, tagged with the engine.
        conf = (local.folder / "config" / "rsyslog" / "rsyslog.conf").read_text()
        assert f'File="{local.folder}/prometheus.log" Tag="prometheus"' in conf
        ready = wait_for(
            "Prometheus's start line in the application stream",
            lambda: next(
                (
                    r
                    for r in _lines(stream)
                    if r["app"] == "prometheus"
                    and "Server is ready to receive web requests." in r["message"]
                ),
                None,
            ),
            timeout=60,
        )
        assert ready["log_type"] == "application"
    finally:
        if shipper is not None:
            shipper.close()
        local.stop()
    # The port is kept for the next start.
    kept = json.loads((local.folder / "ports.json").read_text())["rsyslog"]
    assert rsyslog["url"] == f"tcp://127.0.0.1:{kept}"
