"""Users and tokens: shown once, stored hashed, revocable."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from leitstand.auth.model import Actor, Role, hash_token
from leitstand.bootstrap import Container
from leitstand.errors import AuthenticationError, ConflictError, NotFoundError, ValidationError
from leitstand.ledger.service import EntryQuery

ADMIN = Actor(name="local:ops", role="local")


def test_a_token_is_stored_only_as_its_hash(container: Container) -> None:
    _user, token = container.auth.add_user(name="anna", role=Role.AUDITOR, actor=ADMIN)
    with container.db.reader() as session:
        stored = session.execute(sa.text("SELECT token_hash FROM api_tokens")).scalar_one()
    assert stored == hash_token(token)
    assert token not in stored
    actor = container.auth.authenticate(token)
    assert (actor.name, actor.role) == ("anna", "auditor")


def test_user_changes_are_evidence_without_the_token(container: Container) -> None:
    _user, token = container.auth.add_user(name="anna", role=Role.DEVOPS, actor=ADMIN)
    second = container.auth.issue_token(name="anna", label="ci", actor=ADMIN)
    entries = container.audit.log(EntryQuery(action="auth.*", newest_first=False))
    assert [e.action for e in entries] == ["auth.user.added", "auth.token.issued"]
    assert all(token not in str(e.payload) and second not in str(e.payload) for e in entries)


def test_revoked_tokens_and_disabled_users_no_longer_authenticate(container: Container) -> None:
    _user, first = container.auth.add_user(name="anna", role=Role.DEVOPS, actor=ADMIN)
    second = container.auth.issue_token(name="anna", label="ci", actor=ADMIN)
    assert container.auth.revoke_tokens(name="anna", actor=ADMIN) == 2
    for token in (first, second):
        with pytest.raises(AuthenticationError):
            container.auth.authenticate(token)
    third = container.auth.issue_token(name="anna", label="new", actor=ADMIN)
    container.auth.disable_user(name="anna", actor=ADMIN)
    with pytest.raises(AuthenticationError):
        container.auth.authenticate(third)
    with pytest.raises(ConflictError):
        container.auth.issue_token(name="anna", label="again", actor=ADMIN)


def test_bad_user_input_is_refused_clearly(container: Container) -> None:
    container.auth.add_user(name="anna", role=Role.DEVOPS, actor=ADMIN)
    with pytest.raises(ConflictError, match="already exists"):
        container.auth.add_user(name="anna", role=Role.QA, actor=ADMIN)
    with pytest.raises(ValidationError, match="role: expected one of"):
        container.auth.add_user(name="bert", role="admin", actor=ADMIN)
    with pytest.raises(ValidationError, match="name: expected lower-case"):
        container.auth.add_user(name="Bert Smith", role=Role.QA, actor=ADMIN)
    with pytest.raises(NotFoundError):
        container.auth.revoke_tokens(name="nobody", actor=ADMIN)
    with pytest.raises(AuthenticationError):
        container.auth.authenticate("")


def test_the_first_devops_user_is_created_once(container: Container) -> None:
    token = container.auth.ensure_first_user(actor=ADMIN)
    assert token is not None
    assert container.auth.authenticate(token).role == "devops"
    assert container.auth.ensure_first_user(actor=ADMIN) is None
    assert [u.name for u in container.auth.list_users()] == ["admin"]


def _revoke_behind_its_back(container: Container) -> None:
    """What another process (the CLI, a second instance) does: a committed UPDATE."""
    with container.db.transaction() as session:
        session.execute(sa.text("UPDATE api_tokens SET revoked_at = CURRENT_TIMESTAMP"))


def test_a_resolved_token_is_trusted_for_the_cache_time_only(container: Container) -> None:
    _user, token = container.auth.add_user(name="anna", role=Role.DEVOPS, actor=ADMIN)
    container.auth.cache_seconds = 0.3
    assert container.auth.cached(token) is None  # not resolved yet
    assert container.auth.authenticate(token).name == "anna"
    _revoke_behind_its_back(container)
    # Within the cache time the revocation by another process is not seen yet ...
    cached = container.auth.cached(token)
    assert cached is not None and cached.name == "anna"
    assert container.auth.authenticate(token).name == "anna"
    # ... after it, the database answers again.
    time.sleep(0.35)
    assert container.auth.cached(token) is None
    with pytest.raises(AuthenticationError):
        container.auth.authenticate(token)


def test_revoking_or_disabling_in_this_process_drops_the_cache_at_once(
    container: Container,
) -> None:
    _user, token = container.auth.add_user(name="anna", role=Role.DEVOPS, actor=ADMIN)
    container.auth.cache_seconds = 60
    container.auth.authenticate(token)
    container.auth.revoke_tokens(name="anna", actor=ADMIN)
    with pytest.raises(AuthenticationError):
        container.auth.authenticate(token)
    second = container.auth.issue_token(name="anna", label="ci", actor=ADMIN)
    container.auth.authenticate(second)
    container.auth.disable_user(name="anna", actor=ADMIN)
    with pytest.raises(AuthenticationError):
        container.auth.authenticate(second)


def test_without_a_cache_every_request_asks_the_database(container: Container) -> None:
    _user, token = container.auth.add_user(name="anna", role=Role.DEVOPS, actor=ADMIN)
    container.auth.cache_seconds = 0
    container.auth.authenticate(token)
    assert container.auth.cached(token) is None
    _revoke_behind_its_back(container)
    with pytest.raises(AuthenticationError):
        container.auth.authenticate(token)
