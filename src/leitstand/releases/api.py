"""Release API: start, approve, promote, abort, roll back; what serves where; the history."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request

from leitstand.api_types import Limit, PathId
from leitstand.auth.api import requires
from leitstand.auth.model import READ_ROLES, Actor, Role
from leitstand.deps import container_of
from leitstand.releases.schemas import AbortIn, ApproveIn, ReleaseIn, RollbackIn, TaskDoneIn

__all__ = ["DECIDE", "READ", "START", "router"]

router = APIRouter(prefix="/api/v1/releases", tags=["releases"])
#: Who may start a release (the pipeline's token is a DevOps user); production also needs a
#: change record and the approval of ``pipeline.deployment.production_approvers``.
START = (Role.DEVOPS, Role.DEVELOPER)
#: Who may approve, promote, abort or roll back; the service checks the policy's exact roles.
DECIDE = (Role.DEVOPS, Role.COMPLIANCE_OFFICER, Role.ONCALL)
READ = (*READ_ROLES, Role.DEVELOPER, Role.QA, Role.PRODUCT_OWNER, Role.ONCALL)


@router.get("")
def history(
    request: Request,
    _: Annotated[Actor, requires(*READ)],
    service: str | None = None,
    env: str | None = None,
    limit: Limit = 100,
) -> list[dict[str, Any]]:
    """Releases, newest first."""
    releases = container_of(request).releases
    return [r.as_dict() for r in releases.history(service=service, env=env, limit=limit)]


@router.post("", status_code=201)
def start(
    body: ReleaseIn, request: Request, actor: Annotated[Actor, requires(*START)]
) -> dict[str, Any]:
    """Start a release; production waits for an approved change and a manual approval."""
    info = container_of(request).releases.start(
        service=body.service,
        version=body.version,
        env=body.env,
        strategy=body.strategy,
        actor=actor,
        artifact_digest=body.artifact_digest,
    )
    return info.as_dict()


@router.get("/services")
def services(request: Request, _: Annotated[Actor, requires(*READ)]) -> list[dict[str, Any]]:
    """Every service and environment: the serving version, the weights, the release in flight."""
    return [t.as_dict() for t in container_of(request).releases.targets()]


@router.post("/rollback", status_code=201)
def rollback(
    body: RollbackIn, request: Request, actor: Annotated[Actor, requires(*DECIDE)]
) -> dict[str, Any]:
    """The manual rollback of a service (the seed's six steps)."""
    info = container_of(request).releases.rollback(
        service=body.service, env=body.env, actor=actor, reason=body.reason
    )
    return info.as_dict()


@router.get("/tasks")
def tasks(
    request: Request, _: Annotated[Actor, requires(*READ)], status: str | None = None
) -> list[dict[str, Any]]:
    """Root-cause tasks left by rollbacks."""
    return container_of(request).releases.tasks(status=status)


@router.post("/tasks/{task_id}/done")
def task_done(
    task_id: PathId, body: TaskDoneIn, request: Request, actor: Annotated[Actor, requires(*DECIDE)]
) -> dict[str, Any]:
    """Close a root-cause task with its finding."""
    return container_of(request).releases.complete_task(
        task_id=task_id, actor=actor, note=body.note
    )


@router.get("/{release_id}")
def show(
    release_id: PathId, request: Request, _: Annotated[Actor, requires(*READ)]
) -> dict[str, Any]:
    """One release with its canary analyses and its evidence timeline."""
    releases = container_of(request).releases
    data = releases.get(release_id).as_dict()
    data["analyses"] = releases.analyses(release_id)
    data["timeline"] = releases.timeline(release_id)
    return data


@router.post("/{release_id}/approve")
def approve(
    release_id: PathId,
    body: ApproveIn,
    request: Request,
    actor: Annotated[Actor, requires(*DECIDE)],
) -> dict[str, Any]:
    """The manual approval of a production release (not by the one who started it)."""
    info = container_of(request).releases.approve(
        release_id=release_id, actor=actor, comment=body.comment
    )
    return info.as_dict()


@router.post("/{release_id}/promote")
def promote(
    release_id: PathId, request: Request, actor: Annotated[Actor, requires(*DECIDE)]
) -> dict[str, Any]:
    """Continue a canary paused by an inconclusive analysis."""
    return container_of(request).releases.promote(release_id=release_id, actor=actor).as_dict()


@router.post("/{release_id}/abort")
def abort(
    release_id: PathId, body: AbortIn, request: Request, actor: Annotated[Actor, requires(*DECIDE)]
) -> dict[str, Any]:
    """Stop a release: cancelled before traffic moved, rolled back after."""
    info = container_of(request).releases.abort(
        release_id=release_id, actor=actor, reason=body.reason
    )
    return info.as_dict()


@router.get("/{release_id}/handover")
def handover(
    release_id: PathId, request: Request, _: Annotated[Actor, requires(*READ)]
) -> dict[str, Any]:
    """The handover checklist of a completed production release, each item with evidence."""
    releases = container_of(request).releases
    return releases.handover_result(release_id=release_id, check_if_missing=False)


@router.post("/{release_id}/handover")
def handover_check(
    release_id: PathId, request: Request, _: Annotated[Actor, requires(*DECIDE)]
) -> dict[str, Any]:
    """Check the handover checklist again now (failing items keep or open action items)."""
    return container_of(request).releases.handover_result(release_id=release_id, check=True)
