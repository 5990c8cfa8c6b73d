"""User, token and web-session tables, and every query of the auth package."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from leitstand.db import Base, UTCDateTime

__all__ = [
    "ApiTokenRow",
    "SessionRecord",
    "TokenRecord",
    "UserRow",
    "WebSessionRow",
    "add_token",
    "add_user",
    "add_web_session",
    "count_users",
    "live_token",
    "live_web_session",
    "note_token_used",
    "open_web_session",
    "prune_web_sessions",
    "revoke_user_tokens",
    "token_owner",
    "touch_web_session",
    "user_named",
    "users_with_tokens",
]


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(63), unique=True)
    role: Mapped[str] = mapped_column(sa.String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApiTokenRow(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    label: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Updated at most once a minute per token (not evidence: a hint for operators).
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebSessionRow(Base):
    """A web UI sign-in: the cookie holds a random id, this row only its SHA-256."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    session_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # The token the user signed in with: revoking or expiring it ends the session too.
    token_id: Mapped[int] = mapped_column(
        sa.ForeignKey("api_tokens.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# -- users and tokens -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """A live (unrevoked) token of an enabled user, as authentication reads it."""

    user_id: int
    name: str
    role: str
    token_id: int
    expires_at: datetime | None
    last_used_at: datetime | None


def add_user(session: Session, *, name: str, role: str, created_at: datetime) -> UserRow:
    """Insert a user (flushed: its id is set; a taken name raises IntegrityError)."""
    user = UserRow(name=name, role=role, created_at=created_at)
    session.add(user)
    session.flush()
    return user


def user_named(session: Session, name: str) -> UserRow | None:
    """The user called ``name``, if any."""
    return session.execute(sa.select(UserRow).where(UserRow.name == name)).scalar_one_or_none()


def count_users(session: Session) -> int:
    return int(session.execute(sa.select(sa.func.count(UserRow.id))).scalar_one())


def users_with_tokens(
    session: Session, now: datetime
) -> list[tuple[UserRow, int, datetime | None]]:
    """Every user by name, with their count of active tokens and their tokens' last use."""
    active = (
        sa.select(sa.func.count(ApiTokenRow.id))
        .where(
            ApiTokenRow.user_id == UserRow.id,
            ApiTokenRow.revoked_at.is_(None),
            sa.or_(ApiTokenRow.expires_at.is_(None), ApiTokenRow.expires_at > now),
        )
        .scalar_subquery()
    )
    last_used = (
        sa.select(sa.func.max(ApiTokenRow.last_used_at))
        .where(ApiTokenRow.user_id == UserRow.id)
        .scalar_subquery()
    )
    rows = session.execute(sa.select(UserRow, active, last_used).order_by(UserRow.name)).all()
    return [(user, int(count), used) for user, count, used in rows]


def add_token(
    session: Session,
    *,
    user_id: int,
    token_hash: str,
    label: str,
    created_at: datetime,
    expires_at: datetime | None,
) -> int:
    """Insert a token (only its hash); returns its id."""
    row = ApiTokenRow(
        user_id=user_id,
        token_hash=token_hash,
        label=label,
        created_at=created_at,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return row.id


def revoke_user_tokens(session: Session, user_id: int, now: datetime) -> int:
    """Revoke every active token of a user; returns how many."""
    result = session.execute(
        sa.update(ApiTokenRow)
        .where(ApiTokenRow.user_id == user_id, ApiTokenRow.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def live_token(session: Session, token_hash: str) -> TokenRecord | None:
    """The unrevoked token with this hash of an enabled user (expiry is the caller's check)."""
    row = session.execute(
        sa.select(
            UserRow.id,
            UserRow.name,
            UserRow.role,
            ApiTokenRow.id,
            ApiTokenRow.expires_at,
            ApiTokenRow.last_used_at,
        )
        .join(ApiTokenRow, ApiTokenRow.user_id == UserRow.id)
        .where(
            ApiTokenRow.token_hash == token_hash,
            ApiTokenRow.revoked_at.is_(None),
            UserRow.disabled_at.is_(None),
        )
    ).one_or_none()
    return None if row is None else TokenRecord(*row)


def note_token_used(session: Session, token_id: int, now: datetime, every: timedelta) -> None:
    """Set a token's last use to ``now`` unless it was noted within ``every``."""
    session.execute(
        sa.update(ApiTokenRow)
        .where(
            ApiTokenRow.id == token_id,
            sa.or_(
                ApiTokenRow.last_used_at.is_(None),
                ApiTokenRow.last_used_at <= now - every,
            ),
        )
        .values(last_used_at=now)
    )


def token_owner(session: Session, token_id: int) -> tuple[str, str]:
    """Name and role of the user a token belongs to."""
    row = session.execute(
        sa.select(UserRow.name, UserRow.role)
        .join(ApiTokenRow, ApiTokenRow.user_id == UserRow.id)
        .where(ApiTokenRow.id == token_id)
    ).one()
    return row.name, row.role


# -- web sessions -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """An unrevoked web session of a live token and an enabled user (expiry: caller's check)."""

    id: int
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    token_expires_at: datetime | None
    user_id: int
    name: str
    role: str


def add_web_session(
    session: Session,
    *,
    session_hash: str,
    token_id: int,
    now: datetime,
    expires_at: datetime,
) -> int:
    """Insert a web session (only the hash of its id); returns its row id."""
    row = WebSessionRow(
        session_hash=session_hash,
        token_id=token_id,
        created_at=now,
        last_seen_at=now,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return row.id


def live_web_session(session: Session, session_hash: str) -> SessionRecord | None:
    """The unrevoked session with this hash, if its token and user are still valid."""
    row = session.execute(
        sa.select(
            WebSessionRow.id,
            WebSessionRow.created_at,
            WebSessionRow.last_seen_at,
            WebSessionRow.expires_at,
            ApiTokenRow.expires_at,
            UserRow.id,
            UserRow.name,
            UserRow.role,
        )
        .join(ApiTokenRow, ApiTokenRow.id == WebSessionRow.token_id)
        .join(UserRow, UserRow.id == ApiTokenRow.user_id)
        .where(
            WebSessionRow.session_hash == session_hash,
            WebSessionRow.revoked_at.is_(None),
            ApiTokenRow.revoked_at.is_(None),
            UserRow.disabled_at.is_(None),
        )
    ).one_or_none()
    return None if row is None else SessionRecord(*row)


def touch_web_session(session: Session, session_id: int, now: datetime) -> None:
    """Move a session's last activity forward to ``now``."""
    session.execute(
        sa.update(WebSessionRow)
        .where(WebSessionRow.id == session_id, WebSessionRow.last_seen_at < now)
        .values(last_seen_at=now)
    )


def open_web_session(session: Session, session_hash: str) -> WebSessionRow | None:
    """The unrevoked session row with this hash (to end it)."""
    return session.execute(
        sa.select(WebSessionRow).where(
            WebSessionRow.session_hash == session_hash,
            WebSessionRow.revoked_at.is_(None),
        )
    ).scalar_one_or_none()


def prune_web_sessions(
    session: Session, *, now: datetime, idle: timedelta, absolute: timedelta
) -> int:
    """Delete the sessions no request can use again: ended, expired, idle or too old."""
    result = session.execute(
        sa.delete(WebSessionRow).where(
            sa.or_(
                WebSessionRow.revoked_at.is_not(None),
                WebSessionRow.expires_at <= now,
                WebSessionRow.last_seen_at <= now - idle,
                WebSessionRow.created_at <= now - absolute,
            )
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
