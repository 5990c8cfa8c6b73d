"""Web pages: each service's serving version and weights, releases in flight, history, tasks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from leitstand.api_types import PathId
from leitstand.auth.model import Actor
from leitstand.errors import LeitstandError
from leitstand.releases.api import DECIDE, READ, Releases
from leitstand.releases.model import ReleaseInfo, TargetInfo
from leitstand.releases.schemas import HandoverOut
from leitstand.releases.service import ReleaseService
from leitstand.web.i18n import act_or_redisplay, register_nav, register_texts
from leitstand.web.render import page, render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
Reader = Annotated[Actor, page(*READ)]
Decider = Annotated[Actor, page(*DECIDE)]

register_nav("/releases", de="Releases", en="Releases", order=30)
register_texts(
    {
        "rel_title": {"de": "Releases", "en": "Releases"},
        "rel_services": {"de": "Dienste und Traffic", "en": "Services and traffic"},
        "rel_env": {"de": "Umgebung", "en": "Environment"},
        "rel_active": {"de": "Aktive Version", "en": "Active version"},
        "rel_weights": {"de": "Gewichte", "en": "Weights"},
        "rel_previous": {"de": "Vorherige Version", "en": "Previous version"},
        "rel_warm": {"de": "bereit für Sofort-Rollback", "en": "warm for instant rollback"},
        "rel_in_flight": {"de": "Laufendes Release", "en": "Release in flight"},
        "rel_history": {"de": "Release-Historie", "en": "Release history"},
        "rel_version": {"de": "Version", "en": "Version"},
        "rel_strategy": {"de": "Strategie", "en": "Strategy"},
        "rel_phase": {"de": "Phase", "en": "Phase"},
        "rel_started": {"de": "Gestartet", "en": "Started"},
        "rel_by": {"de": "von", "en": "by"},
        "rel_none": {"de": "Noch keine Releases.", "en": "No releases yet."},
        "rel_retired": {"de": "außer Betrieb", "en": "retired"},
        "rel_approve": {"de": "Freigeben", "en": "Approve"},
        "rel_promote": {"de": "Fortsetzen", "en": "Promote"},
        "rel_abort": {"de": "Abbrechen / Rollback", "en": "Abort / roll back"},
        "rel_rollback": {"de": "Rollback", "en": "Roll back"},
        "rel_reason": {"de": "Begründung", "en": "Reason"},
        "rel_tasks": {"de": "Root-Cause-Analysen", "en": "Root-cause analyses"},
        "rel_due": {"de": "fällig", "en": "due"},
        "rel_overdue": {"de": "überfällig", "en": "overdue"},
        "rel_analyses": {"de": "Canary-Analysen", "en": "Canary analyses"},
        "rel_verdict": {"de": "Ergebnis", "en": "Verdict"},
        "rel_timeline": {"de": "Verlauf (Nachweis-Ledger)", "en": "Timeline (evidence ledger)"},
        "rel_change": {"de": "Änderung", "en": "Change"},
        "rel_canary": {"de": "Canary", "en": "Canary"},
        "rel_stable": {"de": "Stabil", "en": "Stable"},
        "rel_never": {"de": "noch nie ausgerollt", "en": "never released"},
        "rel_rollback_time": {"de": "Rollback-Dauer", "en": "Rollback took"},
        "rel_rollback_limit": {"de": "erlaubt", "en": "allowed"},
        "rel_snapshot": {"de": "Datenbank-Snapshot", "en": "Database snapshot"},
        "rel_handover": {"de": "Übergabe-Checkliste", "en": "Handover checklist"},
        "rel_item": {"de": "Punkt", "en": "Item"},
        "rel_evidence": {"de": "Nachweis", "en": "Evidence"},
        "rel_action_item": {"de": "Maßnahme", "en": "Action item"},
        "rel_failing": {"de": "offen", "en": "failing"},
    }
)


def _target(t: TargetInfo) -> dict[str, Any]:
    return {
        "service": t.service,
        "env": t.env,
        "active_version": t.active_version,
        "previous_version": t.previous_version,
        "previous_warm": t.previous_warm,
        "release_id": t.release_id,
        "slots": [
            {
                "name": slot,
                "weight": t.routing.weight(slot),
                "retired": slot in t.routing.retired,
                "version": t.slots.get(slot),
            }
            for slot in sorted(t.routing.weights)
        ],
    }


def _history_row(info: ReleaseInfo) -> dict[str, Any]:
    return {**info.model_dump(), "started": info.created_at}


def _may_decide(actor: Actor) -> bool:
    return actor.role in {r.value for r in DECIDE}


def _index(
    request: Request,
    releases: ReleaseService,
    actor: Actor,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    history = releases.history(limit=50)
    in_flight = {r.id: r for r in releases.in_flight()}
    return render(
        request,
        "releases/index.html",
        {
            "actor": actor,
            "targets": [_target(t) for t in releases.targets()],
            "in_flight": in_flight,
            "history": [_history_row(r) for r in history],
            "tasks": releases.task_list(status="open"),
            "may_decide": _may_decide(actor),
            "error": error,
        },
        status=status,
    )


@router.get("/releases", response_class=HTMLResponse)
def releases_page(request: Request, releases: Releases, actor: Reader) -> Response:
    return _index(request, releases, actor)


@router.get("/releases/{release_id}", response_class=HTMLResponse)
def release_page(
    release_id: PathId,
    request: Request,
    releases: Releases,
    actor: Reader,
) -> Response:
    detail = releases.detail(release_id)
    max_rollback = releases.policy.deployment.blue_green.max_rollback_time
    return render(
        request,
        "releases/detail.html",
        {
            "actor": actor,
            "release": detail,
            "analyses": detail.analyses,
            "timeline": detail.timeline,
            "may_decide": _may_decide(actor),
            "handover": _handover(releases, release_id),
            "max_rollback_seconds": max_rollback.total_seconds(),
        },
    )


def _handover(releases: ReleaseService, release_id: int) -> HandoverOut | None:
    try:
        return releases.handover_report(release_id=release_id, check_if_missing=False)
    except LeitstandError:
        return None  # not a completed production release, or not checked yet


def _act(
    request: Request,
    releases: ReleaseService,
    actor: Actor,
    call: Callable[[ReleaseService], object],
) -> Response:
    return act_or_redisplay(
        lambda: call(releases),
        "/releases",
        lambda exc: _index(request, releases, actor, error=exc.message, status=exc.http_status),
    )


@router.post("/releases/{release_id}/approve")
def approve(
    release_id: PathId,
    request: Request,
    releases: Releases,
    actor: Decider,
) -> Response:
    return _act(request, releases, actor, lambda s: s.approve(release_id=release_id, actor=actor))


@router.post("/releases/{release_id}/promote")
def promote(
    release_id: PathId,
    request: Request,
    releases: Releases,
    actor: Decider,
) -> Response:
    return _act(request, releases, actor, lambda s: s.promote(release_id=release_id, actor=actor))


@router.post("/releases/{release_id}/abort")
def abort(
    release_id: PathId,
    request: Request,
    releases: Releases,
    actor: Decider,
    reason: Annotated[str, Form()] = "",
) -> Response:
    return _act(
        request,
        releases,
        actor,
        lambda s: s.abort(release_id=release_id, actor=actor, reason=reason),
    )


@router.post("/releases/rollback")
def rollback(
    request: Request,
    releases: Releases,
    actor: Decider,
    service: Annotated[str, Form()] = "",
    env: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    return _act(
        request,
        releases,
        actor,
        lambda s: s.rollback(service=service, env=env, actor=actor, reason=reason),
    )
