"""`leitstand backup` and `leitstand drill`: run the schedule, measure objectives, run drills."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Annotated, Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from leitstand.auth.model import Role
from leitstand.backups.model import DrillKind, RunStatus
from leitstand.backups.report import render_markdown, seconds_text
from leitstand.bootstrap import local_actor
from leitstand.cli_support import (
    TOKEN_ENV,
    ExitCode,
    JsonOpt,
    TokenOpt,
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
from leitstand.observability import configure_logging

__all__ = ["backup_app", "drill_app"]

backup_app = typer.Typer(
    help="Backups: set up repositories, run the schedule, retention, RPO/RTO status.",
    no_args_is_help=True,
)
drill_app = typer.Typer(
    help="Recovery drills (the seed's recovery tests) with Testprotokoll.", no_args_is_help=True
)
LangOpt = Annotated[str, typer.Option("--lang", help="Language of the Testprotokoll: de or en.")]
#: Who may run backups and drills (as the API: POST /api/backups/runs, /drills).
OPERATORS = (Role.DEVOPS,)
#: Who may take (and so record) an RPO measurement: the operators and the on-call person.
MEASURERS = (Role.DEVOPS, Role.ONCALL)


@backup_app.callback()
@drill_app.callback()
def _quiet_logs() -> None:
    """Log lines go to stderr (warnings and worse), so stdout stays clean for --json."""
    configure_logging("warning", json_output=False)


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str], None]]:
    """A Rich spinner on stderr whose text follows the steps; silent for --json."""
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not enabled,
    ) as progress:
        task = progress.add_task("starting", total=None)

        def step(text: str) -> None:
            progress.update(task, description=text)

        yield step


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM and SIGINT unwind like Ctrl-C, so every clean-up (scratch clusters, folders) runs.

    SIGINT is set explicitly: a process started in the background of a non-interactive shell
    inherits SIGINT as ignored, and Python keeps an ignored SIGINT ignored.
    """

    def handler(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous_term = signal.signal(signal.SIGTERM, handler)
    previous_int = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous_term)
        signal.signal(signal.SIGINT, previous_int)


def _lang(value: str) -> str:
    if value not in ("de", "en"):
        raise ValidationError([Issue("--lang", f"de or en (got {value!r})")])
    return value


# -- backup ----------------------------------------------------------------------------------


@backup_app.command("setup")
def setup(system: str, token: TokenOpt = None, json_out: JsonOpt = False) -> None:
    """Create keys, both sites' repositories and engine configuration for SYSTEM (idempotent)."""
    container = open_container()
    actor = resolve_actor(container, token, action="backup.setup", roles=OPERATORS)
    with _progress(not json_out) as step:
        report = container.backups.setup(system=system, actor=actor, progress=step)
    if json_out:
        emit_json(report)
        return
    for data, done in report["done"].items():
        console.print(f"[bold]{data}[/bold]")
        for line in done:
            console.print(f"  {line}")
    if report["archive_command"]:
        console.print("The database server needs (postgresql.conf):")
        console.print(f"  archive_mode = on\n  archive_command = '{report['archive_command']}'")


@backup_app.command("run")
def run(
    system: str,
    row: Annotated[str, typer.Option(help="Schedule row, e.g. database_full, files")],
    token: TokenOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Back up one schedule row of SYSTEM now (both sites, verified); exit 1 if it failed."""
    container = open_container()
    actor = resolve_actor(container, token, action="backup.run", roles=OPERATORS)
    with _terminate_as_interrupt(), _progress(not json_out) as step:
        view = container.backups.run(system=system, row=row, actor=actor, progress=step)
    if json_out:
        emit_json(view.as_dict())
    else:
        sites = ", ".join(f"{s['site']}: {'ok' if s['ok'] else 'FAILED'}" for s in view.sites)
        console.print(
            f"backup run {view.id}: {view.row} of {view.system} [bold]{view.status}[/bold] "
            f"in {seconds_text(view.seconds, 'en')} ({sites})"
        )
        if view.error:
            err_console.print(f"{view.error}", markup=False)
    if view.status != RunStatus.SUCCEEDED.value:
        raise typer.Exit(code=ExitCode.FAILED)


@backup_app.command("list")
def list_runs(
    system: Annotated[str | None, typer.Option(help="Only this system")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 30,
    json_out: JsonOpt = False,
) -> None:
    """Backup runs, newest first."""
    runs = open_container().backups.runs(system=system, limit=limit)
    if json_out:
        emit_json([r.as_dict() for r in runs])
        return
    table = Table("id", "system", "row", "status", "started (UTC)", "seconds", "size", "sites")
    for r in runs:
        table.add_row(
            str(r.id),
            r.system,
            r.row,
            r.status,
            r.started_at.strftime("%Y-%m-%d %H:%M:%S"),
            f"{r.seconds or 0:.1f}",
            _size(r.size_bytes),
            " ".join(f"{s['site']}:{'ok' if s['ok'] else 'x'}" for s in r.sites),
        )
    console.print(table)


@backup_app.command("expire")
def expire(system: str, token: TokenOpt = None, json_out: JsonOpt = False) -> None:
    """Apply the policy's retention to SYSTEM's repositories now."""
    container = open_container()
    actor = resolve_actor(container, token, action="backup.expire", roles=OPERATORS)
    removed = container.backups.expire(system=system, actor=actor)
    if json_out:
        emit_json(removed)
        return
    for data, items in removed.items():
        console.print(f"{data}: removed {len(items)}{': ' + ', '.join(items) if items else ''}")


@backup_app.command("status")
def status(
    measure: Annotated[
        bool | None,
        typer.Option(
            help="Measure the RPO now (connects; records the readings, so it needs a token). "
            "Default: measure when a token is given, else show the last readings",
            show_default=False,
        ),
    ] = None,
    token: TokenOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """RPO and RTO per system: objective, measured, status."""
    container = open_container()
    monitor = container.backup_monitor
    if measure is None:
        measure = bool(token or os.environ.get(TOKEN_ENV))
    if measure:
        actor = resolve_actor(container, token, action="backup.measure", roles=MEASURERS)
        objectives = monitor.measure(actor=actor)
    else:
        objectives = monitor.objectives()
    if json_out:
        emit_json([o.as_dict() for o in objectives])
        return
    table = Table("system", "RPO", "measured", "status", "RTO", "estimate", "status", "overdue")
    for o in objectives:
        overdue = ", ".join(d.kind for d in o.drills if d.overdue)
        table.add_row(
            o.system,
            seconds_text(o.rpo_seconds, "en"),
            seconds_text(o.rpo_measured, "en"),
            o.rpo_status,
            seconds_text(o.rto_seconds, "en"),
            seconds_text(o.rto_estimate, "en"),
            o.rto_status,
            overdue,
        )
    console.print(table)


# -- drill -----------------------------------------------------------------------------------


@drill_app.command("run")
def drill_run(
    kind: Annotated[
        DrillKind,
        typer.Argument(
            help="full-restore, pitr, application-restore, failover or disaster-recovery"
        ),
    ],
    system: Annotated[str | None, typer.Option(help="The system to drill")] = None,
    target: Annotated[
        str | None, typer.Option(help="pitr: time to restore to (or age: 3h)")
    ] = None,
    scratch: Annotated[
        bool, typer.Option(help="pitr only: a self-contained demonstration on this machine")
    ] = False,
    lang: LangOpt = "de",
    token: TokenOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Run a recovery drill into a segregated scratch copy and print its Testprotokoll."""
    lang = _lang(lang)
    if scratch:
        _scratch(kind, system, target, lang, json_out)
        return
    if system is None:
        raise ValidationError([Issue("--system", "required (or --scratch for the demonstration)")])
    when = parse_when(target, field="--target", now=SystemClock().now())
    container = open_container()
    actor = resolve_actor(container, token, action="drill.run", roles=OPERATORS)
    with _terminate_as_interrupt(), _progress(not json_out) as step:
        view = container.drills.run(
            kind=kind, system=system, actor=actor, target=when, progress=step
        )
    _print_drill(view.as_dict(), view.protocol or {}, lang, json_out)
    if view.status != "passed":
        raise typer.Exit(code=ExitCode.FAILED)


def _scratch(
    kind: DrillKind, system: str | None, target: str | None, lang: str, json_out: bool
) -> None:

    from leitstand.backups.demo import run_scratch_pitr

    if kind is not DrillKind.PITR:
        raise ValidationError([Issue("--scratch", f"only for pitr (got {kind.value})")])
    if system is not None or target is not None:
        raise ValidationError([Issue("--scratch", "creates its own system and target time")])
    with _terminate_as_interrupt(), _progress(not json_out) as step:
        base = local_policy()
        # A self-contained demonstration in its own temporary store: no evidence of this
        # installation is written, so the local operator runs it.
        result = run_scratch_pitr(base=base, actor=local_actor(), progress=step)
    info = {
        "status": result.status,
        "target": result.target.isoformat(),
        "markers_before_target": result.markers_before,
        "markers_after_target": result.markers_after,
        "scratch_folder": result.root,
        "cleaned_up": result.cleaned_up,
    }
    _print_drill(info, result.protocol, lang, json_out)
    if result.status != "passed":
        raise typer.Exit(code=ExitCode.FAILED)


def _print_drill(info: dict[str, Any], protocol: dict[str, Any], lang: str, json_out: bool) -> None:
    if json_out:
        emit_json({**info, "protocol": protocol, "markdown": render_markdown(protocol, lang)})
        return
    console.print(render_markdown(protocol, lang), markup=False)


@drill_app.command("list")
def drill_list(
    system: Annotated[str | None, typer.Option(help="Only this system")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Drills, newest first."""
    drills = open_container().drills.drills(system=system)
    if json_out:
        emit_json([d.as_dict(with_protocol=False) for d in drills])
        return
    table = Table("id", "kind", "system", "status", "started (UTC)", "total", "RTO")
    for d in drills:
        table.add_row(
            str(d.id),
            d.kind,
            d.system,
            d.status,
            d.started_at.strftime("%Y-%m-%d %H:%M:%S"),
            seconds_text(d.total_seconds, "en"),
            seconds_text(d.rto_seconds, "en"),
        )
    console.print(table)


@drill_app.command("show")
def drill_show(drill_id: int, lang: LangOpt = "de", json_out: JsonOpt = False) -> None:
    """The Testprotokoll of a drill (German Markdown by default)."""
    lang = _lang(lang)
    drills = open_container().drills
    view = drills.get(drill_id)
    if json_out:
        emit_json(view.as_dict())
        return
    console.print(drills.markdown(drill_id, lang), markup=False)


@drill_app.command("due")
def drill_due(json_out: JsonOpt = False) -> None:
    """Every system's drills with the last result, the next due date and overdue flags."""
    objectives = open_container().backup_monitor.objectives()
    rows = [
        {"system": o.system, **d.as_dict()} for o in objectives if o.configured for d in o.drills
    ]
    if json_out:
        emit_json(rows)
        return
    table = Table("system", "drill", "frequency", "last passed", "due", "overdue")
    for r in rows:
        table.add_row(
            r["system"],
            r["kind"],
            r["frequency"],
            r["last_passed"] or "never",
            r["due"] or "after the first backup",
            "OVERDUE" if r["overdue"] else "",
        )
    console.print(table)


def _size(value: int | None) -> str:
    if value is None:
        return ""
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(value)
