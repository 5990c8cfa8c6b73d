"""Web sessions and token lifetimes: expiry from the policy, revocation, last use."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from leitstand.auth.model import Actor, Role, hash_token
from leitstand.bootstrap import Container
from leitstand.errors import AuthenticationError, ValidationError
from leitstand.policy import load_policy_text
from leitstand.testing import ManualClock

ADMIN = Actor(name="local:ops", role="local")


def test_a_session_id_is_random_and_stored_only_hashed(container: Container) -> None:
    _user, token = container.auth.add_user(name="anna", role=Role.DEVOPS, actor=ADMIN)
    first, actor = container.auth.start_session(token)
    second, _ = container.auth.start_session(token)
    assert actor.name == "anna" and first != second and token not in (first, second)
    with container.db.reader() as session:
        stored = set(session.execute(sa.text("SELECT session_hash FROM web_sessions")).scalars())
    assert stored == {hash_token(first), hash_token(second)}
    web = container.auth.sessions.resolve(first)
    assert web.actor.name == "anna" and web.csrf_token not in (first, hash_token(first))
    assert container.auth.sessions.resolve(second).csrf_token != web.csrf_token


def test_a_session_ends_after_the_idle_time_of_the_policy(
    container: Container, clock: ManualClock
) -> None:
    _user, token = container.auth.add_user(name="anna", role=Role.DEVOPS, actor=ADMIN)
    session_id, _ = container.auth.start_session(token)
    idle = container.policy.auth.session_idle
    assert idle == timedelta(minutes=30)
    # Activity keeps it alive well past one idle period ...
    for _ in range(4):
        clock.advance(idle - timedelta(minutes=2))
        assert container.auth.sessions.resolve(session_id).actor.name == "anna"
    # ... silence ends it, and the cache does not keep it alive.
    assert container.auth.sessions.cached(session_id) is not None
    clock.advance(idle)
    assert container.auth.sessions.cached(session_id) is None
    with pytest.raises(AuthenticationError, match="expired"):
        container.auth.sessions.resolve(session_id)


def test_a_session_ends_at_the_absolute_limit_however_active(
    container: Container, clock: ManualClock
) -> None:
    _user, token = container.auth.add_user(name="anna", role=Role.DEVOPS, actor=ADMIN)
    session_id, _ = container.auth.start_session(token)
    absolute = container.policy.auth.session_absolute
    assert absolute == timedelta(hours=12)
    elapsed = timedelta(0)
    while elapsed + timedelta(minutes=20) < absolute:
        clock.advance(timedelta(minutes=20))
        elapsed += timedelta(minutes=20)
        container.auth.sessions.resolve(session_id)
    clock.advance(absolute - elapsed)
    with pytest.raises(AuthenticationError, match="expired"):
        container.auth.sessions.resolve(session_id)


def test_sessions_no_cookie_can_use_again_are_pruned_at_the_next_sign_in(
    container: Container, clock: ManualClock
) -> None:
    _user, token = container.auth.add_user(name="anna", role=Role.DEVOPS, actor=ADMIN)
    idle_one, _ = container.auth.start_session(token)
    ended, _ = container.auth.start_session(token)
    active, _ = container.auth.start_session(token)
    container.auth.sessions.end(ended)
    idle = container.policy.auth.session_idle
    clock.advance(idle - timedelta(minutes=1))
    container.auth.sessions.resolve(active)
    clock.advance(timedelta(minutes=2))
    fresh, _ = container.auth.start_session(token)
    with container.db.reader() as session:
        stored = set(session.execute(sa.text("SELECT session_hash FROM web_sessions")).scalars())
    # The idle and the ended session are gone; the active and the new one stay.
    assert stored == {hash_token(active), hash_token(fresh)}
    for gone in (idle_one, ended):
        with pytest.raises(AuthenticationError):
            container.auth.sessions.resolve(gone)
    assert container.auth.sessions.resolve(active).actor.name == "anna"
    # Past the absolute limit, even an active session goes at the next sign-in.
    clock.advance(container.policy.auth.session_absolute)
    assert container.auth.sessions.prune() == 2


def test_session_lifetimes_come_from_the_policy_file() -> None:
    policy = load_policy_text("auth:\n  session_idle: 5m\n  session_absolute: 1h\n")
    assert policy.auth.session_idle == timedelta(minutes=5)
    assert policy.auth.session_absolute == timedelta(hours=1)
    with pytest.raises(Exception, match="session_idle"):
        load_policy_text("auth:\n  session_idle: 2h\n  session_absolute: 1h\n")


def test_ending_a_session_refuses_it_at_once_even_when_cached(container: Container) -> None:
    _user, token = container.auth.add_user(name="anna", role=Role.DEVOPS, actor=ADMIN)
    container.auth.cache_seconds = 60
    session_id, _ = container.auth.start_session(token)
    container.auth.sessions.resolve(session_id)
    assert container.auth.sessions.cached(session_id) is not None
    assert container.auth.sessions.end(session_id) is True
    assert container.auth.sessions.cached(session_id) is None
    with pytest.raises(AuthenticationError):
        container.auth.sessions.resolve(session_id)
    assert container.auth.sessions.end(session_id) is False


def test_disabling_the_user_ends_their_sessions(container: Container) -> None:
    _user, token = container.auth.add_user(name="anna", role=Role.DEVOPS, actor=ADMIN)
    container.auth.cache_seconds = 60
    session_id, _ = container.auth.start_session(token)
    container.auth.sessions.resolve(session_id)
    container.auth.disable_user(name="anna", actor=ADMIN)
    assert container.auth.sessions.cached(session_id) is None
    with pytest.raises(AuthenticationError):
        container.auth.sessions.resolve(session_id)


def test_an_expiring_token_is_refused_after_its_time_cached_or_not(
    container: Container, clock: ManualClock
) -> None:
    container.auth.add_user(name="ci", role=Role.DEVELOPER, actor=ADMIN)
    container.auth.cache_seconds = 3600
    token, expires_at = container.auth.issue_expiring_token(
        name="ci", label="pipeline", actor=ADMIN, expires=timedelta(days=30)
    )
    assert expires_at == clock.now() + timedelta(days=30)
    session_id, _ = container.auth.start_session(token)
    clock.advance(timedelta(days=29, hours=23, minutes=59, seconds=30))
    assert container.auth.authenticate(token).name == "ci"
    assert container.auth.cached(token) is not None
    clock.advance(timedelta(seconds=30))
    assert container.auth.cached(token) is None
    with pytest.raises(AuthenticationError, match="expired"):
        container.auth.authenticate(token)
    # A session opened with the token ends with it (it was within its 12 h, but idle anyway).
    with pytest.raises(AuthenticationError):
        container.auth.sessions.resolve(session_id)
    assert [u.active_tokens for u in container.auth.list_users()] == [1]  # the initial one


def test_a_session_never_outlives_the_token_it_was_opened_with(
    container: Container, clock: ManualClock
) -> None:
    container.auth.add_user(name="ci", role=Role.DEVELOPER, actor=ADMIN)
    token = container.auth.issue_token(
        name="ci", label="short", actor=ADMIN, expires=timedelta(hours=1)
    )
    session_id, _ = container.auth.start_session(token)
    for _ in range(5):
        clock.advance(timedelta(minutes=10))
        container.auth.sessions.resolve(session_id)  # active, so never idle
    clock.advance(timedelta(minutes=10))
    with pytest.raises(AuthenticationError, match="expired"):
        container.auth.sessions.resolve(session_id)


def test_token_lifetimes_are_validated(container: Container) -> None:
    container.auth.add_user(name="ci", role=Role.DEVELOPER, actor=ADMIN)
    for bad in (timedelta(0), timedelta(seconds=-5), timedelta(days=365 * 20)):
        with pytest.raises(ValidationError, match="expires"):
            container.auth.issue_token(name="ci", label="x", actor=ADMIN, expires=bad)


def test_last_use_is_written_at_most_once_a_minute(
    container: Container, clock: ManualClock
) -> None:
    _user, token = container.auth.add_user(name="anna", role=Role.DEVOPS, actor=ADMIN)
    container.auth.cache_seconds = 0  # every call asks the database
    assert container.auth.list_users()[0].last_used_at is None
    start = clock.now()
    writes: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("UPDATE API_TOKENS"):
            writes.append(statement)

    sa.event.listen(container.db.engine, "before_cursor_execute", count)
    try:
        for _ in range(20):
            container.auth.authenticate(token)
            clock.advance(timedelta(seconds=5))  # 100 s in all
    finally:
        sa.event.remove(container.db.engine, "before_cursor_execute", count)
    assert len(writes) == 2  # at 0 s and at 60 s
    assert container.auth.list_users()[0].last_used_at == start + timedelta(seconds=60)
