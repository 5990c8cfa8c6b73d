"""Real receivers for notification tests: an SMTP server (aiosmtpd) and an HTTP webhook sink.

Both run in the test process on 127.0.0.1 with a free port; nothing is faked: apprise talks SMTP
and HTTP to them exactly as it would to a mail relay or a chat webhook.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email import policy as email_policy
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Mail", "SmtpSink", "WebhookSink"]


@dataclass(frozen=True, slots=True)
class Mail:
    sender: str
    recipients: list[str]
    message: Message

    @property
    def subject(self) -> str:
        return str(self.message.get("Subject", ""))

    def text(self) -> str:
        parts = self.message.walk() if self.message.is_multipart() else [self.message]
        for part in parts:
            if part.get_content_type() == "text/plain":
                payload = part.get_payload(decode=True)
                if isinstance(payload, bytes):
                    return payload.decode(part.get_content_charset() or "utf-8")
        return ""


class SmtpSink:
    """An aiosmtpd SMTP server collecting every message it accepts."""

    def __init__(self, port: int) -> None:
        from aiosmtpd.controller import Controller

        self.port = port
        self.mails: list[Mail] = []
        self._lock = threading.Lock()
        sink = self

        class _Handler:
            async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
                with sink._lock:
                    sink.mails.append(
                        Mail(
                            sender=str(envelope.mail_from),
                            recipients=[str(r) for r in envelope.rcpt_tos],
                            message=message_from_bytes(
                                envelope.content, policy=email_policy.default
                            ),
                        )
                    )
                return "250 OK"

        self._controller = Controller(_Handler(), hostname="127.0.0.1", port=port)

    def __enter__(self) -> SmtpSink:
        self._controller.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._controller.stop()

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Mail]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.mails) >= count:
                    return list(self.mails)
            time.sleep(0.05)
        with self._lock:
            return list(self.mails)


@dataclass
class _State:
    bodies: list[dict[str, Any]] = field(default_factory=list)
    fail_next: int = 0
    status: int = 200


class WebhookSink:
    """An HTTP server recording JSON POST bodies; ``fail_next`` answers 500 that many times."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.state = _State()
        self._lock = threading.Lock()
        sink = self

        class _Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                raw = self.rfile.read(length)
                with sink._lock:
                    failing = sink.state.fail_next > 0
                    if failing:
                        sink.state.fail_next -= 1
                    else:
                        try:
                            body = json.loads(raw or b"{}")
                        except ValueError:
                            body = {"raw": raw.decode(errors="replace")}
                        sink.state.bodies.append({"path": self.path, "body": body})
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookSink:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail(self, times: int) -> None:
        with self._lock:
            self.state.fail_next = times

    @property
    def bodies(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.state.bodies)
