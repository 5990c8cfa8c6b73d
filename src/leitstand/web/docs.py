"""The interactive API docs (Swagger UI) at ``/docs``, served entirely by leitstand.

The Swagger UI files come from the ``swagger-ui-bundle-v2`` package and are served under
``/static/swagger-ui``: the page works offline and loads nothing from a CDN. Its one inline
script (the initialiser) runs under a per-response nonce, so the Content-Security-Policy still
allows no other inline script.
"""

from __future__ import annotations

import importlib.resources
import secrets
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from leitstand.web.security import content_security_policy

__all__ = ["ASSETS", "install_docs"]

ASSETS = "/static/swagger-ui"


def _swagger_dist() -> Path:
    # swagger-ui-bundle-v2 ships the dist as package data: vendor/swagger-ui-<version>/.
    vendor = Path(str(importlib.resources.files("swagger_ui_bundle"))) / "vendor"
    found = sorted(vendor.glob("swagger-ui-*/swagger-ui-bundle.js"))
    if not found:
        raise RuntimeError(f"no Swagger UI under {vendor}: reinstall swagger-ui-bundle-v2")
    return found[-1].parent


def install_docs(app: FastAPI, *, path: str = "/docs") -> None:
    """Serve Swagger UI at ``path`` (create the app with ``docs_url=None``).

    Call before mounting ``/static``: the assets' mount must come first to be matched.
    """
    app.mount(ASSETS, StaticFiles(directory=_swagger_dist()), name="swagger-ui")
    title = f"{app.title} API"

    async def docs(_request: Request) -> Response:
        nonce = secrets.token_urlsafe(16)
        page = get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=title,
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
            swagger_ui_parameters={"persistAuthorization": False},
        )
        html = bytes(page.body).decode("utf-8").replace("<script>", f'<script nonce="{nonce}">')
        # Only the initialiser is allowed inline; Swagger UI itself needs no inline style
        # (checked in Chromium: no CSP report with style-src 'self').
        policy = content_security_policy(script=f"'self' 'nonce-{nonce}'")
        return HTMLResponse(
            html, headers={"Content-Security-Policy": policy, "Cache-Control": "no-store"}
        )

    app.add_route(path, docs, include_in_schema=False)
