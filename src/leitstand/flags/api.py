"""Feature flag API: manage flags, serve snapshots (ETag), evaluate over HTTP."""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

from fastapi import APIRouter, Header, Query
from fastapi.responses import Response

from leitstand.auth.api import requires
from leitstand.auth.model import ALL_ROLES, Actor
from leitstand.changes.service import ChangeService
from leitstand.deps import provide
from leitstand.flags.model import FlagRecord, ValueType
from leitstand.flags.rules import WRITERS
from leitstand.flags.schemas import (
    ArchiveIn,
    EvaluateIn,
    EvaluateOut,
    EvaluationOut,
    FlagCreate,
    FlagOut,
    FlagRequest,
    FlagUpdate,
    KillIn,
    RolloutIn,
    SnapshotSchema,
    StaleFlagOut,
    StaleOut,
    TargetingIn,
    TenantsIn,
    ToggleIn,
)
from leitstand.flags.service import FlagService
from leitstand.ledger.schemas import EntryOut

__all__ = ["WRITERS", "flag_out", "router"]

router = APIRouter(prefix="/api/v1/flags", tags=["flags"])
#: Applications evaluate with a token of any role but the read-only auditor.
EVALUATORS = WRITERS


Flags = Annotated[FlagService, provide(FlagService)]
Changes = Annotated[ChangeService, provide(ChangeService)]
Reader = Annotated[Actor, requires(*ALL_ROLES)]
Writer = Annotated[Actor, requires(*WRITERS)]


class _By(TypedDict):
    """Who makes a switch, why, and for which change record."""

    actor: Actor
    reason: str | None
    change_id: int | None


def _by(
    actor: Actor,
    changes: ChangeService,
    body: TargetingIn | ToggleIn | KillIn | TenantsIn | RolloutIn,
) -> _By:
    """The actor, reason and change record of a switch (404 if there is no such change)."""
    if body.change_id is not None:
        changes.get(body.change_id)
    return _By(actor=actor, reason=body.reason, change_id=body.change_id)


def flag_out(service: FlagService, flag: FlagRecord) -> FlagOut:
    """A flag for the API, with each tenant's state per environment."""
    return FlagOut.of(flag, environments=service.environments, tenants=service.tenants)


@router.get("", response_model=list[FlagOut])
def list_flags(
    service: Flags,
    _: Reader,
    include_archived: bool = True,
) -> list[FlagOut]:
    """Every flag with its targeting and tenant states per environment."""
    return [flag_out(service, f) for f in service.list_flags(include_archived=include_archived)]


@router.post("", response_model=FlagOut, status_code=201)
def create_flag(body: FlagCreate, service: Flags, actor: Writer) -> FlagOut:
    """Create a flag (off everywhere unless ``environments`` says more)."""
    flag = service.create(
        key=body.key,
        kind=body.type,
        actor=actor,
        value_type=body.value_type,
        variants=body.variants,
        off_variant=body.off_variant,
        description=body.description,
        owner=body.owner,
        environments={env: t.to_model() for env, t in body.environments.items()},
        reason=body.reason,
    )
    return flag_out(service, flag)


@router.get("/stale", response_model=StaleOut)
def stale_flags(service: Flags, _: Reader) -> StaleOut:
    """Stale flags and what the quality gate makes of them (policy ``stale_gate``)."""
    stale = service.stale()
    return StaleOut(
        stale=[StaleFlagOut.of(s) for s in stale],
        gate=service.policy.deployment.feature_flags.stale_gate.value,
        fails=service.stale_gate_fails(stale),
    )


@router.get(
    "/snapshot",
    response_class=Response,
    responses={
        200: {"model": SnapshotSchema, "description": "The environment's flags (with an ETag)"},
        304: {"description": "Not modified: the ETag of ``If-None-Match`` is current"},
    },
)
def snapshot(
    service: Flags,
    _: Reader,
    environment: str = Query(min_length=1, max_length=64),
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """The flags of one environment for in-process evaluation; ``If-None-Match`` gives 304."""
    served = service.snapshot(environment)
    headers = {"ETag": served.etag, "Cache-Control": "no-cache"}
    if if_none_match is not None and served.etag in {t.strip() for t in if_none_match.split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(served.document, media_type="application/json", headers=headers)


@router.post("/evaluate", response_model=EvaluateOut)
def evaluate(
    body: EvaluateIn, service: Flags, _: Annotated[Actor, requires(*EVALUATORS)]
) -> EvaluateOut:
    """Evaluate flags for one context; errors are OpenFeature codes with the caller's default."""
    requests: list[tuple[str, ValueType | None]] | None = None
    defaults: list[Any] = []
    if body.flags is not None:
        requests = []
        for item in body.flags:
            wanted = item if isinstance(item, FlagRequest) else FlagRequest(key=item)
            requests.append((wanted.key, wanted.type))
            defaults.append(wanted.default)
    served, results = service.evaluate(
        environment=body.environment, context=body.context, flags=requests
    )
    defaults += [None] * (len(results) - len(defaults))
    return EvaluateOut(
        environment=body.environment,
        etag=served.etag,
        results=[
            EvaluationOut.of(key, r, default)
            for (key, r), default in zip(results, defaults, strict=True)
        ],
    )


@router.get("/{key}", response_model=FlagOut)
def get_flag(key: str, service: Flags, _: Reader) -> FlagOut:
    """One flag."""
    return flag_out(service, service.get(key))


@router.patch("/{key}", response_model=FlagOut)
def update_flag(key: str, body: FlagUpdate, service: Flags, actor: Writer) -> FlagOut:
    """Change type, description, owner or variants."""
    flag = service.update(
        key,
        actor=actor,
        kind=body.type,
        description=body.description,
        owner=body.owner,
        variants=body.variants,
        off_variant=body.off_variant,
        reason=body.reason,
        expected_version=body.expected_version,
    )
    return flag_out(service, flag)


@router.put("/{key}/environments/{environment}", response_model=FlagOut)
def set_targeting(
    key: str,
    environment: str,
    body: TargetingIn,
    service: Flags,
    changes: Changes,
    actor: Writer,
) -> FlagOut:
    """Replace one environment's targeting (rules, exclusions, fallthrough, switches)."""
    flag = service.set_targeting(
        key,
        environment,
        body.targeting.to_model(),
        expected_version=body.expected_version,
        **_by(actor, changes, body),
    )
    return flag_out(service, flag)


@router.post("/{key}/toggle", response_model=FlagOut)
def toggle(key: str, body: ToggleIn, service: Flags, changes: Changes, actor: Writer) -> FlagOut:
    """Switch targeting on or off in one environment (production needs a reason)."""
    flag = service.toggle(key, body.environment, enabled=body.enabled, **_by(actor, changes, body))
    return flag_out(service, flag)


@router.post("/{key}/kill", response_model=FlagOut)
def kill(key: str, body: KillIn, service: Flags, changes: Changes, actor: Writer) -> FlagOut:
    """Pull (``killed: true``) or release the kill switch in one environment."""
    flag = service.kill(key, body.environment, killed=body.killed, **_by(actor, changes, body))
    return flag_out(service, flag)


@router.post("/{key}/tenants", response_model=FlagOut)
def tenants(key: str, body: TenantsIn, service: Flags, changes: Changes, actor: Writer) -> FlagOut:
    """Switch the flag on for tenants, off again, or exclude them."""
    flag = service.set_tenants(
        key,
        body.environment,
        add=body.add,
        remove=body.remove,
        exclude=body.exclude,
        include=body.include,
        variant=body.variant,
        **_by(actor, changes, body),
    )
    return flag_out(service, flag)


@router.post("/{key}/rollout", response_model=FlagOut)
def rollout(key: str, body: RolloutIn, service: Flags, changes: Changes, actor: Writer) -> FlagOut:
    """Serve a variant to a sticky percentage (raising it only adds subjects)."""
    flag = service.rollout(
        key,
        body.environment,
        percentage=body.percentage,
        variant=body.variant,
        stickiness=body.stickiness,
        **_by(actor, changes, body),
    )
    return flag_out(service, flag)


@router.post("/{key}/archive", response_model=FlagOut)
def archive(key: str, body: ArchiveIn, service: Flags, actor: Writer) -> FlagOut:
    """Archive a flag that left the code; evaluations then return the caller's default."""
    return flag_out(service, service.archive(key, actor=actor, reason=body.reason))


@router.post("/{key}/restore", response_model=FlagOut)
def restore(key: str, body: ArchiveIn, service: Flags, actor: Writer) -> FlagOut:
    """Bring an archived flag back."""
    return flag_out(service, service.restore(key, actor=actor, reason=body.reason))


@router.get("/{key}/history", response_model=list[EntryOut])
def history(
    key: str,
    service: Flags,
    _: Reader,
    limit: int = Query(default=100, ge=1, le=10_000),
) -> list[EntryOut]:
    """The flag's evidence entries (subject ``flag:<key>``), newest first."""
    return [EntryOut.of(e) for e in service.history(key, limit=limit)]
