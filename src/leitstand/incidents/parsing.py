"""Input validation: Pydantic's errors as leitstand's ``ValidationError`` (exit 2 / HTTP 422)."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from leitstand.errors import Issue, ValidationError

__all__ = ["issues_of", "parse_model"]


def issues_of(exc: PydanticValidationError, prefix: str = "") -> list[Issue]:
    """Turn Pydantic's errors into issues with dotted field paths."""
    issues: list[Issue] = []
    for err in exc.errors():
        path = ".".join(str(p) for p in (prefix, *err.get("loc", ())) if p != "")
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        got = err.get("input")
        if err.get("type") == "extra_forbidden":
            message = "unknown key"
        elif got is not None and not isinstance(got, dict | list):
            message += f" (got {got!r})"
        if ": " in message and not path and err.get("type") == "value_error":
            path, message = message.split(": ", 1)
        issues.append(Issue(path, message))
    return issues


M = TypeVar("M", bound=BaseModel)


def parse_model(model: type[M], data: object, prefix: str = "") -> M:
    """Validate ``data`` or raise leitstand's ValidationError (exit 2 / HTTP 422)."""
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        raise ValidationError(issues_of(exc, prefix)) from None
