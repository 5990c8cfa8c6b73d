"""Helpers shared by the CLI sub-apps: building the container, times, JSON output."""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Any

from rich.console import Console

from leitstand.bootstrap import Container, build
from leitstand.clock import BERLIN
from leitstand.errors import Issue, ValidationError
from leitstand.settings import Settings

__all__ = [
    "ExitCode",
    "console",
    "emit_json",
    "err_console",
    "open_container",
    "parse_when",
]


class ExitCode(IntEnum):
    """The CLI's exit codes, the same for every command (documented in docs/security.md)."""

    OK = 0
    FAILED = 1  # a verification or gate failed: the command worked, the answer is "no"
    BAD_INPUT = 2  # the input was wrong: what was expected and where is on stderr
    INCOMPLETE = 3  # a result could not be completed (a witness or engine could not be asked)
    INTERNAL = 4  # a bug in leitstand: one line on stderr, details with LEITSTAND_DEBUG=1


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
