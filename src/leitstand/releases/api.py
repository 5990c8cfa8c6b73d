"""Release API: start, approve, promote, abort, roll back; what serves where; the history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from leitstand.api_types import Limit, PathId
from leitstand.auth.api import requires
from leitstand.auth.model import READ_ROLES, Actor, Role
from leitstand.deps import provide
from leitstand.releases.schemas import (
    AbortIn,
    ApproveIn,
    HandoverOut,
    ReleaseDetailOut,
    ReleaseIn,
    ReleaseOut,
    RollbackIn,
    TargetOut,
    TaskDoneIn,
    TaskOut,
)
from leitstand.releases.service import ReleaseService

__all__ = ["DECIDE", "READ", "START", "Releases", "router"]

router = APIRouter(prefix="/api/v1/releases", tags=["releases"])
#: Who may start a release (the pipeline's token is a DevOps user); production also needs a
#: change record and the approval of ``pipeline.deployment.production_approvers``.
START = (Role.DEVOPS, Role.DEVELOPER)
#: Who may approve, promote, abort or roll back; the service checks the policy's exact roles.
DECIDE = (Role.DEVOPS, Role.COMPLIANCE_OFFICER, Role.ONCALL)
READ = (*READ_ROLES, Role.DEVELOPER, Role.QA, Role.PRODUCT_OWNER, Role.ONCALL)

#: The release service of the running app (a typed route dependency).
Releases = Annotated[ReleaseService, provide(ReleaseService)]
#: The signed-in actor, by the roles a route admits.
Reader = Annotated[Actor, requires(*READ)]
Starter = Annotated[Actor, requires(*START)]
Decider = Annotated[Actor, requires(*DECIDE)]


@router.get("")
def history(
    releases: Releases,
    _: Reader,
    service: str | None = None,
    env: str | None = None,
    limit: Limit = 100,
) -> list[ReleaseOut]:
    """Releases, newest first."""
    return [ReleaseOut.of(r) for r in releases.history(service=service, env=env, limit=limit)]


@router.post("", status_code=201)
def start(body: ReleaseIn, releases: Releases, actor: Starter) -> ReleaseOut:
    """Start a release; production waits for an approved change and a manual approval."""
    info = releases.start(
        service=body.service,
        version=body.version,
        env=body.env,
        strategy=body.strategy,
        actor=actor,
        artifact_digest=body.artifact_digest,
    )
    return ReleaseOut.of(info)


@router.get("/services")
def services(releases: Releases, _: Reader) -> list[TargetOut]:
    """Every service and environment: the serving version, the weights, the release in flight."""
    return [TargetOut.of(t) for t in releases.targets()]


@router.post("/rollback", status_code=201)
def rollback(body: RollbackIn, releases: Releases, actor: Decider) -> ReleaseOut:
    """The manual rollback of a service (the seed's six steps)."""
    info = releases.rollback(service=body.service, env=body.env, actor=actor, reason=body.reason)
    return ReleaseOut.of(info)


@router.get("/tasks")
def tasks(releases: Releases, _: Reader, status: str | None = None) -> list[TaskOut]:
    """Root-cause tasks left by rollbacks."""
    return releases.task_list(status=status)


@router.post("/tasks/{task_id}/done")
def task_done(
    task_id: PathId,
    body: TaskDoneIn,
    releases: Releases,
    actor: Decider,
) -> TaskOut:
    """Close a root-cause task with its finding."""
    return releases.complete_task(task_id=task_id, actor=actor, note=body.note)


@router.get("/{release_id}")
def show(release_id: PathId, releases: Releases, _: Reader) -> ReleaseDetailOut:
    """One release with its canary analyses and its evidence timeline."""
    return releases.detail(release_id)


@router.post("/{release_id}/approve")
def approve(
    release_id: PathId,
    body: ApproveIn,
    releases: Releases,
    actor: Decider,
) -> ReleaseOut:
    """The manual approval of a production release (not by the one who started it)."""
    info = releases.approve(release_id=release_id, actor=actor, comment=body.comment)
    return ReleaseOut.of(info)


@router.post("/{release_id}/promote")
def promote(release_id: PathId, releases: Releases, actor: Decider) -> ReleaseOut:
    """Continue a canary paused by an inconclusive analysis."""
    return ReleaseOut.of(releases.promote(release_id=release_id, actor=actor))


@router.post("/{release_id}/abort")
def abort(
    release_id: PathId,
    body: AbortIn,
    releases: Releases,
    actor: Decider,
) -> ReleaseOut:
    """Stop a release: cancelled before traffic moved, rolled back after."""
    info = releases.abort(release_id=release_id, actor=actor, reason=body.reason)
    return ReleaseOut.of(info)


@router.get("/{release_id}/handover")
def handover(release_id: PathId, releases: Releases, _: Reader) -> HandoverOut:
    """The handover checklist of a completed production release, each item with evidence."""
    return releases.handover_report(release_id=release_id, check_if_missing=False)


@router.post("/{release_id}/handover")
def handover_check(release_id: PathId, releases: Releases, _: Decider) -> HandoverOut:
    """Check the handover checklist again now (failing items keep or open action items)."""
    return releases.handover_report(release_id=release_id, check=True)
