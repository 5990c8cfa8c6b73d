"""`leitstand logs`: render rsyslog/logrotate configuration, seal, verify, expire, search.

``render``, ``types`` and ``verify`` need no user. ``seal`` and ``expire`` write evidence and
``search`` is checked against the log type's readers: they act as the user of ``--token`` (or
``LEITSTAND_TOKEN``); without a token they are refused (exit code 5) unless the policy lists
the action (``log.seal``, ``log.expire``, ``log.read``) in ``auth.local_admin_actions``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from leitstand.auth.model import ALL_ROLES, Role
from leitstand.cli_support import (
    JsonOpt,
    TokenOpt,
    console,
    emit_json,
    open_container,
    parse_when,
    resolve_actor,
)
from leitstand.errors import ExitCode
from leitstand.logs.service import LogService

if TYPE_CHECKING:
    from leitstand.bootstrap import Container

__all__ = ["app"]

app = typer.Typer(
    help="Log management: rsyslog/logrotate from the policy, sealed segments, retention, search.",
    no_args_is_help=True,
)
#: Who may seal and expire segments (both write evidence) from the CLI.
MAINTAINERS = (Role.DEVOPS, Role.SECURITY, Role.COMPLIANCE_OFFICER)


@contextmanager
def _service() -> Iterator[tuple[Container, LogService]]:
    """The container (for the token's user and the clock) and its logs service, closed after."""
    container = open_container()
    try:
        yield container, container.get(LogService)
    finally:
        container.close()


@app.command("types")
def types_command(json_out: JsonOpt = False) -> None:
    """The policy's log types: retention, stream file, rotation, readers, legal hold."""
    with _service() as (_, logs):
        types = logs.types()
    if json_out:
        emit_json([t.model_dump(mode="json") for t in types])
        return
    for t in types:
        hold = ", legal hold" if t.legal_hold else ""
        console.print(
            f"{t.key}: {t.retention_days} days, {t.file} ({t.rotation}{hold}), "
            f"readers {', '.join(t.readers)}",
            markup=False,
        )


@app.command("render")
def render_command(
    out: Annotated[Path, typer.Option("--out", help="Folder to write into")],
    environment: Annotated[
        str | None,
        typer.Option(help="Only the log types written in this environment (e.g. production)"),
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="rsyslog's TCP port on 127.0.0.1 (logs.streams.port)")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Write rsyslog.conf and logrotate.conf, checked by rsyslogd -N1 and logrotate -d first."""
    with _service() as (_, logs):
        report = logs.render(out=out, environment=environment, port=port)
        types = logs.types(environment=environment)
    if json_out:
        emit_json(
            {
                "out": str(report.out),
                "files": report.files,
                "checks": report.checks,
                "types": [t.model_dump(mode="json") for t in types],
            }
        )
        return
    console.print(f"wrote {', '.join(report.files)} to {report.out}", markup=False)
    for line in report.checks:
        console.print(f"  ok  {line}", markup=False)
    for t in types:
        console.print(f"  {t.key}: {t.file}, kept {t.retention_days} days", markup=False)


@app.command("seal")
def seal_command(token: TokenOpt = None, json_out: JsonOpt = False) -> None:
    """Seal every rotated segment not sealed yet (SHA-256 and size into the ledger)."""
    with _service() as (container, logs):
        actor = resolve_actor(container, token, action="log.seal", roles=MAINTAINERS)
        sealed = logs.seal(actor=actor)
    if json_out:
        emit_json([s.model_dump(mode="json") for s in sealed])
        return
    for s in sealed:
        console.print(f"sealed {s.path}: sha256:{s.sha256} ({s.size} bytes)", markup=False)
    if not sealed:
        console.print("no new segments")


@app.command("verify")
def verify_command(json_out: JsonOpt = False) -> None:
    """Check every sealed segment against its seal; exit 1 naming each changed one."""
    with _service() as (_, logs):
        result = logs.verify()
    if json_out:
        emit_json(result.model_dump(mode="json"))
    else:
        for p in result.problems:
            console.print(f"{p.problem}: {p.path} ({p.log_type}): {p.detail}", markup=False)
        state = "ok" if result.ok else f"{len(result.problems)} problem(s)"
        console.print(f"{result.checked} sealed segment(s) checked: {state}", markup=False)
    if not result.ok:
        raise typer.Exit(ExitCode.FAILED)


@app.command("expire")
def expire_command(token: TokenOpt = None, json_out: JsonOpt = False) -> None:
    """Delete segments past their type's retention (with evidence); keep legal holds."""
    with _service() as (container, logs):
        actor = resolve_actor(container, token, action="log.expire", roles=MAINTAINERS)
        result = logs.expire(actor=actor)
    if json_out:
        emit_json(result.model_dump(mode="json"))
        return
    for s in result.expired:
        console.print(f"expired {s.path} ({s.log_type})", markup=False)
    for s in result.held:
        console.print(f"kept {s.path} ({s.log_type}): legal hold", markup=False)
    console.print(f"{len(result.expired)} expired, {len(result.held)} kept under legal hold")


@app.command("search")
def search_command(
    log_type: Annotated[str, typer.Option("--type", help="The log type (audit, security, ...)")],
    since: Annotated[
        str | None, typer.Option(help="From this time on: 2026-11-01, RFC 3339, or 7d/24h ago")
    ] = None,
    grep: Annotated[str | None, typer.Option(help="Only lines with this text (any case)")] = None,
    limit: Annotated[int, typer.Option(help="At most this many lines")] = 200,
    token: TokenOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Lines of one log type, if your role may read it; reads of audit/security are recorded."""
    with _service() as (container, logs):
        actor = resolve_actor(container, token, action="log.read", roles=ALL_ROLES)
        start = parse_when(since, field="since", now=container.clock.now())
        result = logs.search(actor=actor, log_type=log_type, since=start, grep=grep, limit=limit)
    if json_out:
        emit_json(result.model_dump(mode="json"))
        return
    for line in result.lines:
        console.print(line.text, markup=False, soft_wrap=True)
    more = " (more lines: raise --limit)" if result.truncated else ""
    console.print(f"{len(result.lines)} line(s){more}", markup=False)
