"""Deliver one message to one channel through apprise (SMTP, Slack, Mattermost, Teams, webhooks).

Secrets stay in the environment: a channel names the variable holding its webhook URL or SMTP
password, the URL is built just before sending, and error texts are scrubbed of it.
"""

from __future__ import annotations

import html
import logging
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote, urlencode, urlsplit

import apprise

from leitstand.policy.notifications import ChannelKind, ChannelSettings

__all__ = [
    "AppriseDelivery",
    "Delivery",
    "DeliveryError",
    "Message",
    "NotConfigured",
    "apprise_url",
    "html_body",
]

with warnings.catch_warnings():
    # apprise's PGP helper (and Python 3.11's email.mime.image) import the deprecated imghdr
    # module lazily, in a delivery thread. Import it once, quietly, here.
    warnings.simplefilter("ignore", DeprecationWarning)
    import email.mime.image  # noqa: F401
    import importlib

    if importlib.util.find_spec("imghdr") is not None:
        importlib.import_module("imghdr")

_SECURITY_MODE = {"none": "insecure", "starttls": "starttls", "tls": "ssl"}


class DeliveryError(Exception):
    """A delivery failed (and may succeed when retried)."""


class NotConfigured(Exception):
    """The channel has no target (no SMTP host, no URL in the environment, no recipient)."""


@dataclass(frozen=True, slots=True)
class Message:
    subject: str
    body: str
    emails: Sequence[str]


class Delivery(Protocol):
    """Sends one message over one channel; raises DeliveryError or NotConfigured."""

    def send(self, channel: ChannelSettings, message: Message, *, timeout_s: float) -> None: ...


_URL = re.compile(r"https?://[^\s<>\"]+")


def _linked(line: str) -> str:
    """One line of text as HTML: escaped, every http(s) URL a link."""
    out: list[str] = []
    last = 0
    for match in _URL.finditer(line):
        url = match.group(0).rstrip(".,;:)")
        out.append(html.escape(line[last : match.start()]))
        out.append(f'<a href="{html.escape(url)}">{html.escape(url)}</a>')
        last = match.start() + len(url)
    out.append(html.escape(line[last:]))
    return "".join(out)


def html_body(text: str) -> str:
    """The HTML part of an e-mail: a paragraph per block of lines (blank lines between them),
    line breaks within a block, links where the text has URLs."""
    blocks = [b for b in re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip()) if b.strip()]
    return "\n".join(
        "<p>" + "<br/>".join(_linked(line) for line in block.split("\n")) + "</p>"
        for block in blocks
    )


def _env(name: str | None, environ: Mapping[str, str]) -> str | None:
    if name is None:
        return None
    value = environ.get(name, "").strip()
    return value or None


def apprise_url(
    channel: ChannelSettings, message: Message, environ: Mapping[str, str]
) -> tuple[str, list[str]]:
    """The apprise URL for a channel and the secrets it contains (to scrub from errors)."""
    if channel.kind is ChannelKind.EMAIL:
        if not channel.smtp_host:
            raise NotConfigured("no smtp_host configured for this e-mail channel")
        if not message.emails:
            raise NotConfigured("no recipient with an e-mail address")
        scheme = "mailto" if channel.security == "none" else "mailtos"
        password = _env(channel.password_env, environ)
        if channel.password_env and password is None:
            raise NotConfigured(f"environment variable {channel.password_env} is not set")
        auth = ""
        if channel.username:
            auth = quote(channel.username, safe="")
            if password:
                auth += ":" + quote(password, safe="")
            auth += "@"
        params = {
            "from": channel.sender,
            "to": ",".join(message.emails),
            "mode": _SECURITY_MODE[channel.security],
        }
        url = f"{scheme}://{auth}{channel.smtp_host}:{channel.smtp_port}?{urlencode(params)}"
        return url, [p for p in (password, quote(password or "", safe="")) if p]
    target = _env(channel.url_env, environ)
    if target is None:
        raise NotConfigured(f"environment variable {channel.url_env} is not set")
    parts = urlsplit(target)
    plain = parts.scheme == "http"
    if channel.kind is ChannelKind.WEBHOOK and parts.scheme in ("http", "https"):
        target = f"{'json' if plain else 'jsons'}://{target.split('://', 1)[1]}"
    elif channel.kind is ChannelKind.MATTERMOST and parts.scheme in ("http", "https"):
        # Mattermost's incoming webhook URL .../hooks/<token> in apprise's own form.
        prefix, _, token = parts.path.rpartition("/hooks/")
        if not token:
            raise NotConfigured(f"{channel.url_env} is not a Mattermost webhook URL (…/hooks/…)")
        target = f"{'mmost' if plain else 'mmosts'}://{parts.netloc}{prefix}/{token}"
    return target, [target, *parts.path.split("/")[-1:]]


class AppriseDelivery:
    """The real delivery: one apprise notify call per message and channel."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = environ

    def send(self, channel: ChannelSettings, message: Message, *, timeout_s: float) -> None:
        environ = self._environ if self._environ is not None else os.environ
        url, secrets = apprise_url(channel, message, environ)
        asset = apprise.AppriseAsset(async_mode=False)
        client = apprise.Apprise(asset=asset)
        with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:  # type: ignore[no-untyped-call]
            server = apprise.Apprise.instantiate(url, asset=asset)
            if server is None:
                raise DeliveryError(_scrub(captured.getvalue(), secrets) or "unsupported URL")
            # Bound every network call: a hanging endpoint must not hold the timer loop.
            server.socket_connect_timeout = timeout_s
            server.socket_read_timeout = timeout_s
            client.add(server)
            if channel.kind is ChannelKind.EMAIL:
                # HTML with paragraphs and links; apprise derives the text/plain part from it.
                ok = client.notify(
                    title=message.subject,
                    body=html_body(message.body),
                    body_format=apprise.NotifyFormat.HTML,
                )
            else:
                ok = client.notify(
                    title=message.subject,
                    body=message.body,
                    body_format=apprise.NotifyFormat.TEXT,
                )
            log = captured.getvalue()
        if not ok:
            detail = _scrub(log.strip().splitlines()[-1] if log.strip() else "", secrets)
            raise DeliveryError(detail or f"{channel.kind.value} delivery failed")


def _scrub(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text[:1000]
