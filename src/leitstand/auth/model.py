"""The rules for user names and tokens (pure: no I/O); re-exports the identity types.

``Actor``, ``Role`` and the role sets live in ``leitstand.identity`` (the bottom layer).
"""

from __future__ import annotations

import hashlib
import re
import secrets

from leitstand.identity import (
    ALL_ROLES,
    READ_ROLES,
    SYSTEM_ACTOR,
    SYSTEM_ACTOR_NAMES,
    Actor,
    Role,
)

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
