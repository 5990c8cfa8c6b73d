"""`leitstand change`: open, approve, show and list change records.

Who acts: the user of ``--token`` (or ``LEITSTAND_TOKEN``), with a role the API admits for the
action; without a token the command is refused (see ``auth.local_admin_actions``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from leitstand.changes.api import _DECIDE as DECIDERS
from leitstand.changes.api import _OPEN as OPENERS
from leitstand.changes.model import Change
from leitstand.changes.schemas import ChangeLogRowOut, ChangeOut
from leitstand.cli_support import (
    JsonOpt,
    TokenOpt,
    console,
    emit_json,
    open_container,
    parse_when,
    resolve_actor,
)
from leitstand.errors import Issue, ValidationError

__all__ = ["app"]

app = typer.Typer(help="Change records and their approval (four eyes).", no_args_is_help=True)


def _print(change: Change) -> None:
    console.print(
        f"change #{change.id} {change.service} {change.version} ({change.category}): "
        f"{change.status.value}",
        markup=False,
    )
    for label, value in (
        ("what", change.what),
        ("why", change.why),
        ("rollback", change.rollback),
        ("tests", change.tests),
    ):
        console.print(f"  {label}: {value}", markup=False)
    console.print(f"  requested by {change.requester} ({change.requester_role})", markup=False)
    if change.deployed_at is not None:
        console.print(f"  deployed to production at {change.deployed_at.isoformat()}", markup=False)
    for a in change.approvals:
        verdict = "approved" if a.approved else "rejected"
        console.print(f"  {verdict} ({a.stage.value}) by {a.approver} ({a.role})", markup=False)


@app.command("open")
def open_change(
    service: Annotated[str, typer.Option(help="The system, e.g. enterprise-api")],
    version: Annotated[str, typer.Option(help="The version deployed by this change")],
    category: Annotated[str, typer.Option(help="standard, normal or emergency (policy)")],
    what: Annotated[str, typer.Option(help="What changes (technical)")] = "",
    why: Annotated[str, typer.Option(help="Why (business or regulatory reason)")] = "",
    rollback: Annotated[str, typer.Option(help="How to undo it")] = "",
    tests: Annotated[str, typer.Option(help="Which tests were run")] = "",
    token: TokenOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Open a change record."""
    container = open_container()
    change = container.changes.open(
        service=service,
        version=version,
        category=category,
        fields={"what": what, "why": why, "rollback": rollback, "tests": tests},
        actor=resolve_actor(container, token, action="change.open", roles=OPENERS),
    )
    if json_out:
        emit_json(ChangeOut.of(change).model_dump(mode="json"))
    else:
        _print(change)


@app.command("approve")
def approve(
    change_id: Annotated[int, typer.Argument(help="Change number")],
    reject: Annotated[bool, typer.Option("--reject", help="Reject instead of approving")] = False,
    comment: Annotated[str, typer.Option(help="A note for the record")] = "",
    token: TokenOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Approve (or reject) a change as the token's user."""
    container = open_container()
    change = container.changes.decide(
        change_id=change_id,
        actor=resolve_actor(container, token, action="change.approve", roles=DECIDERS),
        approve=not reject,
        comment=comment,
    )
    if json_out:
        emit_json(ChangeOut.of(change).model_dump(mode="json"))
    else:
        _print(change)


@app.command("show")
def show(
    change_id: Annotated[int, typer.Argument(help="Change number")], json_out: JsonOpt = False
) -> None:
    """Show a change record and its approvals."""
    change = open_container().changes.get(change_id)
    if json_out:
        emit_json(ChangeOut.of(change).model_dump(mode="json"))
    else:
        _print(change)


@app.command("list")
def list_changes(
    service: Annotated[str | None, typer.Option(help="Only this system")] = None,
    status: Annotated[str | None, typer.Option(help="pending, approved or rejected")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List change records, newest first."""
    changes = open_container().changes.list(service=service, status=status)
    if json_out:
        emit_json([ChangeOut.of(c).model_dump(mode="json") for c in changes])
        return
    table = Table("#", "service", "version", "category", "status", "requester", "approved by")
    for c in changes:
        table.add_row(
            str(c.id),
            c.service,
            c.version,
            c.category,
            c.status.value,
            c.requester,
            ", ".join(c.approved_by),
        )
    console.print(table)


@app.command("log")
def change_log(
    service: Annotated[str | None, typer.Option(help="Only this system")] = None,
    change: Annotated[int | None, typer.Option(help="Only this change number")] = None,
    since: Annotated[str | None, typer.Option(help="From (2026-11-01, 7d, RFC 3339)")] = None,
    until: Annotated[str | None, typer.Option(help="Until (exclusive)")] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="table, json, md (Markdown) or csv")
    ] = "table",
    out: Annotated[Path | None, typer.Option(help="Write to this file instead")] = None,
    lang: Annotated[str, typer.Option(help="de (default) or en")] = "de",
    json_out: JsonOpt = False,
) -> None:
    """The Änderungsprotokoll: every change, approval, gate run, release and rollback."""
    if json_out:
        fmt = "json"
    if fmt not in ("table", "json", "md", "csv"):
        raise ValidationError([Issue("format", f"table, json, md or csv (got {fmt!r})")])
    if lang not in ("de", "en"):
        raise ValidationError([Issue("lang", f"de or en (got {lang!r})")])
    container = open_container()
    now = container.clock.now()
    start = parse_when(since, field="since", now=now)
    end = parse_when(until, field="until", now=now)
    if fmt in ("md", "csv"):
        text = container.changes.export_log(
            fmt, service=service, change_id=change, since=start, until=end, lang=lang
        )
    else:
        rows = container.changes.log(
            service=service, change_id=change, since=start, until=end, lang=lang
        )
        if fmt == "json":
            if out is None:
                emit_json([ChangeLogRowOut.of(r).model_dump() for r in rows])
                return
            import json

            text = (
                json.dumps(
                    [ChangeLogRowOut.of(r).model_dump() for r in rows], indent=2, ensure_ascii=False
                )
                + "\n"
            )
        else:
            table = Table(
                "#", "time (UTC)", "change", "service", "version", "env", "event", "actor"
            )
            for r in rows:
                table.add_row(
                    str(r.index), r.time[:19], f"#{r.change_id}" if r.change_id else "",
                    r.service, r.version, r.env, r.event, f"{r.actor} ({r.role})",
                )  # fmt: skip
            console.print(table)
            return
    if out is None:
        console.print(text, markup=False, end="")
        return
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(text)
    tmp.replace(out)
    console.print(f"wrote {out}", markup=False)
