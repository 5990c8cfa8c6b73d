"""Limits of leitstand's own HTTP API and web UI (not from the seed).

The request-limits middleware (``leitstand.web.limits``) reads these before a body is read:
a body larger than its route class allows is a 413, a JSON body nested deeper than
``json_depth`` a 422, and no body is read for a request whose credentials do not authenticate.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictInt

from leitstand.policy.base import PolicyModel

__all__ = ["ApiLimits", "ApiPolicy", "BodyLimits"]

_KIB = 1024
_MIB = 1024 * _KIB


class BodyLimits(PolicyModel):
    """The largest request body, in bytes, per route class."""

    # JSON API routes (/api/...).
    json_api: Annotated[StrictInt, Field(ge=1024)] = 1 * _MIB
    # Alertmanager's webhook: up to 1000 alerts per notification with labels and annotations.
    alert_intake: Annotated[StrictInt, Field(ge=1024)] = 10 * _MIB
    # Web UI form posts (everything outside /api).
    form: Annotated[StrictInt, Field(ge=1024)] = 256 * _KIB


class ApiLimits(PolicyModel):
    """Bounds applied to every request before it reaches a route."""

    body_bytes: BodyLimits = Field(default_factory=BodyLimits)
    # The deepest nesting of objects and arrays a JSON body may have.
    json_depth: Annotated[StrictInt, Field(ge=2, le=512)] = 32


class ApiPolicy(PolicyModel):
    """leitstand's own HTTP API."""

    limits: ApiLimits = Field(default_factory=ApiLimits)
