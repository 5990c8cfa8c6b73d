"""Who acts: actors and the seed's roles, as evidence records them (pure data, no I/O).

The bottom layer every domain can import: the ledger, the scheduler and the domains record an
``Actor``; the auth package decides who may act as which (``leitstand.auth.model`` re-exports
these names).
"""

from __future__ import annotations

from dataclasses import dataclass

from leitstand.policy.base import Role

__all__ = [
    "ALL_ROLES",
    "READ_ROLES",
    "SYSTEM_ACTOR",
    "SYSTEM_ACTOR_NAMES",
    "Actor",
    "Role",
]


@dataclass(frozen=True, slots=True)
class Actor:
    """Who performs an action, as recorded in evidence: a user and the role they acted in.

    Local CLI operators act as ``local:<os user>`` with role ``local`` (they have direct access to
    the store, which is itself the authority).
    """

    name: str
    role: str
    user_id: int | None = None


#: The control plane itself (start-up, first user, scheduled duties).
SYSTEM_ACTOR = Actor(name="leitstand", role="system")


ALL_ROLES: frozenset[Role] = frozenset(Role)
#: Roles allowed to read evidence and audit data.
READ_ROLES: frozenset[Role] = frozenset(
    {Role.DEVOPS, Role.COMPLIANCE_OFFICER, Role.SECURITY, Role.MANAGEMENT, Role.AUDITOR}
)

#: Names the control plane acts under (``leitstand``, ``leitstand:incidents``, ``pipeline``,
#: ``scheduler:<instance>``, ``local:<os user>``, role ``system``): never a user's name.
SYSTEM_ACTOR_NAMES: frozenset[str] = frozenset(
    {"leitstand", "pipeline", "scheduler", "system", "local"}
)
