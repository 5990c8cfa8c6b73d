"""Fixtures for the HTTP API: an app on a container, and one token per role."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from leitstand.app import create_app
from leitstand.auth.model import Actor, Role
from leitstand.bootstrap import Container

ADMIN = Actor(name="local:test", role="local")


@pytest.fixture
def app(container: Container) -> FastAPI:
    return create_app(container)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://127.0.0.1") as test_client:
        yield test_client


@pytest.fixture
def tokens(container: Container) -> dict[Role, str]:
    result = {}
    for role in Role:
        _user, token = container.auth.add_user(name=f"u-{role.value}", role=role, actor=ADMIN)
        result[role] = token
    return result


@pytest.fixture
def headers(tokens: dict[Role, str]) -> dict[Role, dict[str, str]]:
    """An Authorization header per role."""
    return {role: {"Authorization": f"Bearer {token}"} for role, token in tokens.items()}
