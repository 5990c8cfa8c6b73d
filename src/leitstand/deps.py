"""Typed request-scoped access to the composition root for API routes and web views.

A route names the service it needs as a typed parameter::

    Incidents = Annotated[IncidentService, provide(IncidentService)]

    @router.get("/{incident_id}")
    def show(incident_id: PathId, incidents: Incidents, _: ...) -> IncidentOut: ...

``provide`` resolves the one service of that type from the running app's container, so a route
never reaches into the container itself. ``container_of`` stays for the few places that need
the whole container (readiness, metrics).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar, cast

from fastapi import Depends
from starlette.requests import Request

if TYPE_CHECKING:
    from leitstand.bootstrap import Container

__all__ = ["container_of", "provide"]

_T = TypeVar("_T")


def container_of(request: Request) -> Container:
    """The services of the running app."""
    return cast("Container", request.app.state.container)


def provide(kind: type[_T]) -> Any:
    """A FastAPI dependency that yields the running app's service of type ``kind``."""

    def _service(request: Request) -> _T:
        return container_of(request).get(kind)

    _service.__name__ = f"provide_{kind.__name__}"
    return Depends(_service)
