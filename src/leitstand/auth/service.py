"""Users and API tokens: add, issue, revoke, authenticate. Every change is evidence."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from leitstand.auth import store
from leitstand.auth.model import (
    Actor,
    Role,
    hash_token,
    new_token,
    reserved_user_name,
    valid_user_name,
)
from leitstand.auth.sessions import SessionStore
from leitstand.auth.store import UserRow
from leitstand.clock import Clock
from leitstand.db import Database, IntegrityError, Session
from leitstand.errors import (
    AuthenticationError,
    ConflictError,
    Issue,
    NotFoundError,
    ValidationError,
)
from leitstand.ledger.service import Ledger
from leitstand.policy.auth import AuthPolicy

__all__ = ["AuthService", "UserView"]

FIRST_USER = "admin"
#: A token's last_used_at is written at most this often (a hint for operators, not evidence).
LAST_USED_EVERY = timedelta(minutes=1)
#: Bound of an explicit token lifetime (a sanity bound on input, not policy).
MAX_TOKEN_LIFETIME = timedelta(days=3650)


@dataclass(frozen=True, slots=True)
class UserView:
    """A user as shown to operators (never with token material)."""

    id: int
    name: str
    role: Role
    created_at: datetime
    disabled: bool
    active_tokens: int
    last_used_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class _TokenHit:
    """A resolved token: whose it is, until when it is valid, when it was last noted as used."""

    actor: Actor
    token_id: int
    expires_at: datetime | None
    last_used_at: datetime | None


class AuthService:
    """Manage users and tokens; authenticate requests."""

    #: Cached tokens at most; beyond that the cache starts over (a flood of distinct tokens).
    CACHE_LIMIT = 10_000

    def __init__(
        self,
        *,
        db: Database,
        ledger: Ledger,
        clock: Clock,
        cache_seconds: float = 5.0,
        policy: AuthPolicy | None = None,
    ) -> None:
        """``cache_seconds``: how long a resolved token or session is trusted without asking
        the database.

        Revoking or disabling through this process takes effect at once; through another
        process (the CLI, a second instance) within ``cache_seconds``. 0 turns the cache off.
        An expired token is refused at once, cached or not.
        """
        self.db = db
        self.ledger = ledger
        self.clock = clock
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[_TokenHit, float]] = {}
        self._cache_lock = threading.Lock()
        self.sessions = SessionStore(
            db=db,
            ledger=ledger,
            clock=clock,
            policy=policy or AuthPolicy(),
            cache_seconds=cache_seconds,
        )

    @property
    def cache_seconds(self) -> float:
        return self._cache_seconds

    @cache_seconds.setter
    def cache_seconds(self, value: float) -> None:
        self._cache_seconds = value
        self.sessions.cache_seconds = value

    def cached(self, token: str) -> Actor | None:
        """The actor of a token resolved within the last ``cache_seconds``, else None.

        None also when the token has expired or its last use is due to be written: the
        caller then calls ``authenticate``, which decides and writes.
        """
        hit = self._cached(hash_token(token)) if token else None
        if hit is None:
            return None
        now = self.clock.now()
        if hit.expires_at is not None and now >= hit.expires_at:
            return None
        if hit.last_used_at is None or now - hit.last_used_at >= LAST_USED_EVERY:
            return None
        return hit.actor

    def _cached(self, token_hash: str) -> _TokenHit | None:
        if self.cache_seconds <= 0:
            return None
        hit = self._cache.get(token_hash)
        if hit is None or hit[1] < time.monotonic():
            return None
        return hit[0]

    def _remember(self, token_hash: str, hit: _TokenHit) -> None:
        if self.cache_seconds <= 0:
            return
        with self._cache_lock:
            if len(self._cache) >= self.CACHE_LIMIT:
                self._cache.clear()
            self._cache[token_hash] = (hit, time.monotonic() + self.cache_seconds)

    def _forget_all(self) -> None:
        with self._cache_lock:
            self._cache.clear()
        self.sessions.forget_all()

    def add_user(self, *, name: str, role: Role | str, actor: Actor) -> tuple[UserView, str]:
        """Create a user with one API token; returns the token (shown once, stored hashed)."""
        role = _role(role)
        if not valid_user_name(name):
            raise ValidationError(
                [Issue("name", f"expected lower-case letters, digits and ._@- (got {name!r})")]
            )
        if reserved_user_name(name):
            raise ValidationError(
                [Issue("name", f"{name!r} is reserved: leitstand's own actors use that name")]
            )
        token = new_token()
        now = self.clock.now()
        try:
            with self.db.transaction() as session:
                user = store.add_user(session, name=name, role=role.value, created_at=now)
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

    def issue_token(
        self, *, name: str, label: str, actor: Actor, expires: timedelta | None = None
    ) -> str:
        """Issue an additional token for an existing, enabled user; ``expires``: valid for
        that long (None: until revoked)."""
        return self.issue_expiring_token(name=name, label=label, actor=actor, expires=expires)[0]

    def issue_expiring_token(
        self, *, name: str, label: str, actor: Actor, expires: timedelta | None
    ) -> tuple[str, datetime | None]:
        """Like ``issue_token``; also returns when the token expires (None: never)."""
        if expires is not None and not timedelta(0) < expires <= MAX_TOKEN_LIFETIME:
            raise ValidationError(
                [Issue("expires", "a duration longer than 0s and at most 10y (or none)")]
            )
        token = new_token()
        expires_at = self.clock.now() + expires if expires is not None else None
        with self.db.transaction() as session:
            user = self._user(session, name)
            if user.disabled_at is not None:
                raise ConflictError(f"user {name!r} is disabled")
            token_id = self._add_token(session, user.id, token, label, expires_at)
            self.ledger.record(
                session,
                actor,
                "auth.token.issued",
                f"user:{name}",
                payload={
                    "token_id": token_id,
                    "label": label,
                    "expires_at": expires_at.isoformat() if expires_at else None,
                },
            )
        return token, expires_at

    def revoke_tokens(self, *, name: str, actor: Actor) -> int:
        """Revoke every active token of a user; returns how many."""
        now = self.clock.now()
        with self.db.transaction() as session:
            user = self._user(session, name)
            count = store.revoke_user_tokens(session, user.id, now)
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
        """Every user with their count of active (unrevoked, unexpired) tokens and last use."""
        now = self.clock.now()
        with self.db.reader() as session:
            rows = store.users_with_tokens(session, now)
            return [_view(user, count, used) for user, count, used in rows]

    def has_users(self) -> bool:
        with self.db.reader() as session:
            return store.count_users(session) > 0

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
        return self._resolve(token).actor

    def start_session(self, token: str) -> tuple[str, Actor]:
        """Sign in to the web UI with a token: returns the new session's id and the user."""
        hit = self._resolve(token)
        session_id = self.sessions.start(
            hit.actor, token_id=hit.token_id, token_expires_at=hit.expires_at
        )
        return session_id, hit.actor

    def _resolve(self, token: str) -> _TokenHit:
        if not token:
            raise AuthenticationError("missing API token")
        token_hash = hash_token(token)
        now = self.clock.now()
        known = self._cached(token_hash)
        if (
            known is not None
            and (known.expires_at is None or now < known.expires_at)
            and known.last_used_at is not None
            and now - known.last_used_at < LAST_USED_EVERY
        ):
            return known
        with self.db.reader() as session:
            row = store.live_token(session, token_hash)
        if row is None:
            raise AuthenticationError("invalid or revoked API token")
        if row.expires_at is not None and now >= row.expires_at:
            raise AuthenticationError("API token expired: ask for a new one")
        last_used = row.last_used_at
        if last_used is None or now - last_used >= LAST_USED_EVERY:
            # At most one write a minute per token, whatever the request rate.
            with self.db.transaction() as session:
                store.note_token_used(session, row.token_id, now, LAST_USED_EVERY)
            last_used = now
        hit = _TokenHit(
            actor=Actor(name=row.name, role=row.role, user_id=row.user_id),
            token_id=row.token_id,
            expires_at=row.expires_at,
            last_used_at=last_used,
        )
        self._remember(token_hash, hit)
        return hit

    def _add_token(
        self,
        session: Session,
        user_id: int,
        token: str,
        label: str,
        expires_at: datetime | None = None,
    ) -> int:
        return store.add_token(
            session,
            user_id=user_id,
            token_hash=hash_token(token),
            label=label[:100],
            created_at=self.clock.now(),
            expires_at=expires_at,
        )

    @staticmethod
    def _user(session: Session, name: str) -> UserRow:
        user = store.user_named(session, name)
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


def _view(user: UserRow, tokens: int, last_used_at: datetime | None = None) -> UserView:
    return UserView(
        id=user.id,
        name=user.name,
        role=Role(user.role),
        created_at=user.created_at,
        disabled=user.disabled_at is not None,
        active_tokens=tokens,
        last_used_at=last_used_at,
    )
