"""The error hierarchy: one root, a few named kinds, each mapped to an exit code and HTTP status.

Messages say what was expected and where, e.g.
``monitoring.metrics.cpu.critical: must be greater than warning (70) (got 60)``.
Entry points (CLI, API) translate these into exit code 2 / HTTP 4xx; no traceback reaches a user.
The CLI's exit codes are :class:`ExitCode` (documented in docs/operations.md and docs/security.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

__all__ = [
    "AuthenticationError",
    "ConfigError",
    "ConflictError",
    "ExitCode",
    "ForbiddenError",
    "Issue",
    "LeitstandError",
    "NotFoundError",
    "StoreError",
    "ValidationError",
]


class ExitCode(IntEnum):
    """The CLI's exit codes, the same for every command (documented in docs/security.md)."""

    OK = 0
    FAILED = 1  # a verification or gate failed: the command worked, the answer is "no"
    BAD_INPUT = 2  # the input was wrong: what was expected and where is on stderr
    INCOMPLETE = 3  # a result could not be completed (a witness or engine could not be asked)
    INTERNAL = 4  # a bug in leitstand: one line on stderr, details with LEITSTAND_DEBUG=1
    FORBIDDEN = 5  # the acting user's role (or the tokenless local operator) may not do this


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem in an input: where (dotted field path, optional line/column) and what."""

    path: str
    message: str
    line: int | None = None
    column: int | None = None
    source: str | None = None

    def __str__(self) -> str:
        where = ""
        if self.source is not None:
            where = self.source
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            where += ": "
        elif self.line is not None:
            where = f"line {self.line}"
            if self.column is not None:
                where += f", column {self.column}"
            where += ": "
        field = f"{self.path}: " if self.path else ""
        return f"{where}{field}{self.message}"


class LeitstandError(Exception):
    """Root of every error leitstand reports to a user."""

    exit_code: int = ExitCode.BAD_INPUT
    http_status: int = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ValidationError(LeitstandError):
    """Bad input: one or more issues, all reported at once."""

    http_status = 422

    def __init__(self, issues: Sequence[Issue], *, summary: str | None = None) -> None:
        self.issues = list(issues)
        text = "\n".join(str(i) for i in self.issues)
        super().__init__(f"{summary}\n{text}" if summary else text)


class ConfigError(LeitstandError):
    """The installation is not usable as configured (settings, keys, database URL, ports)."""


class StoreError(LeitstandError):
    """The database cannot be reached or is not in the expected state."""

    http_status = 503


class NotFoundError(LeitstandError):
    """A named object does not exist."""

    http_status = 404


class ConflictError(LeitstandError):
    """The request conflicts with the current state (illegal transition, duplicate name)."""

    http_status = 409


class AuthenticationError(LeitstandError):
    """No valid credentials were presented."""

    http_status = 401


class ForbiddenError(LeitstandError):
    """The caller's role is not admitted for this action."""

    exit_code = ExitCode.FORBIDDEN
    http_status = 403
