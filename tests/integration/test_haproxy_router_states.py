"""HAProxyRouter's two questions on a real HAProxy: has its check verified a slot (``ready``), and
has it taken the slot out of service (``serving``).

A single failed check leaves a server "UP, going down" with traffic still flowing; only ``fall``
failures in a row take it out. A canary must not be rolled back for the first.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from leitstand.releases.model import Routing
from leitstand.releases.routers.haproxy import HaproxyRouter
from leitstand.testing import free_port, wait_for
from support.releases_lab import HaproxyProcess, short_dir


class _Health:
    """A /health endpoint that fails the checks numbered in ``fail`` (or all when ``down``)."""

    def __init__(self) -> None:
        self.checks = 0
        self.fail: set[int] = set()
        self.down = False
        self.lock = threading.Lock()

    def answer(self) -> int:
        with self.lock:
            self.checks += 1
            return 503 if self.down or self.checks in self.fail else 200


@pytest.fixture
def backend() -> Iterator[tuple[HaproxyRouter, _Health]]:
    health = _Health()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(health.answer())
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    haproxy = HaproxyProcess(Path(short_dir()), {"green": port}, check_inter_ms=200).start()
    router = HaproxyRouter(socket_path=haproxy.socket, backend="be", servers={"green": "green"})
    try:
        yield router, health
    finally:
        haproxy.stop()
        server.shutdown()
        server.server_close()


def test_one_failed_check_keeps_a_server_serving_fall_failures_take_it_out(
    backend: tuple[HaproxyRouter, _Health],
) -> None:
    router, health = backend
    assert not router.ready("green") and not router.serving("green")  # in maintenance
    router.apply(Routing({"green": 100}))
    wait_for("HAProxy's check to pass", lambda: router.ready("green"), 30)

    with health.lock:
        health.fail = {health.checks + 1}  # the next check fails, the ones after pass
    samples: list[tuple[bool, bool]] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        samples.append((router.ready("green"), router.serving("green")))
        if samples[-1] == (True, True) and health.checks > max(health.fail) + 1:
            break
        time.sleep(0.01)
    assert samples[-1] == (True, True), samples[-5:]
    assert all(serving for _ready, serving in samples), "one failed check took it out"
    assert (False, True) in samples  # the failed check was seen: not verified, still serving

    health.down = True  # from now on every check fails: after `fall 3` HAProxy takes it out
    wait_for("HAProxy to take the server out", lambda: not router.serving("green"), 30)
    assert not router.ready("green")
    health.down = False
    wait_for("HAProxy to take the server back", lambda: router.ready("green"), 30)
    assert router.serving("green")
