"""Every release API operation answers with a typed read model (no untyped dicts)."""

from __future__ import annotations

import typing

from fastapi.routing import APIRoute
from pydantic import BaseModel

from leitstand.releases.api import router


def _model_of(annotation: object) -> object:
    if typing.get_origin(annotation) is list:
        (annotation,) = typing.get_args(annotation)
    return annotation


def test_every_release_operation_declares_a_pydantic_response_model() -> None:
    routes = [r for r in router.routes if isinstance(r, APIRoute)]
    assert len(routes) == 12
    for route in routes:
        model = _model_of(route.response_model)
        assert isinstance(model, type) and issubclass(model, BaseModel), route.path
        assert model.__name__.endswith("Out"), (route.path, model)


def test_operation_ids_are_unique() -> None:
    names = [r.name for r in router.routes if isinstance(r, APIRoute)]
    assert len(names) == len(set(names))
