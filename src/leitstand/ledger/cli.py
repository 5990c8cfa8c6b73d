"""`leitstand audit`: record, log, verify, prove and export evidence."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from leitstand.bootstrap import local_actor
from leitstand.cli_support import (
    ExitCode,
    JsonOpt,
    console,
    emit_json,
    err_console,
    local_policy,
    open_container,
    parse_when,
    resolve_actor,
)
from leitstand.clock import SystemClock
from leitstand.errors import Issue, ValidationError
from leitstand.ledger.api import WRITERS
from leitstand.ledger.export import verify_export
from leitstand.ledger.ownership import is_manual
from leitstand.ledger.service import EntryQuery
from leitstand.ledger.verify import VerifyReport, check_log_pins
from leitstand.web.limits import json_depth_problem

__all__ = ["app"]

app = typer.Typer(
    help="Evidence ledger: record, list, verify, prove and export.", no_args_is_help=True
)


@app.command("record")
def record(
    action: Annotated[
        str,
        typer.Option(help="What was done, e.g. maintenance (recorded as manual.maintenance)"),
    ],
    subject: Annotated[str, typer.Option(help="What it concerns, e.g. service:enterprise-api")],
    payload: Annotated[str | None, typer.Option(help="Details as a JSON object")] = None,
    tenant: Annotated[str | None, typer.Option(help="Tenant (broker house) id")] = None,
    token: Annotated[
        str | None,
        typer.Option("--token", help="Act as this API token's user (default: $LEITSTAND_TOKEN)"),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Record an operator's manual evidence entry (as manual.<action>; system actions refused)."""
    data: dict[str, Any] = {}
    container = open_container()
    if payload is not None:
        # The API's JSON depth limit holds here too.
        depth = container.policy.api.limits.json_depth
        deep = json_depth_problem(payload.encode(), depth)
        if deep is not None:
            where = f"--payload {deep[0]}".strip()
            raise ValidationError([Issue(where, f"{deep[1]} (api.limits.json_depth)")])
        try:
            parsed = json.loads(payload)
        except json.JSONDecodeError as exc:
            raise ValidationError(
                [Issue("--payload", f"expected a JSON object ({exc.msg} at column {exc.colno})")]
            ) from exc
        if not isinstance(parsed, dict):
            raise ValidationError(
                [Issue("--payload", f"expected a JSON object (got {type(parsed).__name__})")]
            )
        data = parsed
    actor = resolve_actor(container, token, action="audit.record", roles=WRITERS)
    entry = container.audit.record(
        actor=actor, action=action, subject=subject, tenant=tenant, payload=data
    )
    if json_out:
        emit_json(entry.as_dict())
    else:
        console.print(f"recorded entry {entry.index}: {entry.action} {entry.subject}")


@app.command("log")
def log_entries(
    since: Annotated[str | None, typer.Option(help="From (date, time, or age like 7d)")] = None,
    until: Annotated[str | None, typer.Option(help="Until (exclusive)")] = None,
    action: Annotated[str | None, typer.Option(help="Action, or prefix ending in *")] = None,
    tenant: Annotated[str | None, typer.Option(help="Tenant id")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Most entries to show")] = 100,
    json_out: JsonOpt = False,
) -> None:
    """List evidence entries, newest first."""
    now = SystemClock().now()
    query = EntryQuery(
        since=parse_when(since, field="--since", now=now),
        until=parse_when(until, field="--until", now=now),
        action=action,
        tenant=tenant,
        limit=limit,
    )
    entries = open_container().audit.log(query)
    if json_out:
        emit_json([{**e.as_dict(), "manual": is_manual(e.action)} for e in entries])
        return
    table = Table("#", "time (UTC)", "actor", "role", "action", "kind", "subject", "tenant")
    for e in entries:
        kind = "manual" if is_manual(e.action) else "system"
        row = (e.action, kind, e.subject, e.tenant or "")
        table.add_row(str(e.index), e.time, e.actor, e.role, *row)
    console.print(table)


@app.command("verify")
def verify(
    export: Annotated[
        Path | None, typer.Option("--export", help="Verify an export folder offline instead")
    ] = None,
    key: Annotated[
        list[Path] | None,
        typer.Option(
            "--key",
            help="File with a pinned ledger or witness verifier key (repeatable); "
            "adds to policy ledger.trusted_keys",
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Verify the ledger: exit 0 intact, 1 tampering (naming it), 3 incomplete (a witness)."""
    pins = _read_pins(key or [])
    if export is not None:
        report = verify_export(export, [*_policy_pins(), *pins])
    else:
        container = open_container()
        with Progress(
            TextColumn("verifying"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
            disable=json_out,
        ) as progress:
            task = progress.add_task("verify", total=None)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            report = container.audit.verify(actor=local_actor(), progress=advance)
        check_log_pins(report, container.ledger.signer.verifier, pins)
    _print_report(report, json_out)
    if not report.ok:
        raise typer.Exit(code=ExitCode.FAILED)
    if not report.complete:
        raise typer.Exit(code=ExitCode.INCOMPLETE)


def _read_pins(files: list[Path]) -> list[str]:
    pins: list[str] = []
    for path in files:
        try:
            text = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValidationError([Issue("--key", f"{path}: cannot read it ({exc})")]) from exc
        found = [line.strip() for line in text.splitlines() if line.strip()]
        if not found:
            raise ValidationError([Issue("--key", f"{path}: holds no key")])
        pins.extend(found)
    return pins


def _policy_pins() -> list[str]:
    # Offline export checks need no database: read only the policy's pinned keys.
    return list(local_policy().ledger.trusted_keys)


def _print_report(report: VerifyReport, json_out: bool) -> None:
    if json_out:
        emit_json(report.as_dict())
        return
    out = console if report.ok else err_console
    out.print(report.summary())
    for problem in report.problems:
        err_console.print(f"  - {problem}")
    for line in report.incomplete if not report.ok else []:
        err_console.print(f"  - incomplete: {line}")
    for note in report.notes():
        out.print(f"  {note}")


@app.command("prove")
def prove(
    index: Annotated[int, typer.Argument(min=0, help="Entry index")],
    json_out: JsonOpt = False,
) -> None:
    """Print the inclusion proof of an entry against the latest signed checkpoint."""
    proof = open_container().audit.prove(index)
    data = {
        "index": proof.index,
        "tree_size": proof.tree_size,
        "leaf_hash": base64.b64encode(proof.leaf_hash).decode(),
        "hashes": [base64.b64encode(h).decode() for h in proof.hashes],
        "checkpoint": proof.checkpoint,
        "verified": proof.verified,
        "entry": proof.entry.as_dict(),
    }
    if json_out:
        emit_json(data)
    else:
        console.print(
            f"entry {proof.index} is included in the signed tree of size {proof.tree_size}: "
            f"{'verified' if proof.verified else 'PROOF DOES NOT VERIFY'}"
        )
        for h in proof.hashes:
            console.print(f"  {base64.b64encode(h).decode()}")
    if not proof.verified:
        raise typer.Exit(code=1)


@app.command("export")
def export(
    directory: Annotated[Path, typer.Argument(help="New folder for the export")],
    since: Annotated[str | None, typer.Option(help="From (date, time, or age like 90d)")] = None,
    until: Annotated[str | None, typer.Option(help="Until (exclusive)")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Export entries with the signed checkpoint, proofs and public key, for offline checks."""
    now = SystemClock().now()
    summary = open_container().audit.export(
        directory,
        since=parse_when(since, field="--since", now=now),
        until=parse_when(until, field="--until", now=now),
        actor=local_actor(),
    )
    data = {
        "directory": str(summary.directory),
        "first_index": summary.first_index,
        "count": summary.count,
        "tree_size": summary.tree_size,
    }
    if json_out:
        emit_json(data)
    else:
        console.print(
            f"exported {summary.count} entries (from index {summary.first_index}, "
            f"proven against size {summary.tree_size}) to {summary.directory}"
        )
