"""`leitstand user`: add users, issue and revoke tokens."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

import typer
from rich.table import Table

from leitstand.auth.model import Role
from leitstand.cli_support import JsonOpt, TokenOpt, console, emit_json, err_console, open_container
from leitstand.cli_support import resolve_actor as _resolve
from leitstand.errors import Issue, ValidationError
from leitstand.policy.durations import parse_duration

__all__ = ["app"]

app = typer.Typer(help="Users, roles and API tokens.", no_args_is_help=True)


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="User name (lower case)")],
    role: Annotated[Role, typer.Option(help="Role the user acts in")],
    token: TokenOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Create a user and print their API token once (leitstand keeps only its hash).

    The first user of an empty store may be created without a token (``user.bootstrap`` in the
    policy's ``auth.local_admin_actions``); after that a devops user's token is needed.
    """
    container = open_container()
    action = "user.add" if container.auth.has_users() else "user.bootstrap"
    actor = _resolve(container, token, action=action, roles=(Role.DEVOPS,))
    user, token = container.auth.add_user(name=name, role=role, actor=actor)
    if json_out:
        emit_json({"name": user.name, "role": user.role.value, "token": token})
        return
    console.print(f"user {user.name} ({user.role.value}) created. API token (shown once):")
    console.print(token, markup=False)


@app.command("token")
def token(
    name: Annotated[str, typer.Argument(help="User name")],
    label: Annotated[str, typer.Option(help="What the token is for")] = "api",
    expires: Annotated[
        str | None,
        typer.Option(help="Valid for this long, e.g. 30d or 12h (default: until revoked)"),
    ] = None,
    acting_token: Annotated[
        str | None,
        typer.Option("--token", help="Act as this API token's user (default: $LEITSTAND_TOKEN)"),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Issue an additional token for a user (printed once)."""
    lifetime = _lifetime(expires)
    container = open_container()
    actor = _resolve(container, acting_token, action="user.token", roles=(Role.DEVOPS,))
    value, expires_at = container.auth.issue_expiring_token(
        name=name, label=label, actor=actor, expires=lifetime
    )
    if json_out:
        emit_json(
            {
                "name": name,
                "token": value,
                "expires_at": expires_at.isoformat() if expires_at else None,
            }
        )
        return
    until = f", valid until {_when(expires_at)} UTC" if expires_at else ""
    err_console.print(f"new token for {name} (shown once{until}):")
    console.print(value, markup=False)


def _lifetime(value: str | None) -> timedelta | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ValidationError([Issue("--expires", str(exc))]) from None


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


@app.command("revoke")
def revoke(
    name: Annotated[str, typer.Argument(help="User name")],
    token: TokenOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Revoke every token of a user."""
    container = open_container()
    actor = _resolve(container, token, action="user.revoke", roles=(Role.DEVOPS,))
    count = container.auth.revoke_tokens(name=name, actor=actor)
    if json_out:
        emit_json({"name": name, "revoked": count})
    else:
        console.print(f"revoked {count} token(s) of {name}")


@app.command("disable")
def disable(name: Annotated[str, typer.Argument(help="User name")], token: TokenOpt = None) -> None:
    """Disable a user; their tokens stop working at once."""
    container = open_container()
    actor = _resolve(container, token, action="user.disable", roles=(Role.DEVOPS,))
    container.auth.disable_user(name=name, actor=actor)
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
                    "last_used_at": u.last_used_at.isoformat() if u.last_used_at else None,
                }
                for u in users
            ]
        )
        return
    table = Table("name", "role", "created (UTC)", "disabled", "active tokens", "last used (UTC)")
    for u in users:
        table.add_row(
            u.name,
            u.role.value,
            u.created_at.strftime("%Y-%m-%d %H:%M"),
            "yes" if u.disabled else "",
            str(u.active_tokens),
            _when(u.last_used_at) or "never",
        )
    console.print(table)
