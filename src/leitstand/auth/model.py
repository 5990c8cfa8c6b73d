"""Roles from the seed and the rules for names and tokens (pure: no I/O)."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from leitstand.policy.base import Role

__all__ = [
    "ALL_ROLES",
    "READ_ROLES",
    "SYSTEM_ACTOR",
    "SYSTEM_ACTOR_NAMES",
    "TOKEN_PREFIX",
    "Actor",
    "Role",
    "hash_token",
    "new_token",
    "reserved_user_name",
    "valid_user_name",
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

TOKEN_PREFIX = "lst_"  # noqa: S105 - a public prefix that makes tokens recognisable
_NAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,62}$")


def new_token() -> str:
    """Return a fresh API token (256 bits of randomness); shown once, stored only hashed."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """Hash a token for storage and lookup.

    Tokens carry 256 random bits, so a single SHA-256 is enough (no password stretching needed)
    and lets a request be authenticated with one indexed lookup.
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


#: Names the control plane acts under (``leitstand``, ``leitstand:incidents``, ``pipeline``,
#: ``scheduler:<instance>``, ``local:<os user>``, role ``system``): never a user's name.
SYSTEM_ACTOR_NAMES: frozenset[str] = frozenset(
    {"leitstand", "pipeline", "scheduler", "system", "local"}
)
_RESERVED_PREFIX = re.compile(r"^(leitstand|pipeline|scheduler|system|local)[._@:-]")


def reserved_user_name(name: str) -> bool:
    """Whether ``name`` is (or reads like) a system actor's name and so cannot be a user's."""
    lowered = name.strip().lower()
    return (
        lowered in SYSTEM_ACTOR_NAMES
        or ":" in lowered
        or _RESERVED_PREFIX.match(lowered) is not None
    )


def valid_user_name(name: str) -> bool:
    """Lower-case letters, digits and ``._@-``, at most 63 characters."""
    return bool(_NAME.match(name))
