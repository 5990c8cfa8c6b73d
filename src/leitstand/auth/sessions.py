"""Web UI sessions: a random id in the cookie, only its hash in the database.

A session is opened by signing in with an API token and stays bound to that token: revoking or
expiring the token, or disabling the user, ends every session opened with it. A session ends
after ``auth.session_idle`` without a request and ``auth.session_absolute`` after sign-in
(policy), or at sign-out. Every session has a CSRF token derived from its id, which the web
pages send back with every unsafe request.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from leitstand.auth import store
from leitstand.auth.model import Actor, hash_token
from leitstand.clock import Clock
from leitstand.db import Database
from leitstand.errors import AuthenticationError, StoreError
from leitstand.ledger.service import Ledger
from leitstand.policy.auth import AuthPolicy

__all__ = ["SessionStore", "WebSession", "csrf_token_for", "new_session_id"]

log = structlog.get_logger(__name__)

#: last_seen_at is written at most this often per session (idle expiry is that precise).
TOUCH_EVERY = timedelta(minutes=1)


def new_session_id() -> str:
    """A fresh session id (256 random bits); it lives only in the browser's cookie."""
    return secrets.token_urlsafe(32)


def csrf_token_for(session_id: str) -> str:
    """The CSRF token of a session: derived from its secret id, so nothing more is stored.

    A page carries it; it reveals neither the session id nor the stored hash of it.
    """
    return hashlib.sha256(b"leitstand-csrf\x00" + session_id.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class WebSession:
    """A live session as a request sees it."""

    id: int
    actor: Actor
    csrf_token: str
    expires_at: datetime
    last_seen_at: datetime


class SessionStore:
    """Open, resolve and end web sessions."""

    CACHE_LIMIT = 10_000

    def __init__(
        self,
        *,
        db: Database,
        ledger: Ledger,
        clock: Clock,
        policy: AuthPolicy,
        cache_seconds: float,
    ) -> None:
        self.db = db
        self.ledger = ledger
        self.clock = clock
        self.policy = policy
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[WebSession, float]] = {}
        self._lock = threading.Lock()

    @property
    def _touch_every(self) -> timedelta:
        return min(TOUCH_EVERY, self.policy.session_idle / 2)

    def start(self, actor: Actor, *, token_id: int, token_expires_at: datetime | None) -> str:
        """Open a session for a user who presented token ``token_id``; returns the cookie value."""
        session_id = new_session_id()
        now = self.clock.now()
        expires = now + self.policy.session_absolute
        if token_expires_at is not None:
            expires = min(expires, token_expires_at)
        with self.db.transaction() as session:
            row_id = store.add_web_session(
                session,
                session_hash=hash_token(session_id),
                token_id=token_id,
                now=now,
                expires_at=expires,
            )
            self.ledger.record(
                session,
                actor,
                "auth.session.started",
                f"user:{actor.name}",
                payload={
                    "session": row_id,
                    "token_id": token_id,
                    "expires_at": expires.isoformat(),
                },
            )
        self.prune(now)
        return session_id

    def prune(self, now: datetime | None = None) -> int:
        """Delete the sessions no cookie can use again (ended, expired, idle, too old).

        Runs with every sign-in, so the table holds live sessions only; in its own short
        transaction, and a failure (a concurrent prune) never fails the sign-in.
        """
        now = now or self.clock.now()
        try:
            with self.db.transaction() as session:
                return store.prune_web_sessions(
                    session,
                    now=now,
                    idle=self.policy.session_idle,
                    absolute=self.policy.session_absolute,
                )
        except StoreError as exc:
            log.warning("web_sessions_not_pruned", error=str(exc))
            return 0

    def cached(self, session_id: str) -> WebSession | None:
        """The session resolved within the cache time, if it needs no database round trip."""
        if self.cache_seconds <= 0 or not session_id:
            return None
        hit = self._cache.get(hash_token(session_id))
        if hit is None or hit[1] < time.monotonic():
            return None
        web = hit[0]
        now = self.clock.now()
        if now >= web.expires_at or now - web.last_seen_at >= self._touch_every:
            return None  # expired, or last_seen_at is due: resolve() decides and writes
        return web

    def resolve(self, session_id: str) -> WebSession:
        """The live session of a cookie value; raises AuthenticationError when it is not."""
        if not session_id:
            raise AuthenticationError("not signed in")
        session_hash = hash_token(session_id)
        now = self.clock.now()
        with self.db.reader() as session:
            row = store.live_web_session(session, session_hash)
        if row is None:
            self._forget(session_hash)
            raise AuthenticationError("not signed in (session unknown, ended or revoked)")
        # The policy as it is now applies to sessions opened before it changed, too.
        expires = min(row.expires_at, row.created_at + self.policy.session_absolute)
        if row.token_expires_at is not None:
            expires = min(expires, row.token_expires_at)
        if now >= expires or now - row.last_seen_at >= self.policy.session_idle:
            self._forget(session_hash)
            raise AuthenticationError("session expired: sign in again")
        last_seen = row.last_seen_at
        if now - last_seen >= self._touch_every:
            with self.db.transaction() as session:
                store.touch_web_session(session, row.id, now)
            last_seen = now
        web = WebSession(
            id=row.id,
            actor=Actor(name=row.name, role=row.role, user_id=row.user_id),
            csrf_token=csrf_token_for(session_id),
            expires_at=expires,
            last_seen_at=last_seen,
        )
        self._remember(session_hash, web)
        return web

    def end(self, session_id: str) -> bool:
        """Sign out: revoke the session (its cookie is refused from now on)."""
        session_hash = hash_token(session_id)
        self._forget(session_hash)
        now = self.clock.now()
        with self.db.transaction() as session:
            row = store.open_web_session(session, session_hash)
            if row is None:
                return False
            row.revoked_at = now
            name, role = store.token_owner(session, row.token_id)
            self.ledger.record(
                session,
                Actor(name=name, role=role),
                "auth.session.ended",
                f"user:{name}",
                payload={"session": row.id},
            )
        return True

    def forget_all(self) -> None:
        """Drop the cache (after revoking tokens or disabling a user in this process)."""
        with self._lock:
            self._cache.clear()

    def _remember(self, session_hash: str, web: WebSession) -> None:
        if self.cache_seconds <= 0:
            return
        with self._lock:
            if len(self._cache) >= self.CACHE_LIMIT:
                self._cache.clear()
            self._cache[session_hash] = (web, time.monotonic() + self.cache_seconds)

    def _forget(self, session_hash: str) -> None:
        with self._lock:
            self._cache.pop(session_hash, None)
