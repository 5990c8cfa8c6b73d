"""Routes name the services they need: ``provide(kind)`` resolves them from the app's container."""

from __future__ import annotations

from typing import Annotated, Any, cast

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from leitstand.deps import provide


class _Greeter:
    def greet(self) -> str:
        return "hello"


class _Missing:
    pass


class _Container:
    def __init__(self, *services: object) -> None:
        self._services = {type(s): s for s in services}

    def get(self, kind: type[Any]) -> Any:
        try:
            return self._services[kind]
        except KeyError:
            raise LookupError(f"no service of type {kind.__name__} is wired") from None


def _app(container: object) -> FastAPI:
    app = FastAPI()
    app.state.container = container

    @app.get("/greet")
    def greet(greeter: Annotated[_Greeter, provide(_Greeter)]) -> str:
        return greeter.greet()

    @app.get("/missing")
    def missing(service: Annotated[_Missing, provide(_Missing)]) -> str:
        return type(service).__name__

    return app


def test_provide_resolves_the_service_of_its_type_from_the_running_container() -> None:
    with TestClient(_app(_Container(_Greeter()))) as client:
        assert client.get("/greet").json() == "hello"


def test_provide_names_its_dependency_after_the_kind() -> None:
    assert cast(Any, provide(_Greeter)).dependency.__name__ == "provide__Greeter"


def test_provide_fails_loudly_for_a_kind_that_is_not_wired() -> None:
    with (
        TestClient(_app(_Container(_Greeter()))) as client,
        pytest.raises(LookupError, match="_Missing"),
    ):
        client.get("/missing")
