"""`leitstand scheduler`: inspect durable timers and fire due ones by hand."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from leitstand.cli_support import console, emit_json, open_container

__all__ = ["app"]

app = typer.Typer(help="Durable timers and recurring jobs.", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]


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
def tick(limit: Annotated[int, typer.Option(min=1)] = 100) -> None:
    """Fire the timers that are due now, once (the running control plane does this itself)."""
    fired = open_container().scheduler.run_due(limit=limit)
    console.print(f"fired {fired} timer(s)")
