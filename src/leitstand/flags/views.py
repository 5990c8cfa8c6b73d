"""Web pages: flags with their state per environment and tenant, toggles, kill switch, history."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from leitstand.auth.model import ALL_ROLES, Actor
from leitstand.deps import provide
from leitstand.errors import LeitstandError
from leitstand.flags.evaluation import tenant_state
from leitstand.flags.model import FlagRecord
from leitstand.flags.rules import WRITERS
from leitstand.flags.service import FlagService
from leitstand.web.i18n import register_nav, register_texts
from leitstand.web.render import page, render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
Flags = Annotated[FlagService, provide(FlagService)]

register_nav("/flags", de="Feature-Flags", en="Feature flags", order=40)
register_texts(
    {
        "flags_title": {"de": "Feature-Flags", "en": "Feature flags"},
        "flags_none": {"de": "Noch keine Feature-Flags.", "en": "No feature flags yet."},
        "flags_key": {"de": "Schlüssel", "en": "Key"},
        "flags_type": {"de": "Typ", "en": "Type"},
        "flags_owner": {"de": "Verantwortlich", "en": "Owner"},
        "flags_on": {"de": "an", "en": "on"},
        "flags_off": {"de": "aus", "en": "off"},
        "flags_killed": {"de": "Notabschaltung", "en": "killed"},
        "flags_switch_on": {"de": "Einschalten", "en": "Switch on"},
        "flags_switch_off": {"de": "Ausschalten", "en": "Switch off"},
        "flags_kill": {"de": "Notabschaltung", "en": "Kill switch"},
        "flags_release": {"de": "Notabschaltung aufheben", "en": "Release kill switch"},
        "flags_reason": {"de": "Begründung", "en": "Reason"},
        "flags_reason_hint": {
            "de": "Pflicht für Änderungen in Produktion",
            "en": "Required for changes in production",
        },
        "flags_stale": {"de": "veraltet", "en": "stale"},
        "flags_stale_title": {"de": "Veraltete Flags", "en": "Stale flags"},
        "flags_archived": {"de": "archiviert", "en": "archived"},
        "flags_history": {"de": "Verlauf (Nachweis-Ledger)", "en": "History (evidence ledger)"},
        "flags_rules": {"de": "Regeln", "en": "Rules"},
        "flags_activate": {"de": "Aktivieren", "en": "Activate"},
        "flags_deactivate": {"de": "Deaktivieren", "en": "Deactivate"},
        "flags_state": {"de": "Zustand", "en": "State"},
        "flags_environment": {"de": "Umgebung", "en": "Environment"},
        "flags_fallthrough": {"de": "Sonst", "en": "Otherwise"},
        "flags_read_only": {
            "de": "Ihre Rolle darf hier nichts ändern.",
            "en": "Your role may not change anything here.",
        },
    }
)


def _env_view(service: FlagService, flag: FlagRecord, env: str, actor: Actor) -> dict[str, Any]:
    targeting = flag.targeting(env)
    config = flag.config(env)
    return {
        "name": env,
        "production": service.is_production(env),
        "enabled": targeting.enabled,
        "killed": targeting.killed,
        "may_change": not flag.archived and service.may_change(actor, env),
        "tenants": {t: tenant_state(config, t) for t in service.tenants},
        "rules": [
            {
                "name": r.name,
                "tenants": list(r.tenants),
                "conditions": [
                    f"{c.attribute} {c.operator.value} {', '.join(map(str, c.values))}"
                    for c in r.conditions
                ],
                "serve": _serve(r.serve.variant, r.serve.split, r.serve.percentage),
            }
            for r in targeting.rules
        ],
        "excluded": list(targeting.exclude_tenants),
        "default": _serve(
            targeting.default.variant or flag.off_variant,
            targeting.default.split,
            targeting.default.percentage,
        ),
    }


def _serve(variant: str | None, split: tuple[tuple[str, int], ...], percentage: float) -> str:
    what = " / ".join(f"{n} {w}" for n, w in split) if split else str(variant)
    return what if percentage >= 100 else f"{percentage:g}% {what}"


def _list(
    request: Request,
    service: FlagService,
    actor: Actor,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    flags = service.list_flags()
    stale = {s.key: s for s in service.stale()}
    rows = [
        {
            "key": f.key,
            "type": f.kind,
            "description": f.description,
            "owner": f.owner or "",
            "archived": f.archived,
            "stale": stale[f.key].message if f.key in stale else None,
            "envs": [_env_view(service, f, env, actor) for env in service.environments],
        }
        for f in flags
    ]
    return render(
        request,
        "flags/list.html",
        {
            "actor": actor,
            "flags": rows,
            "environments": service.environments,
            "stale_count": len(stale),
            "error": error,
        },
        status=status,
    )


@router.get("/flags", response_class=HTMLResponse)
def flags_page(
    request: Request, service: Flags, actor: Annotated[Actor, page(*ALL_ROLES)]
) -> Response:
    return _list(request, service, actor)


def _detail(
    request: Request,
    service: FlagService,
    key: str,
    actor: Actor,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    flag = service.get(key)
    stale = {s.key: s for s in service.stale()}
    history = [
        {
            "time": e.time,
            "actor": e.actor,
            "action": e.action,
            "tenant": e.tenant or "",
            "reason": e.payload.get("reason") or "",
            "environments": ", ".join(e.payload.get("environments") or []),
        }
        for e in service.history(key, limit=50)
    ]
    return render(
        request,
        "flags/detail.html",
        {
            "actor": actor,
            "flag": flag,
            "stale": stale[key].message if key in stale else None,
            "variants": {k: repr(v) for k, v in flag.variants.items()},
            "envs": [_env_view(service, flag, env, actor) for env in service.environments],
            "tenants": [(t, service.policy.tenants[t].name) for t in service.tenants],
            "history": history,
            "error": error,
        },
        status=status,
    )


@router.get("/flags/{key}", response_class=HTMLResponse)
def flag_page(
    key: str, request: Request, service: Flags, actor: Annotated[Actor, page(*ALL_ROLES)]
) -> Response:
    return _detail(request, service, key, actor)


def _back(
    request: Request,
    service: FlagService,
    key: str,
    back: str,
    actor: Actor,
    exc: LeitstandError,
) -> Response:
    if back == "detail":
        return _detail(request, service, key, actor, error=exc.message, status=exc.http_status)
    return _list(request, service, actor, error=f"{key}: {exc.message}", status=exc.http_status)


def _redirect(key: str, back: str) -> Response:
    return RedirectResponse(f"/flags/{key}" if back == "detail" else "/flags", status_code=303)


@router.post("/flags/{key}/toggle")
def toggle(
    key: str,
    request: Request,
    service: Flags,
    actor: Annotated[Actor, page(*WRITERS)],
    environment: Annotated[str, Form()],
    enabled: Annotated[bool, Form()],
    reason: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "list",
) -> Response:
    try:
        service.toggle(key, environment, enabled=enabled, actor=actor, reason=reason)
    except LeitstandError as exc:
        return _back(request, service, key, back, actor, exc)
    return _redirect(key, back)


@router.post("/flags/{key}/kill")
def kill(
    key: str,
    request: Request,
    service: Flags,
    actor: Annotated[Actor, page(*WRITERS)],
    environment: Annotated[str, Form()],
    killed: Annotated[bool, Form()],
    reason: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "list",
) -> Response:
    try:
        service.kill(key, environment, killed=killed, actor=actor, reason=reason)
    except LeitstandError as exc:
        return _back(request, service, key, back, actor, exc)
    return _redirect(key, back)


@router.post("/flags/{key}/tenant")
def tenant(
    key: str,
    request: Request,
    service: Flags,
    actor: Annotated[Actor, page(*WRITERS)],
    environment: Annotated[str, Form()],
    tenant: Annotated[str, Form()],
    active: Annotated[bool, Form()],
    reason: Annotated[str, Form()] = "",
) -> Response:
    try:
        if active:
            service.set_tenants(
                key, environment, actor=actor, add=[tenant], include=[tenant], reason=reason
            )
        else:
            # Off for this tenant whatever the other rules say: out of the list and excluded.
            service.set_tenants(
                key, environment, actor=actor, remove=[tenant], exclude=[tenant], reason=reason
            )
    except LeitstandError as exc:
        return _back(request, service, key, "detail", actor, exc)
    return _redirect(key, "detail")
