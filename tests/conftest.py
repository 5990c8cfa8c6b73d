"""Shared fixtures: isolated environment, both store backends, a container per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from leitstand.bootstrap import Container, build
from leitstand.settings import Settings
from leitstand.testing import ManualClock, postgres_available, postgres_schema

_PG = postgres_available()
# Screenshots and other artifacts land in <repo>/test-artifacts, whatever the cwd of a test.
os.environ.setdefault(
    "LEITSTAND_TEST_ARTIFACTS", str(Path(__file__).resolve().parent.parent / "test-artifacts")
)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in list(os.environ):
        if key.startswith("LEITSTAND_") and key not in (
            "LEITSTAND_TEST_POSTGRES",
            "LEITSTAND_TEST_ARTIFACTS",
        ):
            monkeypatch.delenv(key)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)


def _scheduling_rank(item: pytest.Item) -> int:
    """Longest work first: the journeys (minutes each), then the engine tests, then the units.

    With two workers and ``--dist loadfile`` the files are handed out in this order, so the
    longest files start early instead of forming a one-worker tail at the end of the run.
    """
    path = str(item.path)
    if "/tests/journeys/" in path:
        return 0
    if "/tests/integration/" in path or "/tests/e2e/" in path:
        return 1
    return 2


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # A stable sort: each file's tests stay together and in their own order.
    items.sort(key=_scheduling_rank)
    for item in items:
        if "/tests/integration/" in str(item.path) or "/tests/e2e/" in str(item.path):
            item.add_marker(pytest.mark.integration)
        if "/tests/journeys/" in str(item.path):
            item.add_marker(pytest.mark.integration)
            item.add_marker(pytest.mark.journey)
    if _PG:
        return
    if os.environ.get("LEITSTAND_REQUIRE_POSTGRES"):
        raise pytest.UsageError(
            "PostgreSQL at 127.0.0.1:5432 (database test) is not reachable; the test command "
            "needs it for the store suite"
        )
    # On a developer machine without PostgreSQL, skip those tests, loudly.
    skip = pytest.mark.skip(reason="PostgreSQL at 127.0.0.1:5432 is not reachable")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(backend: str, tmp_path: Path) -> Iterator[Settings]:
    home = tmp_path / "home"
    if backend == "sqlite":
        yield Settings(home=home)
        return
    with postgres_schema() as pg:
        yield Settings(home=home, database_url=pg.url, database_schema=pg.schema)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def container(settings: Settings, clock: ManualClock) -> Iterator[Container]:
    c = build(settings, clock=clock, migrate=True)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def sqlite_container(tmp_path: Path, clock: ManualClock) -> Iterator[Container]:
    c = build(Settings(home=tmp_path / "home"), clock=clock, migrate=True)
    try:
        yield c
    finally:
        c.close()
