"""Which unsafe requests count as cross-site (the middleware refuses those with 403)."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from leitstand.web.security import WebSecurityMiddleware


async def _changed(_request: Request) -> PlainTextResponse:
    return PlainTextResponse("changed")


@pytest.fixture
def client() -> TestClient:
    app = Starlette(routes=[Route("/x", _changed, methods=["GET", "POST", "DELETE"])])
    app.add_middleware(WebSecurityMiddleware)
    return TestClient(app, base_url="http://leitstand.local:8080")


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 200),  # no Origin (curl, old clients): the CSRF token decides
        ({"Origin": "http://leitstand.local:8080"}, 200),
        ({"Origin": "http://leitstand.local:8080", "Sec-Fetch-Site": "same-origin"}, 200),
        ({"Origin": "https://ops.example", "X-Forwarded-Host": "ops.example"}, 200),
        ({"Origin": "https://evil.example"}, 403),
        ({"Origin": "http://leitstand.local:9999"}, 403),
        ({"Origin": "null"}, 403),
        ({"Sec-Fetch-Site": "cross-site"}, 403),
        ({"Origin": "https://evil.example", "Authorization": "Bearer lst_x"}, 200),
    ],
)
def test_unsafe_requests_from_another_site_are_refused(
    client: TestClient, headers: dict[str, str], status: int
) -> None:
    answer = client.post("/x", headers=headers)
    assert answer.status_code == status, answer.text
    assert answer.headers["x-frame-options"] == "DENY"  # refusals carry the headers too
    assert client.delete("/x", headers=headers).status_code == status


def test_safe_requests_are_never_refused(client: TestClient) -> None:
    answer = client.get(
        "/x", headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
    )
    assert answer.status_code == 200 and answer.text == "changed"
