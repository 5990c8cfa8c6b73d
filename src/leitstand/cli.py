"""The `leitstand` command line. Entry points are thin: parse, call one service, map errors.

Every user error is one line on stderr and exit code 2; no traceback reaches a user. The exit
codes are ``leitstand.cli_support.ExitCode`` (0 ok, 1 a verification or gate said no, 2 bad input,
3 incomplete, 4 internal error, 5 forbidden; 130 interrupted), documented in docs/operations.md.

Start-up is lazy (bench/cli.py): the command groups come from the registry of domains
(``leitstand.domains``) and a group's module is imported only when it runs; this module and
``cli_support`` import no domain, FastAPI, SQLAlchemy or Rich at the top.
"""

from __future__ import annotations

import os
import sys
from difflib import get_close_matches
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from typer.core import TyperGroup

from leitstand import __version__, domains
from leitstand.cli_support import ExitCode, TokenOpt, configure_cli_logging

if TYPE_CHECKING:
    from typer import _click

    from leitstand.db import Database

__all__ = ["ALIASES", "LazyGroup", "app", "main"]

#: Old command names that still work (hidden from the help): scripts written for them keep running.
ALIASES: dict[str, str] = {"alerts": "alert", "flags": "flag"}


class LazyGroup(TyperGroup):
    """The root group: the domains' command groups come from ``leitstand.domains`` and are
    imported only when one of them runs; the help lists them with the registry's text."""

    _listing = False

    def list_commands(self, ctx: _click.Context) -> list[str]:
        own = super().list_commands(ctx)
        early, late = [n for n in own if n != "db"], [n for n in own if n == "db"]
        return [*early, *(c.name for c in domains.commands()), *late]

    def get_command(self, ctx: _click.Context, cmd_name: str) -> _click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        name = ALIASES.get(cmd_name, cmd_name)
        entry = next((c for c in domains.commands() if c.name == name), None)
        if entry is None:
            return None
        if self._listing:
            # The help only needs a name and a line of text: import nothing for it.
            return TyperGroup(name=cmd_name, help=entry.help, hidden=cmd_name != name)
        from typer.models import TyperInfo

        # As `add_typer` would: the root's help settings, the registry's name and help.
        group = typer.main.get_group_from_info(
            TyperInfo(domains.load(entry.target), name=cmd_name, help=entry.help),
            pretty_exceptions_short=app.pretty_exceptions_short,
            rich_markup_mode=self.rich_markup_mode,
            suggest_commands=self.suggest_commands,
        )
        self.commands[cmd_name] = group
        return group

    def resolve_command(
        self, ctx: _click.Context, args: list[str]
    ) -> tuple[str | None, _click.Command | None, list[str]]:
        # Typer suggests only from the commands built so far: suggest from every name instead.
        suggest, self.suggest_commands = self.suggest_commands, False
        try:
            return super().resolve_command(ctx, args)
        except _usage_errors() as exc:
            matches = get_close_matches(args[0], self.list_commands(ctx)) if args else []
            message = getattr(exc, "message", "")
            if suggest and matches and message.startswith("No such command"):
                names = ", ".join(repr(m) for m in matches)
                exc.message = f"{message.rstrip('.')}. Did you mean {names}?"  # type: ignore[attr-defined]
            raise
        finally:
            self.suggest_commands = suggest

    def format_help(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    name="leitstand",
    cls=LazyGroup,
    help="Operations control plane: policy, evidence ledger, gates, releases, alerting, "
    "incidents and backups.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"leitstand {__version__}")
        raise typer.Exit()


#: Commands that never log (pure functions of the policy file): they skip configuring logging,
#: whose import of structlog is a quarter of `leitstand policy show`'s start. `policy reload`
#: configures it itself.
_QUIET = frozenset({"init", "policy"})


@app.callback()
def root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """leitstand turns an operations policy into running controls and proves that they ran."""
    # Here, not in main(): --version and --help import no logging machinery.
    if ctx.invoked_subcommand not in _QUIET:
        configure_cli_logging()


@app.command("init")
def init(
    force: Annotated[bool, typer.Option(help="Overwrite an existing leitstand.yaml")] = False,
) -> None:
    """Write a commented starter leitstand.yaml (the seed's systems, example tenants) here."""
    from leitstand.policy.cli import init_command

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
    from leitstand.settings import Settings

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
    from leitstand import migrations
    from leitstand.cli_support import console

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
    from leitstand import migrations
    from leitstand.cli_support import console

    _may_change_schema("db.downgrade", token)
    db = _database()
    migrations.downgrade(db, revision)
    console.print(f"database at {_revisions(migrations.current_heads(db))}")


@db_app.command("current")
def db_current(json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show the schema revision of the database and the newest one shipped."""
    from leitstand import migrations
    from leitstand.cli_support import console, emit_json

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
    from leitstand.cli_support import local_policy, open_container, resolve_actor

    policy = local_policy()
    if action in policy.auth.local_admin_actions:
        return
    container = open_container(migrate=False)
    try:
        resolve_actor(container, token, action=action, roles=(Role.DEVOPS,))
    finally:
        container.close()


def _database() -> Database:
    from leitstand.db import Database
    from leitstand.settings import Settings

    settings = Settings()
    if settings.is_embedded:
        settings.home.mkdir(parents=True, exist_ok=True)
    db = Database(settings.effective_database_url, schema=settings.database_schema)
    db.check()
    return db


def _loaded(module: str, *names: str) -> tuple[type[BaseException], ...]:
    """Exception classes of ``module`` if it is loaded (if not, nothing raised one of them)."""
    loaded = sys.modules.get(module)
    return tuple(getattr(loaded, n) for n in names if hasattr(loaded, n)) if loaded else ()


def _usage_errors() -> tuple[type[BaseException], ...]:
    # Typer >= 0.20 vendors click as typer._click; older Typer raises click's own classes.
    return _loaded("click.exceptions", "UsageError") + _loaded(
        "typer._click.exceptions", "UsageError"
    )


def _exits() -> tuple[type[BaseException], ...]:
    return (
        typer.Exit,
        *_loaded("click.exceptions", "Exit"),
        *_loaded("typer._click.exceptions", "Exit"),
    )


def _aborts() -> tuple[type[BaseException], ...]:
    return (
        typer.Abort,
        *_loaded("click.exceptions", "Abort"),
        *_loaded("typer._click.exceptions", "Abort"),
    )


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; map every error to a one-line message and an exit code."""
    try:
        _run(argv)
    finally:
        # Every container a command opened is closed, however the command ended (without
        # importing cli_support when no command loaded it: ``--version`` stays fast).
        support = sys.modules.get("leitstand.cli_support")
        if support is not None:
            support.close_containers()


def _run(argv: list[str] | None) -> None:
    from leitstand.errors import LeitstandError

    command = typer.main.get_command(app)
    try:
        result = command.main(args=argv, prog_name="leitstand", standalone_mode=False)
    except _usage_errors() as exc:
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError":
            print(ctx.get_help() if ctx else "")
            sys.exit(ExitCode.OK)
        hint = f" (see '{ctx.command_path} --help')" if ctx else ""
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        _error(f"error: {message}{hint}")
        sys.exit(ExitCode.BAD_INPUT)
    except _exits() as exc:
        sys.exit(getattr(exc, "exit_code", ExitCode.OK))
    except _aborts():
        _error("aborted")
        sys.exit(130)
    except LeitstandError as exc:
        _error(f"error: {exc.message}")
        sys.exit(exc.exit_code)
    except _loaded("pydantic_core", "ValidationError") as exc:
        _error(f"error: {_invalid(exc)}")
        sys.exit(ExitCode.BAD_INPUT)
    except KeyboardInterrupt:
        sys.exit(130)
    except OSError as exc:
        _error(f"error: {_os_error(exc)}")
        sys.exit(ExitCode.BAD_INPUT)
    except Exception as exc:
        # The last line of defence: one line for the user, the traceback only on request.
        if os.environ.get("LEITSTAND_DEBUG"):
            import traceback

            traceback.print_exc()
        _error(
            f"error: internal error ({type(exc).__name__}: {exc}); "
            "set LEITSTAND_DEBUG=1 for details"
        )
        sys.exit(ExitCode.INTERNAL)
    # Without standalone mode, click returns the code of a `typer.Exit` instead of exiting.
    if isinstance(result, int) and result:
        sys.exit(result)


def _invalid(exc: BaseException) -> str:
    """A validation error in one line per problem, without the rejected values (a settings
    value may be a database URL with its password)."""
    errors = getattr(exc, "errors", None)
    title = str(getattr(exc, "title", "input"))
    problems = []
    for error in errors(include_input=False, include_url=False) if callable(errors) else []:
        loc = [str(part) for part in error.get("loc", ())]
        msg = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        if title == "Settings":  # a whole-model message names its variable itself
            problems.append(f"LEITSTAND_{loc[0].upper()}: {msg}" if loc else msg)
        else:
            problems.append(f"{title}: {'.'.join(loc) or '(whole)'}: {msg}")
    return "; ".join(problems) or f"invalid {title}"


def _error(line: str) -> None:
    from leitstand.cli_support import err_console

    err_console.print(line, markup=False)


def _os_error(exc: OSError) -> str:
    where = f"{exc.filename}: " if exc.filename else ""
    return f"{where}{exc.strerror or exc}"
