"""Helpers shared by the CLI sub-apps: building the container, times, JSON output."""

from __future__ import annotations

import getpass
import json
import os
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.console import Console

from leitstand.auth.model import Actor, Role
from leitstand.bootstrap import Container, build
from leitstand.clock import BERLIN
from leitstand.errors import ExitCode, ForbiddenError, Issue, ValidationError
from leitstand.policy.auth import CLI_ACTIONS, LOCAL_ADMIN_ROLE
from leitstand.settings import Settings

__all__ = [
    "TOKEN_ENV",
    "ExitCode",
    "TokenOpt",
    "console",
    "emit_json",
    "err_console",
    "local_admin_actor",
    "open_container",
    "parse_when",
    "resolve_actor",
]

#: The environment variable a token is taken from when ``--token`` is not given.
TOKEN_ENV = "LEITSTAND_TOKEN"  # noqa: S105 - the variable's name, not a secret

#: ``--token``: the option every state-changing command takes (``actor_option``).
TokenOpt = Annotated[
    str | None,
    typer.Option(
        "--token",
        help=f"Act as this API token's user (default: ${TOKEN_ENV})",
        show_default=False,
    ),
]


console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)
_RELATIVE = re.compile(r"^(\d+)\s*(m|min|h|d|w)$")
_UNITS = {"m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def open_container(*, migrate: bool | None = None) -> Container:
    """Build the services from the environment (``LEITSTAND_*``) and the policy file."""
    return build(Settings(), migrate=migrate)


def emit_json(data: Any) -> None:
    """Print machine-readable JSON to stdout (stable key order, no colour)."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=str))
    sys.stdout.write("\n")


def parse_when(value: str | None, *, field: str, now: datetime) -> datetime | None:
    """Parse ``2026-11-01``, ``2026-11-01T10:00``, an RFC 3339 time, or ``7d``/``24h`` ago.

    Dates and times without an offset are Europe/Berlin local time, as people write them.
    """
    if value is None:
        return None
    text = value.strip()
    match = _RELATIVE.match(text)
    if match:
        return now - timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(
            [
                Issue(
                    field,
                    "expected a date (2026-11-01), a time (2026-11-01T10:00, RFC 3339) "
                    f"or an age like 7d or 24h (got {value!r})",
                )
            ]
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=BERLIN)
    return parsed.astimezone(UTC)


def local_admin_actor() -> Actor:
    """The local operator acting without a token: ``local:<os user>``, role ``local-admin``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Actor(name=f"local:{user}", role=LOCAL_ADMIN_ROLE)


def resolve_actor(
    container: Container, token: str | None, *, action: str, roles: Iterable[Role]
) -> Actor:
    """Who does ``action``: the user of ``token`` (or ``$LEITSTAND_TOKEN``), if their role is one
    of ``roles`` (the same roles the API admits for it).

    Without a token, only the actions the policy lists in ``auth.local_admin_actions`` may be done,
    by the local operator labelled ``local-admin``; everything else is refused
    (:class:`ForbiddenError`, exit code 5), as is a token whose role is not admitted.
    """
    if action not in CLI_ACTIONS:
        raise ValueError(f"unknown CLI action {action!r}: add it to policy.auth.CLI_ACTIONS")
    admitted = frozenset(roles)
    names = ", ".join(sorted(r.value for r in admitted))
    token = token or os.environ.get(TOKEN_ENV) or None
    if token is None:
        if action in container.policy.auth.local_admin_actions:
            return local_admin_actor()
        raise ForbiddenError(
            f"{action} needs a named user: pass --token or set {TOKEN_ENV} "
            f"(admitted roles: {names}; without a token only the policy's "
            "auth.local_admin_actions)"
        )
    actor = container.auth.authenticate(token)
    if actor.role not in admitted:
        raise ForbiddenError(
            f"role {actor.role!r} of user {actor.name!r} may not do {action} (admitted: {names})"
        )
    return actor
