"""Request-scoped access to the composition root for API and web views."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from starlette.requests import Request

if TYPE_CHECKING:
    from leitstand.bootstrap import Container

__all__ = ["container_of"]


def container_of(request: Request) -> Container:
    """The services of the running app."""
    return cast("Container", request.app.state.container)
