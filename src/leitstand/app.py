"""The FastAPI application: API, web UI, health, readiness and metrics on one composition root."""

from __future__ import annotations

import gc
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import (
    CollectorRegistry,
    Gauge,
    GCCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from leitstand import __version__, domains, migrations
from leitstand.auth.api import public, requires
from leitstand.auth.model import ALL_ROLES, Actor
from leitstand.backups.metrics import register_backup_metrics
from leitstand.bootstrap import Container
from leitstand.deps import container_of, provide
from leitstand.errors import AuthenticationError, LeitstandError
from leitstand.observability import HttpMetrics, RequestContextMiddleware
from leitstand.policy.model import Policy
from leitstand.scheduler import store as jobs_store
from leitstand.telemetry.provider import tracer_provider
from leitstand.web.docs import install_docs
from leitstand.web.error_pages import error_page, wants_page
from leitstand.web.limits import RequestLimitsMiddleware
from leitstand.web.openapi_errors import document_errors
from leitstand.web.render import LoginRequired
from leitstand.web.security import WebSecurityMiddleware

__all__ = ["create_app"]

log = structlog.get_logger(__name__)
_STATIC = Path(__file__).parent / "web" / "static"


def create_app(container: Container, *, run_scheduler: bool = False) -> FastAPI:
    """Build the app around a container; ``run_scheduler`` fires timers in a background thread."""

    # OpenTelemetry (the policy's `telemetry`): None when traces are off.
    tracing = tracer_provider(container.policy.telemetry, service_version=__version__)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        worker: threading.Thread | None = None
        if run_scheduler:
            worker = threading.Thread(
                target=container.scheduler.run_forever,
                args=(stop,),
                kwargs={
                    "poll_seconds": container.settings.scheduler_poll_seconds,
                    "batch": container.settings.scheduler_batch,
                },
                name="leitstand-scheduler",
                daemon=True,
            )
            worker.start()
        try:
            yield
        finally:
            stop.set()
            if worker is not None:
                worker.join(timeout=30)
            if tracing is not None:
                tracing.shutdown()  # sends the spans still queued

    app = FastAPI(
        title="leitstand",
        version=__version__,
        description="Operations control plane: policy, evidence ledger, gates, releases, "
        "alerting, incidents and backups. Every route declares the roles it admits.",
        lifespan=lifespan,
        docs_url=None,  # served by install_docs from leitstand's own copy of Swagger UI
        redoc_url=None,
    )
    app.state.container = container
    app.state.tracer_provider = tracing
    registry = CollectorRegistry()
    _register_gauges(registry, container)
    register_backup_metrics(registry, container)
    app.add_middleware(RequestLimitsMiddleware, limits=container.policy.api.limits)
    app.add_middleware(
        RequestContextMiddleware,
        metrics=HttpMetrics(registry),
        tracer=tracing.get_tracer("leitstand", __version__) if tracing is not None else None,
    )
    app.add_middleware(WebSecurityMiddleware)
    _add_error_handlers(app)
    install_docs(app)
    app.include_router(_system_router(registry))
    app.include_router(_policy_router())
    # Every domain's API and pages, in the registry's order (leitstand.domains).
    for domain in domains.DOMAINS:
        for target in domain.routers:
            app.include_router(domains.load(target))
    app.mount("/static", StaticFiles(directory=_STATIC), name="static")
    document_errors(app)
    return app


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LeitstandError)
    async def _leitstand_error(request: Request, exc: LeitstandError) -> Response:
        body: dict[str, Any] = {"error": exc.message}
        issues = getattr(exc, "issues", None)
        if issues:
            body["issues"] = [
                {"path": i.path, "message": i.message, "line": i.line} for i in issues
            ]
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, AuthenticationError) else None
        if wants_page(request):  # a browser on a page: an error page in the UI's language
            return error_page(
                request, exc.http_status, exc.message, body.get("issues", ()), headers
            )
        return JSONResponse(body, status_code=exc.http_status, headers=headers)

    @app.exception_handler(LoginRequired)
    async def _login(_request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(f"/login?next={exc.next_path}", status_code=303)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> Response:
        issues = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            got = err.get("input")
            message = str(err.get("msg", "invalid"))
            if got is not None and not isinstance(got, dict | list):
                message += f" (got {got!r})"
            issues.append({"path": loc, "message": message, "line": None})
        summary = "; ".join(f"{i['path']}: {i['message']}" for i in issues)
        if wants_page(_request):
            return error_page(_request, 422, summary, issues)
        return JSONResponse({"error": summary, "issues": issues}, status_code=422)


def _system_router(registry: CollectorRegistry) -> APIRouter:
    router = APIRouter(tags=["system"])

    @router.get("/healthz", dependencies=[public()])
    def healthz() -> dict[str, str]:
        """Liveness: the process serves requests."""
        return {"status": "ok", "version": __version__}

    @router.get("/readyz", dependencies=[public()])
    def readyz(request: Request) -> Response:
        """Readiness: the database answers and its schema is current."""
        container = container_of(request)
        checks: dict[str, str] = {}
        try:
            container.db.check()
            checks["database"] = "ok"
            current, heads = migrations.current_heads(container.db), migrations.heads(container.db)
            checks["schema"] = (
                "ok"
                if current == heads
                else f"at {sorted(current)}, need {sorted(heads)}: run `leitstand db upgrade`"
            )
        except LeitstandError as exc:
            checks["database"] = exc.message
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    @router.get("/metrics", dependencies=[public()], response_class=PlainTextResponse)
    def metrics() -> Response:
        """Prometheus metrics of this leitstand process."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router


def _register_gauges(registry: CollectorRegistry, container: Container) -> None:
    # The usual process figures (CPU, memory, open files) and the collector's activity.
    ProcessCollector(registry=registry)
    GCCollector(registry=registry)
    frozen = Gauge(
        "leitstand_gc_frozen_objects",
        "Objects of the start-up heap taken out of garbage collection (`leitstand up`).",
        registry=registry,
    )
    frozen.set_function(lambda: float(gc.get_freeze_count()))
    ledger_size = Gauge(
        "leitstand_ledger_entries", "Entries in the evidence ledger.", registry=registry
    )
    pending = Gauge(
        "leitstand_scheduler_pending_jobs",
        "Timers waiting to fire (due or not).",
        registry=registry,
    )
    overdue = Gauge(
        "leitstand_scheduler_overdue_jobs",
        "Timers whose due time has passed but which have not fired.",
        registry=registry,
    )

    def _size() -> float:
        with container.db.reader() as session:
            return float(container.ledger.head(session).size)

    def _pending() -> float:
        with container.db.reader() as session:
            return float(jobs_store.count_pending(session))

    def _overdue() -> float:
        now = container.clock.now()
        with container.db.reader() as session:
            return float(jobs_store.count_overdue(session, now))

    ledger_size.set_function(_size)
    pending.set_function(_pending)
    overdue.set_function(_overdue)


def _policy_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["policy"])

    @router.get("/policy")
    def policy(
        effective: Annotated[Policy, provide(Policy)], _: Annotated[Actor, requires(*ALL_ROLES)]
    ) -> Policy:
        """The effective policy (defaults merged with leitstand.yaml), as stable JSON."""
        return effective

    return router
