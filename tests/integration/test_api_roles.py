"""Every route declares its roles: walk the whole route table for 401 and 403."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from leitstand.auth.api import PublicMarker, RoleGuard
from leitstand.auth.model import Role
from leitstand.web.render import UiGuard

PUBLIC_PATHS = {"/healthz", "/readyz", "/metrics", "/login", "/logout"}


def _guards(dependant: Dependant) -> list[Any]:
    found = []
    for dep in dependant.dependencies:
        if isinstance(dep.call, RoleGuard | PublicMarker):
            found.append(dep.call)
        found.extend(_guards(dep))
    return found


def _routes(app: FastAPI) -> list[APIRoute]:
    found: list[APIRoute] = []

    def walk(routes: list[Any]) -> None:
        for route in routes:
            if isinstance(route, APIRoute):
                found.append(route)
            elif hasattr(route, "original_router"):  # FastAPI >= 0.160 wraps included routers
                walk(list(route.original_router.routes))

    walk(list(app.routes))
    assert found, "no routes found: has FastAPI changed how routers are included?"
    return found


def _url(route: APIRoute) -> str:
    return re.sub(r"\{[^}]+\}", "1", route.path)


def test_every_route_declares_its_roles_or_is_deliberately_public(app: FastAPI) -> None:
    for route in _routes(app):
        guards = _guards(route.dependant)
        assert len(guards) == 1, f"{route.path} {route.methods}: needs exactly one declaration"
        if isinstance(guards[0], PublicMarker):
            assert route.path in PUBLIC_PATHS, f"{route.path} is public but not meant to be"


def test_every_guarded_route_answers_401_without_a_token_and_403_for_a_wrong_role(
    app: FastAPI, client: TestClient, headers: dict[Role, dict[str, str]]
) -> None:
    checked = 0
    for route in _routes(app):
        guard = _guards(route.dependant)[0]
        if not isinstance(guard, RoleGuard):
            continue
        for method in sorted(route.methods):
            url = _url(route)
            anonymous = client.request(method, url, json={}, follow_redirects=False)
            if isinstance(guard, UiGuard):
                assert anonymous.status_code == 303, (method, url)
                assert anonymous.headers["location"].startswith("/login")
            else:
                assert anonymous.status_code == 401, (method, url, anonymous.text)
                assert anonymous.headers["www-authenticate"] == "Bearer"
            bad = client.request(
                method,
                url,
                json={},
                headers={"Authorization": "Bearer lst_not-a-real-token"},
                follow_redirects=False,
            )
            assert bad.status_code in (401, 303), (method, url)
            outsiders = [role for role in Role if role not in guard.roles]
            for role in outsiders:
                denied = client.request(
                    method, url, json={}, headers=headers[role], follow_redirects=False
                )
                assert denied.status_code == 403, (method, url, role, denied.text)
            checked += 1
    assert checked >= 10


def test_the_auditor_role_is_read_only(app: FastAPI) -> None:
    for route in _routes(app):
        guard = _guards(route.dependant)[0]
        if isinstance(guard, RoleGuard) and Role.AUDITOR in guard.roles:
            writes = route.methods & {"PUT", "PATCH", "DELETE"}
            assert not writes, f"auditor may {writes} {route.path}"
            if "POST" in route.methods:
                # Verifying (and recording that one verified) is the only write an auditor does.
                assert route.path in {"/api/v1/audit/verify", "/ui/verify"}, route.path
