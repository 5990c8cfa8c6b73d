"""leitstand's own JSON log lines to rsyslog: RFC 5424 over TCP, never blocking a request.

:class:`Shipper` is fed by the log renderer (``leitstand.observability.configure_logging``): each
line, exactly as it is written to stderr (redacted and pseudonymised), is put on a bounded queue;
a daemon thread sends it as one RFC 5424 message with octet-counting framing (RFC 6587, which
rsyslog's imtcp accepts). The log type travels in the MSGID field, which the rendered rsyslog
configuration routes on (:func:`log_type_of`). A full queue drops the line and counts it
(``dropped``); a missing or stopped rsyslog is retried after a short back-off, the lines in
between are dropped and counted too: logging never waits for rsyslog.
"""

from __future__ import annotations

import contextlib
import os
import queue
import select
import socket
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

__all__ = ["Shipper", "frame", "log_type_of", "parse_target"]

_APP = "leitstand"
_FACILITY = 16  # local0
_SEVERITY = {
    "critical": 2,
    "exception": 3,
    "error": 3,
    "warning": 4,
    "warn": 4,
    "info": 6,
    "debug": 7,
}
_AUDIT = ("audit", "ledger", "control_plane", "log.segment", "checkpoint", "witness")
_SECURITY = ("auth", "login", "logout", "token", "session", "web_session", "security", "mfa")


def log_type_of(event: Mapping[str, Any]) -> str:
    """The log type of one event: its own ``log_type`` if it names one; else access for the
    request lines, audit for ledger and audit events, security for sign-ins and tokens, and
    application for everything else."""
    given = event.get("log_type")
    if isinstance(given, str) and given:
        return given
    name = str(event.get("event", "")).lower()
    logger = str(event.get("logger", "")).lower()
    if name == "http_request":
        return "access"
    if name.startswith(_AUDIT) or ".audit" in logger or ".ledger" in logger:
        return "audit"
    if name.startswith(_SECURITY) or ".auth" in logger:
        return "security"
    return "application"


def frame(line: str, *, log_type: str, level: str, host: str, pid: int, app: str = _APP) -> bytes:
    """One RFC 5424 message, octet-counted (RFC 6587 3.4.1): ``LEN SP <PRI>1 TIME HOST APP
    PROCID MSGID - MSG``; ``app`` is the sender's name (``leitstand`` or a service's)."""
    pri = _FACILITY * 8 + _SEVERITY.get(level.lower(), 6)
    stamp = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    msgid = "".join(c for c in log_type if 33 <= ord(c) <= 126)[:32] or "-"
    name = "".join(c for c in app if 33 <= ord(c) <= 126)[:48] or "-"
    body = f"<{pri}>1 {stamp} {host} {name} {pid} {msgid} - {line.rstrip()}".encode()
    return f"{len(body)} ".encode() + body


def parse_target(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6) -> (host, port)."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"a HOST:PORT such as 127.0.0.1:10514 (got {text!r})")
    return host.strip("[]"), int(port)


class Shipper:
    """Send rendered log lines to rsyslog at ``host:port`` from a background thread."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        capacity: int = 10_000,
        connect_timeout: float = 1.0,
        send_timeout: float = 2.0,
        retry_after: float = 0.5,
        app: str = _APP,
    ) -> None:
        self.host = host
        self.app = app
        self.port = port
        self.connect_timeout = connect_timeout
        self.send_timeout = send_timeout
        self.retry_after = retry_after
        self.sent = 0
        self.dropped = 0
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=capacity)
        self._hostname = socket.gethostname().split(".")[0] or "-"
        self._pid = os.getpid()
        self._sock: socket.socket | None = None
        self._next_try = 0.0
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="leitstand-log-shipper", daemon=True)
        self._thread.start()

    def offer(self, line: str, event: Mapping[str, Any]) -> None:
        """Queue one rendered line (never blocks; a full queue drops it and counts it)."""
        if self._closed:
            return
        try:
            message = frame(
                line,
                log_type=log_type_of(event),
                level=str(event.get("level", "info")),
                host=self._hostname,
                pid=self._pid,
                app=self.app,
            )
            self._queue.put_nowait(message)
        except queue.Full:
            self.dropped += 1

    def _connect(self) -> socket.socket | None:
        now = time.monotonic()
        if now < self._next_try:
            return None
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        except OSError:
            self._next_try = now + self.retry_after
            return None
        sock.settimeout(self.send_timeout)
        return sock

    @staticmethod
    def _peer_closed(sock: socket.socket) -> bool:
        """Whether rsyslog closed the connection (it never sends: readable means closed)."""
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _disconnect(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
        self._sock = None
        self._next_try = time.monotonic() + self.retry_after

    def _run(self) -> None:
        while True:
            message = self._queue.get()
            if message is None:
                break
            if self._sock is not None and self._peer_closed(self._sock):
                self._disconnect()
                self._next_try = 0.0
            if self._sock is None:
                self._sock = self._connect()
            if self._sock is None:
                self.dropped += 1
                continue
            try:
                self._sock.sendall(message)
                self.sent += 1
            except OSError:
                self.dropped += 1
                self._disconnect()
        self._disconnect()

    def close(self, timeout: float = 5.0) -> None:
        """Send what is queued (within ``timeout``), then close the connection."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=timeout)
        self._thread.join(timeout)
