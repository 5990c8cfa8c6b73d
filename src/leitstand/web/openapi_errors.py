"""Document every operation's error answers in the OpenAPI, from what the route declares.

Errors are one JSON shape everywhere (``ErrorOut``: ``error`` and ``issues``). Rather than each
route listing its error codes by hand, ``document_errors`` derives them once, after the routers are
included: 401/403 from the role guard (303 to the sign-in page for web pages), 404 for a route
with path parameters, 409/413/422 for a request with a body, 422 for parameters; the 422 schema
is ErrorOut, not FastAPI's ``detail`` list, because leitstand answers with ErrorOut.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from leitstand.auth.api import RoleGuard
from leitstand.web.limits import api_routes, guard_of
from leitstand.web.render import UiGuard

__all__ = ["ErrorOut", "IssueOut", "document_errors", "error_codes"]

_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
_DESCRIPTIONS = {
    400: "The request cannot be carried out as given",
    401: "No valid credentials (Authorization: Bearer <token>, or the sign-in cookie)",
    403: "The caller's role is not admitted, or the request was refused as cross-site",
    404: "No such object",
    409: "The request conflicts with the current state",
    413: "The request body is larger than api.limits.body_bytes allows",
    422: "Invalid input: each issue names its field",
    503: "The database is not reachable",
}


class IssueOut(BaseModel):
    path: str = Field(description="Dotted path of the field, '' for the request as a whole")
    message: str
    line: int | None = None


class ErrorOut(BaseModel):
    """Every error answer of the API."""

    error: str = Field(description="What is wrong, in one line per issue")
    issues: list[IssueOut] = Field(default_factory=list)
    request_id: str | None = Field(default=None, description="Only on 500: the log's request id")


def error_codes(route: APIRoute) -> list[int]:
    """The error status codes a route can answer with, from its guard, parameters and body."""
    codes = {400, 503}
    guard = guard_of(route.dependant)
    if isinstance(guard, UiGuard):
        codes |= {303, 403}
    elif isinstance(guard, RoleGuard):
        codes |= {401, 403}
    if route.dependant.path_params:
        codes |= {404, 422}
    if route.dependant.query_params or route.dependant.header_params:
        codes.add(422)
    if route.dependant.body_params or (route.methods or set()) & _UNSAFE:
        codes |= {404, 409, 413, 422}
    return sorted(codes)


def document_errors(app: FastAPI) -> None:
    """Make ``app.openapi()`` list every operation's error answers (call after include_router)."""
    codes = {
        (route.path, method.lower()): error_codes(route)
        for route in api_routes(app)
        if route.include_in_schema
        for method in route.methods or ()
    }
    previous: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        schema = previous()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (IssueOut, ErrorOut):
            defs = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, sub in defs.pop("$defs", {}).items():
                components.setdefault(name, sub)
            components.setdefault(model.__name__, defs)
        error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                responses = operation.setdefault("responses", {})
                for code in codes.get((path, method), []):
                    if code == 303:
                        responses.setdefault("303", {"description": "Sign in first"})
                    elif code == 422 or str(code) not in responses:
                        responses[str(code)] = {
                            "description": _DESCRIPTIONS[code],
                            "content": error,
                        }
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
