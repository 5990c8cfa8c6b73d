"""`leitstand user`: add users, issue and revoke tokens."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from leitstand.auth.model import Role
from leitstand.bootstrap import local_actor
from leitstand.cli_support import console, emit_json, err_console, open_container

__all__ = ["app"]

app = typer.Typer(help="Users, roles and API tokens.", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="User name (lower case)")],
    role: Annotated[Role, typer.Option(help="Role the user acts in")],
    json_out: JsonOpt = False,
) -> None:
    """Create a user and print their API token once (leitstand keeps only its hash)."""
    user, token = open_container().auth.add_user(name=name, role=role, actor=local_actor())
    if json_out:
        emit_json({"name": user.name, "role": user.role.value, "token": token})
        return
    console.print(f"user {user.name} ({user.role.value}) created. API token (shown once):")
    console.print(token, markup=False)


@app.command("token")
def token(
    name: Annotated[str, typer.Argument(help="User name")],
    label: Annotated[str, typer.Option(help="What the token is for")] = "api",
    json_out: JsonOpt = False,
) -> None:
    """Issue an additional token for a user (printed once)."""
    value = open_container().auth.issue_token(name=name, label=label, actor=local_actor())
    if json_out:
        emit_json({"name": name, "token": value})
        return
    err_console.print(f"new token for {name} (shown once):")
    console.print(value, markup=False)


@app.command("revoke")
def revoke(
    name: Annotated[str, typer.Argument(help="User name")], json_out: JsonOpt = False
) -> None:
    """Revoke every token of a user."""
    count = open_container().auth.revoke_tokens(name=name, actor=local_actor())
    if json_out:
        emit_json({"name": name, "revoked": count})
    else:
        console.print(f"revoked {count} token(s) of {name}")


@app.command("disable")
def disable(name: Annotated[str, typer.Argument(help="User name")]) -> None:
    """Disable a user; their tokens stop working at once."""
    open_container().auth.disable_user(name=name, actor=local_actor())
    console.print(f"user {name} disabled")


@app.command("list")
def list_users(json_out: JsonOpt = False) -> None:
    """List users with their roles and active token counts."""
    users = open_container().auth.list_users()
    if json_out:
        emit_json(
            [
                {
                    "name": u.name,
                    "role": u.role.value,
                    "created_at": u.created_at.isoformat(),
                    "disabled": u.disabled,
                    "active_tokens": u.active_tokens,
                }
                for u in users
            ]
        )
        return
    table = Table("name", "role", "created (UTC)", "disabled", "active tokens")
    for u in users:
        table.add_row(
            u.name,
            u.role.value,
            u.created_at.strftime("%Y-%m-%d %H:%M"),
            "yes" if u.disabled else "",
            str(u.active_tokens),
        )
    console.print(table)
