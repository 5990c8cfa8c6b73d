"""``leitstand policy show|validate`` and ``leitstand init``."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from leitstand.cli_support import ExitCode, configure_cli_logging
from leitstand.errors import LeitstandError
from leitstand.policy.loader import find_policy_file, load_policy, validate_policy_file
from leitstand.policy.render import Format, render_policy
from leitstand.policy.starter import write_starter

__all__ = ["app", "init_command"]

app = typer.Typer(
    name="policy",
    help="Show and validate the operations policy (leitstand.yaml over the built-in defaults).",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


class OutputFormat(StrEnum):
    """Formats of ``policy show``."""

    YAML = "yaml"
    JSON = "json"
    MD = "md"


class Language(StrEnum):
    """Languages of the Markdown output."""

    DE = "de"
    EN = "en"


_FORMATS: dict[OutputFormat, Format] = {
    OutputFormat.YAML: "yaml",
    OutputFormat.JSON: "json",
    OutputFormat.MD: "md",
}


def _fail(err: LeitstandError) -> typer.Exit:
    typer.echo(f"error: {err}", err=True)
    return typer.Exit(code=err.exit_code)


@app.command("show")
def show_command(
    fmt: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="Output format.")
    ] = OutputFormat.YAML,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            help="Policy file; default: $LEITSTAND_POLICY, else ./leitstand.yaml if present.",
        ),
    ] = None,
    lang: Annotated[
        Language, typer.Option("--lang", help="Language of the Markdown output.")
    ] = Language.DE,
) -> None:
    """Print the effective policy: the defaults merged with the policy file."""
    try:
        path = file if file is not None else find_policy_file(Path.cwd())
        policy = load_policy(path)
    except LeitstandError as err:
        raise _fail(err) from None
    text = render_policy(policy, _FORMATS[fmt], "en" if lang is Language.EN else "de")
    typer.echo(text, nl=False)


@app.command("validate")
def validate_command(
    file: Annotated[Path, typer.Argument(help="The policy file to check.")],
) -> None:
    """Check a policy file and print every problem with its line and column."""
    issues = validate_policy_file(file)
    if issues:
        for issue in issues:
            typer.echo(str(issue), err=True)
        raise typer.Exit(code=ExitCode.BAD_INPUT)
    typer.echo(f"OK: {file} is a valid leitstand policy")


@app.command("reload")
def reload_command(
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            help="Policy file; default: $LEITSTAND_POLICY, else ./leitstand.yaml if present.",
        ),
    ] = None,
) -> None:
    """Check the policy file, then make the running `leitstand up` apply it (SIGHUP).

    The managed monitoring stack re-renders and reloads with it; a file with problems is
    refused here and nothing changes.
    """
    from leitstand.policy_reload import signal_reload
    from leitstand.settings import Settings

    configure_cli_logging()  # the root skips it for the policy group (show, validate never log)

    settings = Settings()
    path = file if file is not None else (settings.policy or find_policy_file(Path.cwd()))
    if path is not None:
        issues = validate_policy_file(path)
        if issues:
            for issue in issues:
                typer.echo(str(issue), err=True)
            raise typer.Exit(code=ExitCode.BAD_INPUT)
    try:
        pid = signal_reload(settings.home)
    except LeitstandError as err:
        raise _fail(err) from None
    typer.echo(f"sent SIGHUP to leitstand up (PID {pid}): it reloads {path or 'the policy'}")


def init_command(
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing leitstand.yaml.")
    ] = False,
) -> None:
    """Write a commented starter leitstand.yaml into the current directory."""
    try:
        path = write_starter(Path.cwd(), force=force)
    except LeitstandError as err:
        raise _fail(err) from None
    typer.echo(f"wrote {path}")
    typer.echo("next: edit it, then run `leitstand policy validate leitstand.yaml`")
