"""The demo app of the release tests, and a load loop that records every request.

``python tests/support/demo_app.py --port P --version V`` is a threaded HTTP server that
answers with its version (``X-Version``) and exports ``leitstand.instrument`` metrics. A
version's behaviour is read from a JSON file (re-read when it changes): ``error_rate`` (0..1,
every n-th request answers 500), ``health`` ("ok" or "fail"), ``health_fail_after`` (seconds after
start), ``latency_ms``.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from leitstand.instrument.metrics import AppMetrics

__all__ = ["LoadLoop", "main"]


# -- the demo app --------------------------------------------------------------------------


class _Behaviour:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.started = time.monotonic()
        self.data: dict[str, Any] = {}
        self._mtime = 0.0
        self._checked = 0.0
        self._lock = threading.Lock()
        self.count = 0

    def get(self) -> dict[str, Any]:
        now = time.monotonic()
        if self.path is not None and now - self._checked > 0.1:
            self._checked = now
            with contextlib.suppress(OSError, ValueError):
                mtime = self.path.stat().st_mtime
                if mtime != self._mtime:
                    self.data = json.loads(self.path.read_text())
                    self._mtime = mtime
        return self.data

    def next_fails(self) -> bool:
        rate = float(self.get().get("error_rate", 0))
        with self._lock:
            self.count += 1
            n = self.count
        return int(n * rate) > int((n - 1) * rate)

    def healthy(self) -> bool:
        data = self.get()
        if data.get("health", "ok") != "ok":
            return False
        after = data.get("health_fail_after")
        return after is None or time.monotonic() - self.started < float(after)


def _serve(port: int, version: str, slot: str, service: str, behaviour: Path | None) -> None:
    metrics = AppMetrics(service)
    state = _Behaviour(behaviour)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            started = time.perf_counter()
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._answer(200, metrics.exposition(), "text/plain; version=0.0.4")
                return
            if path == "/health":
                status = 200 if state.healthy() else 503
                route = "/health"
            else:
                latency = float(state.get().get("latency_ms", 0))
                if latency:
                    time.sleep(latency / 1000)
                status = 500 if state.next_fails() else 200
                route = "/"
            self._answer(status, f"{version}\n".encode(), "text/plain")
            metrics.observe_request(
                method="GET", route=route, status=status, seconds=time.perf_counter() - started
            )

        def _answer(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Version", version)
            self.send_header("X-Slot", slot)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    server.serve_forever(poll_interval=0.2)
    server.server_close()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="leitstand's demo app for release tests")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--version", required=True)
    parser.add_argument("--slot", default="")
    parser.add_argument("--service", default="demo")
    parser.add_argument("--behaviour", type=Path, default=None)
    args = parser.parse_args(argv)
    _serve(args.port, args.version, args.slot, args.service, args.behaviour)


# -- load -----------------------------------------------------------------------------------


@dataclass
class LoadLoop:
    """Keep-alive HTTP clients in threads; every request's time, status and version is kept.

    Like browsers, curl and Go's net/http, a request sent on a *reused* keep-alive connection
    that the server closed before answering anything is sent again once on a fresh connection
    (RFC 9112, section 9.3.1: the server never saw it). ``resent`` counts those; a request that
    fails on a fresh connection, or after any answer, is a failed request.
    """

    url: str
    threads: int = 4
    limit: int | None = None  # stop after this many requests in total
    resend_on_closed_idle: bool = True
    results: list[tuple[float, float, int, str]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)

    def __post_init__(self) -> None:
        parsed = httpx.URL(self.url)
        self._host, self._port = parsed.host, parsed.port or 80
        self._lock = threading.Lock()
        self._issued = 0
        self.resent = 0

    def _take(self) -> bool:
        with self._lock:
            if self.limit is not None and self._issued >= self.limit:
                return False
            self._issued += 1
            return True

    def _once(
        self, conn: http.client.HTTPConnection | None
    ) -> tuple[http.client.HTTPConnection | None, int, str, bool]:
        """One request; returns the connection to keep, status, version, and whether the
        connection was reused and closed by the server before any answer."""
        reused = conn is not None
        try:
            if conn is None:
                conn = http.client.HTTPConnection(self._host, self._port, timeout=10)
            conn.request("GET", "/")
            answer = conn.getresponse()
            answer.read()
            status, version = answer.status, answer.getheader("x-version") or ""
            if answer.getheader("connection", "").lower() == "close":
                conn.close()
                conn = None
            return conn, status, version, False
        except (OSError, http.client.HTTPException) as exc:
            if conn is not None:
                conn.close()
            closed_idle = reused and isinstance(
                exc, http.client.RemoteDisconnected | ConnectionResetError | BrokenPipeError
            )
            return None, 0, f"error: {type(exc).__name__}: {exc}", closed_idle

    def _run(self) -> None:
        conn: http.client.HTTPConnection | None = None
        while not self._stop.is_set() and self._take():
            started = time.monotonic()
            conn, status, version, closed_idle = self._once(conn)
            if closed_idle and self.resend_on_closed_idle:
                with self._lock:
                    self.resent += 1
                conn, status, version, _ = self._once(None)
            self.results.append((started, time.monotonic(), status, version))
        if conn is not None:
            conn.close()

    def start(self) -> LoadLoop:
        for n in range(self.threads):
            worker = threading.Thread(target=self._run, name=f"load-{n}", daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def stop(self) -> LoadLoop:
        self._stop.set()
        return self.join()

    def join(self, timeout: float = 120.0) -> LoadLoop:
        for worker in self._workers:
            worker.join(timeout)
        return self

    @property
    def failed(self) -> list[tuple[float, float, int, str]]:
        return [r for r in self.results if r[2] != 200]

    def versions(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for _s, _e, status, version in self.results:
            if status == 200:
                counts[version] = counts.get(version, 0) + 1
        return counts

    def wait_for(self, count: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.results) < count and time.monotonic() < deadline:
            time.sleep(0.02)


if __name__ == "__main__":
    main()
