"""Helpers shared by the CLI sub-apps: building the container, times, JSON output.

Importing this module stays cheap (``leitstand --version`` and ``leitstand policy show`` load
it): the container, the policy and the auth model are imported by the functions that need them,
and the Rich consoles are created on first use.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import typer.core

from leitstand.errors import ExitCode, ForbiddenError, Issue, ValidationError

if TYPE_CHECKING:
    from rich.console import Console

    from leitstand.auth.model import Actor, Role
    from leitstand.bootstrap import Container
    from leitstand.policy.model import Policy

    #: stdout and stderr consoles of the CLI, created on first use (see ``__getattr__``).
    console: Console
    err_console: Console

__all__ = [
    "TOKEN_ENV",
    "ExitCode",
    "JsonOpt",
    "TokenOpt",
    "configure_cli_logging",
    "console",
    "emit_json",
    "err_console",
    "local_admin_actor",
    "local_policy",
    "open_container",
    "parse_when",
    "resolve_actor",
]

#: The environment variable a token is taken from when ``--token`` is not given.
TOKEN_ENV = "LEITSTAND_TOKEN"  # noqa: S105 - the variable's name, not a secret

#: ``--token``: the option every state-changing command takes (``actor_option``).
#: ``--json`` of every command that prints a result.
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]
TokenOpt = Annotated[
    str | None,
    typer.Option(
        "--token",
        help=f"Act as this API token's user (default: ${TOKEN_ENV})",
        show_default=False,
    ),
]


_RELATIVE = re.compile(r"^(\d+)\s*(m|min|h|d|w)$")
_UNITS = {"m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def __getattr__(name: str) -> Console:
    # ``console``/``err_console``: Rich costs a tenth of a second to import, which commands
    # that print plain text (``--version``, ``policy show``) should not pay.
    if name not in ("console", "err_console"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from rich.console import Console

    made = Console(stderr=name == "err_console", highlight=False, soft_wrap=True)
    globals()[name] = made
    return made


def _hide_flag_types() -> None:
    """Show no ``<bool>`` type next to a flag in Rich help (``--force  <bool>``).

    Typer's Rich help prints every option's type, flags included, although a flag takes no
    value; its plain help already leaves it out. Typer offers no setting for this.
    """
    shown = getattr(typer.core.TyperOption, "display_type_rich", None)
    if shown is None or getattr(shown, "_leitstand", False):
        return  # a Typer without Rich type labels, or already done

    def display_type_rich(self: typer.core.TyperOption, ctx: Any) -> str | None:
        if self.is_flag or self.count:
            return None
        label: str | None = shown(self, ctx)
        return label

    display_type_rich._leitstand = True  # type: ignore[attr-defined]
    typer.core.TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_hide_flag_types()


def configure_cli_logging() -> None:
    """Logs go to stderr as JSON (warnings and up, or ``$LEITSTAND_CLI_LOG_LEVEL``), so stdout
    stays clean for ``--json`` output; `leitstand up` reconfigures with the configured level."""
    from leitstand.observability import configure_logging

    configure_logging(os.environ.get("LEITSTAND_CLI_LOG_LEVEL", "warning"))


_OPENED: list[Container] = []


def open_container(*, migrate: bool | None = None) -> Container:
    """Build the services from the environment (``LEITSTAND_*``) and the policy file.

    The command need not close it: :func:`close_containers` does when the command ends.
    """
    from leitstand.bootstrap import build
    from leitstand.settings import Settings

    container = build(Settings(), migrate=migrate)
    _OPENED.append(container)
    return container


def close_containers() -> None:
    """Close every container the command opened: database connections, witness connections.

    ``leitstand.cli.main`` calls it when a command ends, however it ends; closing twice is
    harmless. A failure to close is logged and does not change the command's exit code.
    """
    while _OPENED:
        container = _OPENED.pop()
        try:
            container.close()
        except Exception as exc:
            import structlog

            structlog.get_logger("leitstand.cli").warning(
                "container_close_failed", error=f"{type(exc).__name__}: {exc}"
            )


def local_policy() -> Policy:
    """The policy a command reads without opening the store: ``LEITSTAND_POLICY``, else
    ``./leitstand.yaml``, else the seed's defaults (``leitstand.policy.loader``)."""
    from leitstand.policy.loader import find_policy_file, load_policy
    from leitstand.settings import Settings

    return load_policy(Settings().policy or find_policy_file(Path.cwd()))


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
        from leitstand.clock import BERLIN

        parsed = parsed.replace(tzinfo=BERLIN)
    return parsed.astimezone(UTC)


def local_admin_actor() -> Actor:
    """The local operator acting without a token: ``local:<os user>``, role ``local-admin``."""
    from leitstand.auth.model import Actor
    from leitstand.policy.auth import LOCAL_ADMIN_ROLE

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
    from leitstand.policy.auth import CLI_ACTIONS

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
