"""Users and API tokens: add, issue, revoke, authenticate. Every change is evidence."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from leitstand.auth.model import Actor, Role, hash_token, new_token, valid_user_name
from leitstand.auth.store import ApiTokenRow, UserRow
from leitstand.clock import Clock
from leitstand.db import Database
from leitstand.errors import (
    AuthenticationError,
    ConflictError,
    Issue,
    NotFoundError,
    ValidationError,
)
from leitstand.ledger.service import Ledger

__all__ = ["AuthService", "UserView"]

FIRST_USER = "admin"


@dataclass(frozen=True, slots=True)
class UserView:
    """A user as shown to operators (never with token material)."""

    id: int
    name: str
    role: Role
    created_at: datetime
    disabled: bool
    active_tokens: int


class AuthService:
    """Manage users and tokens; authenticate requests."""

    #: Cached tokens at most; beyond that the cache starts over (a flood of distinct tokens).
    CACHE_LIMIT = 10_000

    def __init__(
        self, *, db: Database, ledger: Ledger, clock: Clock, cache_seconds: float = 5.0
    ) -> None:
        """``cache_seconds``: how long a resolved token is trusted without asking the database.

        Revoking or disabling through this process takes effect at once; through another
        process (the CLI, a second instance) within ``cache_seconds``. 0 turns the cache off.
        """
        self.db = db
        self.ledger = ledger
        self.clock = clock
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[Actor, float]] = {}
        self._cache_lock = threading.Lock()

    def cached(self, token: str) -> Actor | None:
        """The actor of a token resolved within the last ``cache_seconds``, else None."""
        return self._cached(hash_token(token)) if token else None

    def _cached(self, token_hash: str) -> Actor | None:
        if self.cache_seconds <= 0:
            return None
        hit = self._cache.get(token_hash)
        if hit is None or hit[1] < time.monotonic():
            return None
        return hit[0]

    def _remember(self, token_hash: str, actor: Actor) -> None:
        if self.cache_seconds <= 0:
            return
        with self._cache_lock:
            if len(self._cache) >= self.CACHE_LIMIT:
                self._cache.clear()
            self._cache[token_hash] = (actor, time.monotonic() + self.cache_seconds)

    def _forget_all(self) -> None:
        with self._cache_lock:
            self._cache.clear()

    def add_user(self, *, name: str, role: Role | str, actor: Actor) -> tuple[UserView, str]:
        """Create a user with one API token; returns the token (shown once, stored hashed)."""
        role = _role(role)
        if not valid_user_name(name):
            raise ValidationError(
                [Issue("name", f"expected lower-case letters, digits and ._@- (got {name!r})")]
            )
        token = new_token()
        now = self.clock.now()
        try:
            with self.db.transaction() as session:
                user = UserRow(name=name, role=role.value, created_at=now)
                session.add(user)
                session.flush()
                token_id = self._add_token(session, user.id, token, "initial")
                self.ledger.record(
                    session,
                    actor,
                    "auth.user.added",
                    f"user:{name}",
                    payload={"name": name, "role": role.value, "token_id": token_id},
                )
                view = _view(user, 1)
        except IntegrityError as exc:
            raise ConflictError(f"user {name!r} already exists") from exc
        return view, token

    def issue_token(self, *, name: str, label: str, actor: Actor) -> str:
        """Issue an additional token for an existing, enabled user."""
        token = new_token()
        with self.db.transaction() as session:
            user = self._user(session, name)
            if user.disabled_at is not None:
                raise ConflictError(f"user {name!r} is disabled")
            token_id = self._add_token(session, user.id, token, label)
            self.ledger.record(
                session,
                actor,
                "auth.token.issued",
                f"user:{name}",
                payload={"token_id": token_id, "label": label},
            )
        return token

    def revoke_tokens(self, *, name: str, actor: Actor) -> int:
        """Revoke every active token of a user; returns how many."""
        now = self.clock.now()
        with self.db.transaction() as session:
            user = self._user(session, name)
            result = session.execute(
                sa.update(ApiTokenRow)
                .where(ApiTokenRow.user_id == user.id, ApiTokenRow.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            count = int(getattr(result, "rowcount", 0) or 0)
            self.ledger.record(
                session,
                actor,
                "auth.token.revoked",
                f"user:{name}",
                payload={"count": count},
            )
        self._forget_all()
        return count

    def disable_user(self, *, name: str, actor: Actor) -> None:
        """Disable a user; their tokens stop working at once."""
        with self.db.transaction() as session:
            user = self._user(session, name)
            if user.disabled_at is not None:
                raise ConflictError(f"user {name!r} is already disabled")
            user.disabled_at = self.clock.now()
            self.ledger.record(
                session,
                actor,
                "auth.user.disabled",
                f"user:{name}",
                payload={},
            )
        self._forget_all()

    def list_users(self) -> list[UserView]:
        """Every user with their count of active tokens."""
        active = (
            sa.select(sa.func.count(ApiTokenRow.id))
            .where(ApiTokenRow.user_id == UserRow.id, ApiTokenRow.revoked_at.is_(None))
            .scalar_subquery()
        )
        with self.db.reader() as session:
            rows = session.execute(sa.select(UserRow, active).order_by(UserRow.name)).all()
            return [_view(user, int(count)) for user, count in rows]

    def has_users(self) -> bool:
        with self.db.reader() as session:
            return session.execute(sa.select(sa.func.count(UserRow.id))).scalar_one() > 0

    def ensure_first_user(self, *, actor: Actor) -> str | None:
        """Create the first devops user when there is none; return its token, else None."""
        if self.has_users():
            return None
        try:
            _, token = self.add_user(name=FIRST_USER, role=Role.DEVOPS, actor=actor)
        except ConflictError:
            return None  # another instance created it first
        return token

    def authenticate(self, token: str) -> Actor:
        """Resolve a presented token to its user; raises AuthenticationError."""
        if not token:
            raise AuthenticationError("missing API token")
        token_hash = hash_token(token)
        known = self._cached(token_hash)
        if known is not None:
            return known
        with self.db.reader() as session:
            row = session.execute(
                sa.select(UserRow.id, UserRow.name, UserRow.role)
                .join(ApiTokenRow, ApiTokenRow.user_id == UserRow.id)
                .where(
                    ApiTokenRow.token_hash == token_hash,
                    ApiTokenRow.revoked_at.is_(None),
                    UserRow.disabled_at.is_(None),
                )
            ).one_or_none()
        if row is None:
            raise AuthenticationError("invalid or revoked API token")
        actor = Actor(name=row.name, role=row.role, user_id=row.id)
        self._remember(token_hash, actor)
        return actor

    def _add_token(self, session: sa.orm.Session, user_id: int, token: str, label: str) -> int:
        row = ApiTokenRow(
            user_id=user_id,
            token_hash=hash_token(token),
            label=label[:100],
            created_at=self.clock.now(),
        )
        session.add(row)
        session.flush()
        return row.id

    @staticmethod
    def _user(session: sa.orm.Session, name: str) -> UserRow:
        user = session.execute(sa.select(UserRow).where(UserRow.name == name)).scalar_one_or_none()
        if user is None:
            raise NotFoundError(f"user {name!r} does not exist")
        return user


def _role(value: Role | str) -> Role:
    try:
        return Role(value)
    except ValueError:
        valid = ", ".join(r.value for r in Role)
        raise ValidationError(
            [Issue("role", f"expected one of: {valid} (got {value!r})")]
        ) from None


def _view(user: UserRow, tokens: int) -> UserView:
    return UserView(
        id=user.id,
        name=user.name,
        role=Role(user.role),
        created_at=user.created_at,
        disabled=user.disabled_at is not None,
        active_tokens=tokens,
    )
