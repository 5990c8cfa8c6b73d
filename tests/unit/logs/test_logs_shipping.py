"""The shipper of leitstand's own log lines: log types, RFC 5424 framing, never blocking."""

from __future__ import annotations

import io
import json
import logging
import re
import socket
import time
from contextlib import closing
from pathlib import Path

import pytest
import structlog

from leitstand.errors import ValidationError
from leitstand.logs.model import log_types, rsyslog_config, stream_paths
from leitstand.logs.shipping import Shipper, frame, log_type_of, parse_target
from leitstand.observability import configure_logging
from leitstand.policy import default_policy
from leitstand.policy.loader import load_policy_text
from leitstand.testing import free_port, wait_for


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"event": "http_request", "route": "/api/x"}, "access"),
        ({"event": "audit.exported"}, "audit"),
        ({"event": "ledger_verified"}, "audit"),
        ({"event": "login_failed"}, "security"),
        ({"event": "refused", "logger": "leitstand.auth.tokens"}, "security"),
        ({"event": "checks_done"}, "application"),
        ({"event": "anything", "log_type": "performance"}, "performance"),
    ],
)
def test_each_event_gets_its_log_type(event: dict[str, str], expected: str) -> None:
    assert log_type_of(event) == expected


def test_a_frame_is_an_octet_counted_rfc5424_message_naming_the_type_in_its_msgid() -> None:
    data = frame('{"event":"x"}', log_type="audit", level="warning", host="web01", pid=42)
    length, _, body = data.partition(b" ")
    assert int(length) == len(body)
    assert re.fullmatch(rb'<132>1 \S+Z web01 leitstand 42 audit - \{"event":"x"\}', body), body


def test_targets_parse_and_the_policy_names_managed_off_or_host_port() -> None:
    assert parse_target("127.0.0.1:10514") == ("127.0.0.1", 10514)
    assert parse_target("[::1]:514") == ("::1", 514)
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_target("no-port")
    assert default_policy().logs.streams.shipping == "managed"
    policy = load_policy_text("logs:\n  streams:\n    shipping: 'logs.example:6514'\n")
    assert policy.logs.streams.shipping == "logs.example:6514"
    with pytest.raises(ValidationError, match="shipping"):
        load_policy_text("logs:\n  streams:\n    shipping: 'somewhere'\n")


def test_the_rendered_configuration_routes_on_the_msgid() -> None:
    policy = default_policy()
    text = rsyslog_config(log_types(policy.logs), stream_paths(policy.logs, Path("/srv/h")))
    assert 'if $msgid == "audit" then { set $.type = "audit"; }' in text
    # The line's own log_type comes later and wins.
    assert text.index('$msgid == "audit"') < text.index('$!log_type == "audit"')


def test_a_missing_rsyslog_neither_blocks_nor_breaks_logging() -> None:
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens once it is closed
    shipper = Shipper("127.0.0.1", port, capacity=10)
    out = io.StringIO()
    configure_logging("info", stream=out, ship=shipper.offer)
    try:
        started = time.monotonic()
        for n in range(500):
            structlog.get_logger("t").info("tick", n=n)
        assert time.monotonic() - started < 60  # blocking per line would take far longer
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
        shipper.close()
    assert len(out.getvalue().splitlines()) == 500
    assert shipper.dropped == 500
    assert shipper.sent == 0


def test_lines_are_sent_over_tcp_as_rendered() -> None:
    port = free_port()
    with closing(socket.create_server(("127.0.0.1", port))) as server:
        shipper = Shipper("127.0.0.1", port)
        shipper.offer(json.dumps({"event": "http_request"}), {"event": "http_request"})
        conn, _ = server.accept()
        with closing(conn):
            conn.settimeout(5)
            received = b""

            def whole() -> bool:
                nonlocal received
                received += conn.recv(4096)
                length, _, body = received.partition(b" ")
                return bool(body) and len(body) >= int(length)

            wait_for("one framed message", whole, timeout=10)
        shipper.close()
    assert b" leitstand " in received and b' access - {"event": "http_request"}' in received
    assert shipper.sent == 1


def test_up_ships_to_the_managed_rsyslog_a_configured_target_or_nowhere() -> None:
    from types import SimpleNamespace
    from typing import Any, cast

    from leitstand.server import start_shipping

    def container(shipping: str) -> Any:
        text = f"logs:\n  streams:\n    shipping: '{shipping}'\n"
        return SimpleNamespace(policy=load_policy_text(text))

    stack = cast("Any", SimpleNamespace(rsyslog_target=("127.0.0.1", 1)))
    assert start_shipping(container("off"), stack)[0] is None
    shipper, line = start_shipping(container("managed"), None)
    assert shipper is None and "stderr only" in line
    for target, stack_given in (("managed", stack), ("127.0.0.1:2", None)):
        shipper, line = start_shipping(container(target), stack_given)
        assert shipper is not None
        try:
            expected = "127.0.0.1:1" if target == "managed" else target
            assert f"rsyslog at {expected}" in line
        finally:
            shipper.close()
