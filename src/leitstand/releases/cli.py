"""`leitstand release`: start, follow, approve, promote, abort, roll back; status and history.

``start`` (and the decisions) follow the release until it settles by firing the due timers in
this process, the same way the running control plane does; ``--no-wait`` returns at once and
leaves the work to ``leitstand up``. Exit code 1: the release failed or was rolled back.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.live import Live
from rich.table import Table

from leitstand.auth.model import Actor
from leitstand.bootstrap import Container
from leitstand.cli_support import (
    JsonOpt,
    TokenOpt,
    console,
    emit_json,
    err_console,
    open_container,
    resolve_actor,
)
from leitstand.releases.aftermath import TASK_DUE
from leitstand.releases.api import DECIDE, START
from leitstand.releases.flow import STEP, WORK
from leitstand.releases.handover import HANDOVER
from leitstand.releases.model import Phase, ReleaseInfo
from leitstand.releases.progress import Progress
from leitstand.releases.schemas import ReleaseOut, TargetOut
from leitstand.releases.service import ReleaseOutcomeError, ReleaseService

__all__ = ["app"]

app = typer.Typer(help="Releases: blue-green, canary, rollback.", no_args_is_help=True)
_RELEASE_KINDS = frozenset({STEP, WORK, TASK_DUE, HANDOVER})
WaitOpt = Annotated[
    bool, typer.Option("--wait/--no-wait", help="Follow the release until it settles")
]
TimeoutOpt = Annotated[float, typer.Option(help="Stop following after this many seconds")]
ReleaseIdArg = Annotated[int, typer.Argument(help="Release number")]
ReasonOpt = Annotated[str, typer.Option(help="Why (goes to the change log)")]


def _actor(container: Container, token: str | None, action: str) -> Actor:
    roles = START if action in ("release.start", "release.migration_check") else DECIDE
    return resolve_actor(container, token, action=action, roles=roles)


def follow(
    container: Container, release_id: int, *, timeout: float, events: bool = False
) -> ReleaseInfo:
    """Fire the release timers here until the release settles, showing its live state.

    Only the releases domain's timers: other duties (backups, notifications) stay with the
    control plane, which may be running at the same time. The display (step, weights,
    analysis, health) goes to stderr; ``events`` streams each new evidence entry of the release
    as one JSON line to stdout.
    """
    deadline = time.monotonic() + timeout
    releases = container.releases
    steps = [float(s) for s in container.policy.deployment.canary.steps]
    progress = Progress(releases, release_id, steps, events=events)
    info = releases.get(release_id)
    progress.update(info)
    shown = 0.0
    with Live(progress.view(info), console=err_console, refresh_per_second=4) as live:
        while True:
            fired = container.scheduler.run_due(limit=50, kinds=_RELEASE_KINDS)
            info = releases.get(release_id)
            if fired or time.monotonic() - shown > 0.5:
                progress.update(info)
                live.update(progress.view(info))
                shown = time.monotonic()
            if info.settled and container.scheduler.leases.busy() == 0:
                break
            if time.monotonic() > deadline:
                err_console.print(
                    f"still {info.phase.value} after {timeout:g} s; the control plane "
                    "(`leitstand up`) carries on",
                    markup=False,
                )
                break
            if not fired:
                time.sleep(0.05)
        container.scheduler.leases.drain(timeout=30)
        # A production release that completed: its handover checklist is due at once.
        container.scheduler.run_due(limit=10, kinds=frozenset({HANDOVER}))
        info = releases.get(release_id)
        progress.update(info)
        live.update(progress.view(info))
    return info


def _act(
    action: str,
    call: Callable[[ReleaseService, Actor], ReleaseInfo],
    *,
    token: str | None,
    wait: bool,
    timeout: float,
    json_out: bool,
    outcome: bool = True,
) -> None:
    """Carry out ``action`` as the token's actor, follow the release (``--wait``) and show it;
    with ``outcome``, exit 1 when it failed or was rolled back."""
    container = open_container()
    info = call(container.releases, _actor(container, token, action))
    if wait:
        info = follow(container, info.id, timeout=timeout, events=json_out)
    if outcome:
        _finish(info, json_out, followed=wait)
    else:
        _emit(info, json_out, followed=wait)


def _emit(info: ReleaseInfo, json_out: bool, *, followed: bool) -> None:
    if json_out and followed:  # the last of the JSON lines: the release as it settled
        line = {"event": "release", **ReleaseOut.of(info).model_dump(mode="json")}
        sys.stdout.write(json.dumps(line, sort_keys=True, default=str) + "\n")
    elif json_out:
        emit_json(ReleaseOut.of(info).model_dump(mode="json"))
    else:
        _print(info)


def _finish(info: ReleaseInfo, json_out: bool, *, followed: bool = True) -> None:
    _emit(info, json_out, followed=followed)
    if info.phase in (Phase.FAILED, Phase.ROLLED_BACK, Phase.CANCELLED):
        raise ReleaseOutcomeError(
            f"release #{info.id} {info.service} {info.version} {info.phase.value}: "
            f"{info.reason or 'see `leitstand release show ' + str(info.id) + '`'}"
        )


def _print(info: ReleaseInfo) -> None:
    console.print(
        f"release #{info.id} {info.service} {info.version} ({info.env}, "
        f"{info.strategy.replace('_', '-')}, {info.kind}): {info.phase.value}",
        markup=False,
    )
    if info.stable_version or info.stable_slot:
        console.print(
            f"  from {info.stable_version or 'unknown'} in slot {info.stable_slot} "
            f"to slot {info.target_slot}",
            markup=False,
        )
    if info.change_id is not None:
        console.print(f"  change #{info.change_id}", markup=False)
    console.print(
        f"  started by {info.requested_by}; approved by {info.approved_by or 'nobody yet'}",
        markup=False,
    )
    if info.reason:
        console.print(f"  reason: {info.reason}", markup=False)
    if info.rollback_seconds is not None:
        console.print(f"  rollback took {info.rollback_seconds:.3f} s", markup=False)
    if info.snapshot:
        where = info.snapshot.get("file") or f"backup run #{info.snapshot.get('backup_run')}"
        console.print(f"  database snapshot ({info.snapshot.get('method')}): {where}", markup=False)
    if info.phase is Phase.AWAITING_APPROVAL:
        console.print(f"  next: `leitstand release approve {info.id}` (another person)")
    if info.phase is Phase.PAUSED:
        console.print(
            f"  next: `leitstand release promote {info.id}` or "
            f"`leitstand release abort {info.id} --reason ...`"
        )


@app.command("start")
def start(
    service: Annotated[str, typer.Argument(help="The service, e.g. enterprise-api")],
    version: Annotated[str, typer.Argument(help="The version to release")],
    env: Annotated[str, typer.Option("--env", help="staging or production (policy)")],
    strategy: Annotated[
        str | None, typer.Option(help="blue-green or canary (default: the policy's)")
    ] = None,
    artifact_digest: Annotated[
        str | None,
        typer.Option(
            "--artifact-digest",
            envvar="ARTIFACT_DIGEST",
            help="sha256:<hex> of the artifact deployed (gate-report/artifact.env)",
        ),
    ] = None,
    wait: WaitOpt = True,
    timeout: TimeoutOpt = 3600,
    token: TokenOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Release VERSION of SERVICE to an environment (after its gates passed for the artifact)."""
    _act(
        "release.start",
        lambda releases, actor: releases.start(
            service=service,
            version=version,
            env=env,
            strategy=strategy,
            actor=actor,
            artifact_digest=artifact_digest,
        ),
        token=token,
        wait=wait,
        timeout=timeout,
        json_out=json_out,
    )


@app.command("follow")
def follow_command(
    release_id: ReleaseIdArg,
    timeout: TimeoutOpt = 3600,
    json_out: JsonOpt = False,
) -> None:
    """Follow a release until it settles (firing its timers here)."""
    container = open_container()
    _finish(follow(container, release_id, timeout=timeout, events=json_out), json_out)


@app.command("approve")
def approve(
    release_id: ReleaseIdArg,
    comment: Annotated[str, typer.Option(help="A note for the record")] = "",
    wait: WaitOpt = True,
    timeout: TimeoutOpt = 3600,
    token: TokenOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Give the manual approval of a production release (not the one who started it)."""
    _act(
        "release.approve",
        lambda releases, actor: releases.approve(
            release_id=release_id, actor=actor, comment=comment
        ),
        token=token,
        wait=wait,
        timeout=timeout,
        json_out=json_out,
    )


@app.command("promote")
def promote(
    release_id: ReleaseIdArg,
    wait: WaitOpt = True,
    timeout: TimeoutOpt = 3600,
    token: TokenOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Continue a canary paused by an inconclusive analysis."""
    _act(
        "release.promote",
        lambda releases, actor: releases.promote(release_id=release_id, actor=actor),
        token=token,
        wait=wait,
        timeout=timeout,
        json_out=json_out,
    )


@app.command("abort")
def abort(
    release_id: ReleaseIdArg,
    reason: ReasonOpt,
    wait: WaitOpt = True,
    timeout: TimeoutOpt = 600,
    token: TokenOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Stop a release: cancel it before traffic moved, roll it back after."""
    _act(
        "release.abort",
        lambda releases, actor: releases.abort(release_id=release_id, actor=actor, reason=reason),
        token=token,
        wait=wait,
        timeout=timeout,
        json_out=json_out,
        outcome=False,
    )


@app.command("rollback")
def rollback(
    service: Annotated[str, typer.Argument(help="The service to roll back")],
    reason: ReasonOpt,
    env: Annotated[str, typer.Option("--env", help="The environment")] = "production",
    wait: WaitOpt = True,
    timeout: TimeoutOpt = 600,
    token: TokenOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Roll SERVICE back to its previous version (decision, deploy, verify, inform, log, RCA)."""
    _act(
        "release.rollback",
        lambda releases, actor: releases.rollback(
            service=service, env=env, actor=actor, reason=reason
        ),
        token=token,
        wait=wait,
        timeout=timeout,
        json_out=json_out,
        outcome=False,
    )


@app.command("status")
def status(json_out: JsonOpt = False) -> None:
    """What serves each service and environment, and the traffic split."""
    targets = open_container().releases.targets()
    if json_out:
        emit_json([TargetOut.of(t).model_dump(mode="json") for t in targets])
        return
    table = Table("service", "env", "active version", "weights", "previous", "in flight")
    for t in targets:
        weights = ", ".join(
            f"{slot} {'retired' if slot in t.routing.retired else t.routing.weight(slot)}"
            f"{' (' + v + ')' if (v := t.slots.get(slot)) else ''}"
            for slot in sorted(t.routing.weights)
        )
        table.add_row(
            t.service,
            t.env,
            t.active_version or "-",
            weights,
            (t.previous_version or "-") + (" (warm)" if t.previous_warm else ""),
            f"#{t.release_id}" if t.release_id else "",
        )
    console.print(table)


@app.command("history")
def history(
    service: Annotated[str | None, typer.Argument(help="Only this service")] = None,
    env: Annotated[str | None, typer.Option("--env", help="Only this environment")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Releases, newest first."""
    releases = open_container().releases.history(service=service, env=env)
    if json_out:
        emit_json([ReleaseOut.of(r).model_dump(mode="json") for r in releases])
        return
    table = Table("#", "service", "env", "version", "strategy", "phase", "started", "by")
    for r in releases:
        table.add_row(
            str(r.id),
            r.service,
            r.env,
            r.version + (" (rollback)" if r.kind == "rollback" else ""),
            r.strategy.replace("_", "-"),
            r.phase.value,
            r.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            r.requested_by,
        )
    console.print(table)


@app.command("show")
def show(release_id: ReleaseIdArg, json_out: JsonOpt = False) -> None:
    """One release, its canary analyses and its evidence timeline."""
    detail = open_container().releases.detail(release_id)
    if json_out:
        emit_json(detail.model_dump(mode="json"))
        return
    _print(detail)
    for a in detail.analyses:
        console.print(
            f"  analysis step {a.step} at {a.weight} %: {a.verdict}: " + "; ".join(a.reasons),
            markup=False,
        )
    for e in detail.timeline:
        console.print(f"  {e.time}  {e.action}  ({e.actor})", markup=False)


@app.command("tasks")
def tasks(
    status_filter: Annotated[str | None, typer.Option("--status", help="open or done")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Root-cause tasks left by rollbacks."""
    found = open_container().releases.task_list(status=status_filter)
    if json_out:
        emit_json([t.model_dump(mode="json") for t in found])
        return
    table = Table("#", "service", "env", "status", "due", "title")
    for t in found:
        state = t.status + (" (overdue)" if t.overdue else "")
        table.add_row(str(t.id), t.service, t.env, state, t.due_at.isoformat(), t.title)
    console.print(table)


@app.command("task-done")
def task_done(
    task_id: Annotated[int, typer.Argument(help="Task number")],
    note: Annotated[str, typer.Option(help="The finding, or where it is documented")],
    token: TokenOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Close a root-cause task."""
    container = open_container()
    task = container.releases.complete_task(
        task_id=task_id, actor=_actor(container, token, "release.task_done"), note=note
    )
    if json_out:
        emit_json(task.model_dump(mode="json"))
    else:
        console.print(f"task #{task.id} done", markup=False)


@app.command("handover")
def handover(
    release_id: ReleaseIdArg,
    check: Annotated[bool, typer.Option("--check", help="Check every item again now")] = False,
    json_out: JsonOpt = False,
) -> None:
    """The handover checklist of a production release, each item with its evidence."""
    result = open_container().releases.handover_report(release_id=release_id, check=check)
    if json_out:
        emit_json(result.model_dump(mode="json"))
    else:
        table = Table("", "item", "detail", "action item")
        for item in result.items:
            table.add_row(
                "ok" if item.ok else "FAIL",
                item.text["en"],
                item.detail,
                f"#{item.task_id} ({item.owner})" if item.task_id else "",
            )
        console.print(table)
        console.print(f"checked {result.checked_at}", markup=False)
    if not result.passed:
        raise ReleaseOutcomeError(
            f"release #{release_id}: handover items failing: {', '.join(result.failed)}"
        )


@app.command("migration-check")
def migration_check(
    config: Annotated[Path, typer.Option(help="The application's alembic.ini")] = Path(
        "alembic.ini"
    ),
    scratch: Annotated[
        str | None,
        typer.Option(
            help="A PostgreSQL server URL to create the scratch database on "
            "(default: a temporary SQLite file)"
        ),
    ] = None,
    timeout: TimeoutOpt = 600,
    token: TokenOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Pipeline step: every revision has a rollback; upgrade -> downgrade -> upgrade works."""
    container = open_container()
    result = container.releases.migration_check(
        config=config.expanduser().absolute(),
        scratch=scratch,
        actor=_actor(container, token, "release.migration_check"),
        timeout=timeout,
    )
    if json_out:
        emit_json(result)
        return
    console.print(
        f"migrations OK: {len(result['revisions'])} revision(s), "
        f"{len(result['steps'])} steps on a scratch {result['scratch']} database",
        markup=False,
    )
