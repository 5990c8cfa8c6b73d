"""`leitstand scheduler`: inspect durable timers and fire due ones by hand."""

from __future__ import annotations

from typing import Annotated

import structlog
import typer
from rich.table import Table

from leitstand.cli_support import (
    JsonOpt,
    TokenOpt,
    console,
    emit_json,
    open_container,
    resolve_actor,
)
from leitstand.identity import Role

__all__ = ["app"]

app = typer.Typer(help="Durable timers and recurring jobs.", no_args_is_help=True)
#: Who may fire due timers by hand.
TICKERS = (Role.DEVOPS, Role.ONCALL)
_log = structlog.get_logger(__name__)


@app.command("list")
def list_jobs(
    status: Annotated[str | None, typer.Option(help="pending, done, failed or cancelled")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List timers, soonest first."""
    jobs = open_container().scheduler.jobs(status=status)
    if json_out:
        emit_json([j.as_dict() for j in jobs])
        return
    table = Table("id", "kind", "key", "status", "due (UTC)", "recurrence", "attempts")
    for j in jobs:
        table.add_row(
            str(j.id),
            j.kind,
            j.key,
            j.status,
            j.due_at.strftime("%Y-%m-%d %H:%M:%S"),
            j.recurrence or "",
            str(j.attempts),
        )
    console.print(table)


@app.command("tick")
def tick(limit: Annotated[int, typer.Option(min=1)] = 100, token: TokenOpt = None) -> None:
    """Fire the timers that are due now, once (the running control plane does this itself).

    The timers act as the scheduler, as they would in the control plane; who fired them by
    hand is checked (devops or on-call) and logged.
    """
    container = open_container()
    actor = resolve_actor(container, token, action="scheduler.tick", roles=TICKERS)
    _log.info("scheduler_tick", actor=actor.name, role=actor.role, limit=limit)
    fired = container.scheduler.run_due(limit=limit)
    console.print(f"fired {fired} timer(s)")
