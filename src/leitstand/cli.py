"""The `leitstand` command line. Entry points are thin: parse, call one service, map errors.

Every user error is one line on stderr and exit code 2; no traceback reaches a user. The exit
codes are ``leitstand.cli_support.ExitCode`` (0 ok, 1 a verification or gate said no, 2 bad input,
3 incomplete, 4 internal error, 5 forbidden; 130 interrupted), documented in docs/operations.md.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Annotated

import click
import typer

from leitstand import __version__, migrations
from leitstand.alerting.cli import alerting_app, alerts_app, oncall_app, stack_app
from leitstand.auth.cli import app as user_app
from leitstand.backups.cli import backup_app, drill_app
from leitstand.changes.cli import app as change_app
from leitstand.cli_support import (
    ExitCode,
    TokenOpt,
    console,
    emit_json,
    err_console,
    open_container,
    resolve_actor,
)
from leitstand.db import Database
from leitstand.errors import LeitstandError
from leitstand.flags.cli import app as flags_app
from leitstand.gates.cli import app as gate_app
from leitstand.incidents.cli import app as incident_app
from leitstand.ledger.cli import app as audit_app
from leitstand.ledger.witness_cli import app as witness_app
from leitstand.observability import configure_logging
from leitstand.policy.cli import app as policy_app
from leitstand.policy.cli import init_command
from leitstand.releases.cli import app as release_app
from leitstand.scheduler.cli import app as scheduler_app
from leitstand.settings import Settings

__all__ = ["app", "main"]

app = typer.Typer(
    name="leitstand",
    help="Operations control plane: policy, evidence ledger, gates, releases, alerting, "
    "incidents and backups.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(policy_app, name="policy", help="Show and validate the operations policy.")
app.add_typer(audit_app, name="audit")
app.add_typer(witness_app, name="witness")
app.add_typer(user_app, name="user")
app.add_typer(scheduler_app, name="scheduler")
app.add_typer(backup_app, name="backup")
app.add_typer(drill_app, name="drill")
app.add_typer(gate_app, name="gate")
app.add_typer(change_app, name="change")
app.add_typer(release_app, name="release")
app.add_typer(flags_app, name="flags")
app.add_typer(alerts_app, name="alerts")
app.add_typer(alerting_app, name="alerting")
app.add_typer(oncall_app, name="oncall")
app.add_typer(stack_app, name="stack")
app.add_typer(incident_app, name="incident")
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")


def _version(value: bool) -> None:
    if value:
        console.print(f"leitstand {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """leitstand turns an operations policy into running controls and proves that they ran."""


@app.command("init")
def init(
    force: Annotated[bool, typer.Option(help="Overwrite an existing leitstand.yaml")] = False,
) -> None:
    """Write a commented starter leitstand.yaml (the seed's systems, example tenants) here."""
    init_command(force=force)


@app.command("up")
def up(
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(min=0, max=65535, help="Port (default 8080)")] = None,
    scheduler: Annotated[bool, typer.Option(help="Run the timer loop in this process")] = True,
    tls_cert: Annotated[
        Path | None, typer.Option(help="PEM certificate: serve HTTPS (with --tls-key)")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option(help="PEM private key of --tls-cert")] = None,
) -> None:
    """Start the control plane: migrate, load the policy, serve the API and the web UI."""
    from leitstand.server import serve

    overrides: dict[str, object] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    if tls_cert is not None:
        overrides["tls_cert"] = tls_cert
    if tls_key is not None:
        overrides["tls_key"] = tls_key
    settings = Settings(**overrides)  # type: ignore[arg-type]
    serve(settings, run_scheduler=scheduler)


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument()] = "heads", token: TokenOpt = None
) -> None:
    """Migrate the database schema up (default: every domain to its newest revision)."""
    _may_change_schema("db.upgrade", token)
    db = _database()
    migrations.upgrade(db, revision)
    console.print(f"database at {_revisions(migrations.current_heads(db))}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target, e.g. base, flags@-1 or 0001")],
    token: TokenOpt = None,
) -> None:
    """Migrate the database schema down (every revision has a rollback)."""
    _may_change_schema("db.downgrade", token)
    db = _database()
    migrations.downgrade(db, revision)
    console.print(f"database at {_revisions(migrations.current_heads(db))}")


@db_app.command("current")
def db_current(json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show the schema revision of the database and the newest one shipped."""
    db = _database()
    current, heads = migrations.current_heads(db), migrations.heads(db)
    if json_out:
        emit_json({"current": sorted(current), "heads": sorted(heads)})
    else:
        console.print(f"current: {_revisions(current)}  shipped: {_revisions(heads)}")


def _revisions(revisions: frozenset[str]) -> str:
    return ", ".join(sorted(revisions)) or "base (empty)"


def _may_change_schema(action: str, token: str | None) -> None:
    """Schema changes are the local administrator's if the policy lists them in
    ``auth.local_admin_actions`` (the seed does); otherwise they need a devops user's token."""
    from leitstand.auth.model import Role
    from leitstand.policy.loader import find_policy_file, load_policy

    policy = load_policy(Settings().policy or find_policy_file(Path.cwd()))
    if action in policy.auth.local_admin_actions:
        return
    container = open_container(migrate=False)
    try:
        resolve_actor(container, token, action=action, roles=(Role.DEVOPS,))
    finally:
        container.close()


def _database() -> Database:
    settings = Settings()
    if settings.is_embedded:
        settings.home.mkdir(parents=True, exist_ok=True)
    db = Database(settings.effective_database_url, schema=settings.database_schema)
    db.check()
    return db


def _usage_error_types() -> tuple[type[Exception], ...]:
    # Typer >= 0.20 vendors click as typer._click; older Typer raises click's own classes.
    kinds: list[type[Exception]] = [click.UsageError]
    try:
        from typer._click import exceptions as vendored
    except ImportError:  # pragma: no cover - depends on the Typer release
        return tuple(kinds)
    kinds.append(vendored.UsageError)
    return tuple(kinds)


_USAGE_ERRORS = _usage_error_types()


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; map every error to a one-line message and an exit code."""
    # Logs go to stderr as JSON (warnings and up), so stdout stays clean for --json output;
    # `leitstand up` reconfigures with the configured level.
    configure_logging(os.environ.get("LEITSTAND_CLI_LOG_LEVEL", "warning"))
    command = typer.main.get_command(app)
    try:
        result = command.main(args=argv, prog_name="leitstand", standalone_mode=False)
    except _USAGE_ERRORS as exc:
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError":
            print(ctx.get_help() if ctx else "")
            sys.exit(ExitCode.OK)
        hint = f" (see '{ctx.command_path} --help')" if ctx else ""
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        err_console.print(f"error: {message}{hint}", markup=False)
        sys.exit(ExitCode.BAD_INPUT)
    except (click.exceptions.Exit, typer.Exit) as exc:
        sys.exit(exc.exit_code)
    except (click.Abort, typer.Abort):
        err_console.print("aborted")
        sys.exit(130)
    except LeitstandError as exc:
        err_console.print(f"error: {exc.message}", markup=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except OSError as exc:
        err_console.print(f"error: {_os_error(exc)}", markup=False)
        sys.exit(ExitCode.BAD_INPUT)
    except Exception as exc:
        # The last line of defence: one line for the user, the traceback only on request.
        if os.environ.get("LEITSTAND_DEBUG"):
            traceback.print_exc()
        err_console.print(
            f"error: internal error ({type(exc).__name__}: {exc}); "
            "set LEITSTAND_DEBUG=1 for details",
            markup=False,
        )
        sys.exit(ExitCode.INTERNAL)
    # Without standalone mode, click returns the code of a `typer.Exit` instead of exiting.
    if isinstance(result, int) and result:
        sys.exit(result)


def _os_error(exc: OSError) -> str:
    where = f"{exc.filename}: " if exc.filename else ""
    return f"{where}{exc.strerror or exc}"
