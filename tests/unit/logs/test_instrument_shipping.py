"""A service ships its log lines as docs/logs.md shows: structlog chain + ``Shipper.offer``."""

from __future__ import annotations

import io
import re
import socket
import threading
from collections.abc import Iterator, MutableMapping
from contextlib import closing
from typing import Any

import pytest
import structlog

from leitstand.instrument import Shipper
from leitstand.testing import free_port, wait_for


@pytest.fixture
def server() -> Iterator[tuple[int, bytearray]]:
    """A plain TCP server on 127.0.0.1 that keeps what it receives."""
    port = free_port()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen()
    received = bytearray()

    def accept() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with closing(conn):
            while chunk := conn.recv(65536):
                received.extend(chunk)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield port, received
    finally:
        listener.close()
        thread.join(5)


def test_a_service_chain_ships_its_lines_in_rfc5424_framing_with_the_type_as_msgid(
    server: tuple[int, bytearray],
) -> None:
    port, received = server
    shipper = Shipper("127.0.0.1", port, retry_after=0.1, app="enterprise-api")
    render = structlog.processors.JSONRenderer()

    def ship(logger: Any, method: str, event: MutableMapping[str, Any]) -> str:
        line = render(logger, method, event)
        assert isinstance(line, str)
        shipper.offer(line, event)
        return line

    out = io.StringIO()
    log = structlog.wrap_logger(
        structlog.PrintLogger(out),
        wrapper_class=structlog.BoundLogger,
        processors=[structlog.processors.add_log_level, ship],
    )
    try:
        log.warning("login_failed", service="enterprise-api")
        log.info("order_booked", log_type="performance", service="enterprise-api")
    finally:
        shipper.close()

    def messages() -> list[bytes] | None:
        data, found = bytes(received), []
        while (m := re.match(rb"(\d+) ", data)) and len(data) >= m.end() + int(m.group(1)):
            found.append(data[m.end() : m.end() + int(m.group(1))])
            data = data[m.end() + int(m.group(1)) :]
        return found if len(found) == 2 and not data else None

    first, second = wait_for("both framed messages", messages, timeout=30)
    head = rb"1 \S+Z \S+ enterprise-api \d+"  # the service's own APP-NAME
    assert re.fullmatch(rb"<132>" + head + rb" security - (\{.*\})", first), first
    assert re.fullmatch(rb"<134>" + head + rb" performance - (\{.*\})", second), second
    # The shipped text is the rendered line itself.
    assert first.endswith(out.getvalue().splitlines()[0].encode())
    assert shipper.sent == 2
    assert shipper.dropped == 0
