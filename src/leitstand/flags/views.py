"""Web pages: flags with their state per environment and tenant, toggles, kill switch, history."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from leitstand.auth.model import ALL_ROLES, Actor
from leitstand.deps import provide
from leitstand.errors import LeitstandError
from leitstand.flags.evaluation import tenant_state
from leitstand.flags.model import FlagRecord
from leitstand.flags.rules import WRITERS
from leitstand.flags.service import FlagService
from leitstand.web.i18n import act_or_redisplay, register_nav, register_texts
from leitstand.web.render import page, render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
Flags = Annotated[FlagService, provide(FlagService)]

register_nav("/flags", de="Feature-Flags", en="Feature flags", order=40)
register_texts(
    {
        "flags_title": ("Feature-Flags", "Feature flags"),
        "flags_none": ("Noch keine Feature-Flags.", "No feature flags yet."),
        "flags_key": ("Schlüssel", "Key"),
        "flags_type": ("Typ", "Type"),
        "flags_owner": ("Verantwortlich", "Owner"),
        "flags_on": ("an", "on"),
        "flags_off": ("aus", "off"),
        "flags_killed": ("Notabschaltung", "killed"),
        "flags_switch_on": ("Einschalten", "Switch on"),
        "flags_switch_off": ("Ausschalten", "Switch off"),
        "flags_kill": ("Notabschaltung", "Kill switch"),
        "flags_release": ("Notabschaltung aufheben", "Release kill switch"),
        "flags_reason": ("Begründung", "Reason"),
        "flags_reason_hint": (
            "Pflicht für Änderungen in Produktion",
            "Required for changes in production",
        ),
        "flags_stale": ("veraltet", "stale"),
        "flags_stale_title": ("Veraltete Flags", "Stale flags"),
        "flags_archived": ("archiviert", "archived"),
        "flags_history": ("Verlauf (Nachweis-Ledger)", "History (evidence ledger)"),
        "flags_rules": ("Regeln", "Rules"),
        "flags_activate": ("Aktivieren", "Activate"),
        "flags_deactivate": ("Deaktivieren", "Deactivate"),
        "flags_state": ("Zustand", "State"),
        "flags_environment": ("Umgebung", "Environment"),
        "flags_fallthrough": ("Sonst", "Otherwise"),
        "flags_read_only": (
            "Ihre Rolle darf hier nichts ändern.",
            "Your role may not change anything here.",
        ),
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


def _act(
    request: Request,
    service: FlagService,
    key: str,
    back: str,
    actor: Actor,
    act: Callable[[], object],
) -> Response:
    """Do ``act``, then back to the page the form was on (``back``), with the error if refused."""

    def redisplay(exc: LeitstandError) -> Response:
        if back == "detail":
            return _detail(request, service, key, actor, error=exc.message, status=exc.http_status)
        return _list(request, service, actor, error=f"{key}: {exc.message}", status=exc.http_status)

    return act_or_redisplay(act, f"/flags/{key}" if back == "detail" else "/flags", redisplay)


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
    return _act(
        request,
        service,
        key,
        back,
        actor,
        lambda: service.toggle(key, environment, enabled=enabled, actor=actor, reason=reason),
    )


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
    return _act(
        request,
        service,
        key,
        back,
        actor,
        lambda: service.kill(key, environment, killed=killed, actor=actor, reason=reason),
    )


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
    def act() -> FlagRecord:
        if active:
            return service.set_tenants(
                key, environment, actor=actor, add=[tenant], include=[tenant], reason=reason
            )
        # Off for this tenant whatever the other rules say: out of the list and excluded.
        return service.set_tenants(
            key, environment, actor=actor, remove=[tenant], exclude=[tenant], reason=reason
        )

    return _act(request, service, key, "detail", actor, act)
