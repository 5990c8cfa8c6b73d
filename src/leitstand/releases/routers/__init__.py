"""Traffic routers: one narrow Protocol, one implementation per engine.

A router knows the two slots of one service in one environment by their names and answers three
questions: what traffic goes where now (``current``), make it so (``apply``), does the router
itself consider a slot able to take traffic (``ready``, e.g. HAProxy's own health check passed),
and has it taken a slot out of service (``serving``, e.g. HAProxy's check reached ``fall``).
"""

from __future__ import annotations

from typing import Protocol

from leitstand.errors import ConflictError
from leitstand.releases.model import Routing

__all__ = ["RouterError", "TrafficRouter"]


class RouterError(ConflictError):
    """The router cannot be reached or refused a change; the message names it and why."""


class TrafficRouter(Protocol):
    """Moves traffic between the slots of one service in one environment."""

    def describe(self) -> str:
        """A short name for messages, e.g. ``haproxy /run/haproxy.sock backend be_api``."""
        ...

    def current(self) -> Routing:
        """The routing in effect now; RouterError when the router cannot be asked."""
        ...

    def apply(self, routing: Routing) -> None:
        """Make ``routing`` effective (idempotent); RouterError leaves the old one in place."""
        ...

    def ready(self, slot: str) -> bool:
        """True when the router itself has verified ``slot`` and would send it traffic."""
        ...

    def serving(self, slot: str) -> bool:
        """False once the router itself has taken ``slot`` out of service.

        Weaker than ``ready``: a slot whose check failed fewer times than the router's own
        limit still gets traffic and is still serving.
        """
        ...
