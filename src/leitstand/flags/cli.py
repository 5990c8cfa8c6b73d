"""`leitstand flag`: create, target, toggle, kill, archive, evaluate; stale flags; code refs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.table import Table

from leitstand.auth.model import Actor
from leitstand.bootstrap import Container
from leitstand.cli_support import (
    ExitCode,
    JsonOpt,
    TokenOpt,
    console,
    emit_json,
    err_console,
    open_container,
    resolve_actor,
)
from leitstand.errors import Issue, ValidationError
from leitstand.flags.evaluation import tenant_state
from leitstand.flags.model import FlagRecord, ValueType
from leitstand.flags.rules import WRITERS
from leitstand.flags.schemas import EvaluationOut, FlagOut, StaleFlagOut, TargetingSchema
from leitstand.flags.service import FlagService

__all__ = ["app"]

app = typer.Typer(
    help="Feature flags per tenant: targeting, rollouts, kill switch, lifecycle.",
    no_args_is_help=True,
)
EnvOpt = Annotated[str, typer.Option("--env", "-e", help="Environment (policy environments)")]
ReasonOpt = Annotated[
    str | None, typer.Option("--reason", "-r", help="Why (required in production)")
]
KeyArg = Annotated[str, typer.Argument(help="Flag key")]
ChangeOpt = Annotated[
    int | None,
    typer.Option("--change", help="The change record this switch belongs to (its change log)"),
]


def _actor(container: Container, token: str | None, action: str) -> Actor:
    return resolve_actor(container, token, action=action, roles=WRITERS)


def _change(container: Container, change_id: int | None) -> int | None:
    if change_id is not None:
        container.changes.get(change_id)  # an unknown change number is refused here
    return change_id


def _act(
    action: str,
    token: str | None,
    json_out: bool,
    do: Callable[[FlagService, Actor, int | None], FlagRecord],
    *,
    change: int | None = None,
) -> None:
    """Act on a flag as the resolved actor (for ``change``, if given) and print the result."""
    container = open_container()
    actor = _actor(container, token, action)
    flag = do(container.flags, actor, _change(container, change))
    _done(container.flags, flag, json_out)


def _print_flag(flag: FlagRecord, environments: list[str], tenants: list[str]) -> None:
    console.print(
        f"[bold]{flag.key}[/bold] ({flag.kind}, {flag.value_type.value}) v{flag.version}"
        + (" [dim]archived[/dim]" if flag.archived else ""),
        highlight=False,
    )
    if flag.description:
        console.print(f"  {flag.description}", markup=False)
    table = Table("environment", "switch", *tenants)
    for env in environments:
        t = flag.targeting(env)
        switch = "killed" if t.killed else ("on" if t.enabled else "off")
        table.add_row(env, switch, *(tenant_state(flag.config(env), x) for x in tenants))
    console.print(table)


def _flag_json(service: FlagService, flag: FlagRecord) -> dict[str, Any]:
    out = FlagOut.of(flag, environments=service.environments, tenants=service.tenants)
    return out.model_dump(mode="json")


def _done(service: FlagService, flag: FlagRecord, json_out: bool) -> None:
    if json_out:
        emit_json(_flag_json(service, flag))
    else:
        _print_flag(flag, service.environments, service.tenants)


@app.command("list")
def list_flags(
    archived: Annotated[bool, typer.Option(help="Include archived flags")] = True,
    json_out: JsonOpt = False,
) -> None:
    """List flags with their switch and tenant states per environment."""
    service = open_container().flags
    flags = service.list_flags(include_archived=archived)
    if json_out:
        emit_json([_flag_json(service, f) for f in flags])
        return
    if not flags:
        console.print("no feature flags yet")
        return
    table = Table("key", "type", *service.environments)
    for f in flags:
        cells = []
        for env in service.environments:
            t = f.targeting(env)
            cells.append("killed" if t.killed else ("on" if t.enabled else "off"))
        table.add_row(f.key + (" (archived)" if f.archived else ""), f.kind, *cells)
    console.print(table)


@app.command("show")
def show(key: KeyArg, json_out: JsonOpt = False) -> None:
    """Show one flag: switches and each tenant's state per environment."""
    service = open_container().flags
    _done(service, service.get(key), json_out)


def _variants(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            [Issue("--variants", f'a JSON object like {{"a": 1}} ({exc.msg})')]
        ) from None
    if not isinstance(value, dict):
        raise ValidationError([Issue("--variants", f"a JSON object (got {text!r})")])
    return value


@app.command("create")
def create(
    key: KeyArg,
    kind: Annotated[str, typer.Option("--type", help="release, experiment, operational, ...")],
    description: Annotated[str, typer.Option(help="What the flag guards")] = "",
    owner: Annotated[str | None, typer.Option(help="Who removes it later")] = None,
    value_type: Annotated[ValueType, typer.Option(help="Type of the values")] = ValueType.BOOLEAN,
    variants: Annotated[
        str | None, typer.Option(help='Variants as JSON, e.g. {"a": "blue", "b": "green"}')
    ] = None,
    off_variant: Annotated[str | None, typer.Option(help="Variant served when off")] = None,
    token: TokenOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Create a flag; it starts off in every environment."""
    _act(
        "flag.create",
        token,
        json_out,
        lambda flags, actor, _change_id: flags.create(
            key=key,
            kind=kind,
            actor=actor,
            value_type=value_type,
            variants=_variants(variants),
            off_variant=off_variant,
            description=description,
            owner=owner,
        ),
    )


def _toggle_command(enabled: bool) -> Callable[..., None]:
    """The ``on`` (``enabled``) or ``off`` command: switch targeting in one environment."""

    def command(
        key: KeyArg,
        env: EnvOpt,
        reason: ReasonOpt = None,
        change: ChangeOpt = None,
        token: TokenOpt = None,
        json_out: JsonOpt = False,
    ) -> None:
        _act(
            "flag.on" if enabled else "flag.off",
            token,
            json_out,
            lambda flags, actor, change_id: flags.toggle(
                key, env, enabled=enabled, actor=actor, reason=reason, change_id=change_id
            ),
            change=change,
        )

    return command


app.command("on", help="Switch a flag's targeting on in one environment.")(_toggle_command(True))
app.command(
    "off",
    help="Switch a flag's targeting off in one environment (the off variant for everyone).",
)(_toggle_command(False))


@app.command("kill")
def kill(
    key: KeyArg,
    env: EnvOpt,
    reason: ReasonOpt = None,
    release: Annotated[bool, typer.Option("--release", help="Release the kill switch")] = False,
    change: ChangeOpt = None,
    token: TokenOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Pull the kill switch: the off variant for everyone, over every rule."""
    _act(
        "flag.kill",
        token,
        json_out,
        lambda flags, actor, change_id: flags.kill(
            key, env, killed=not release, actor=actor, reason=reason, change_id=change_id
        ),
        change=change,
    )


@app.command("tenants")
def tenants(
    key: KeyArg,
    env: EnvOpt,
    add: Annotated[list[str] | None, typer.Option("--add", help="Switch on for tenant")] = None,
    remove: Annotated[list[str] | None, typer.Option("--remove", help="Take off the list")] = None,
    exclude: Annotated[
        list[str] | None, typer.Option("--exclude", help="Always off for tenant")
    ] = None,
    include: Annotated[
        list[str] | None, typer.Option("--include", help="Undo an exclusion")
    ] = None,
    variant: Annotated[str | None, typer.Option(help="Variant for the listed tenants")] = None,
    reason: ReasonOpt = None,
    change: ChangeOpt = None,
    token: TokenOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Switch a flag on for tenants (this also switches the environment on) or exclude them."""
    _act(
        "flag.tenants",
        token,
        json_out,
        lambda flags, actor, change_id: flags.set_tenants(
            key,
            env,
            actor=actor,
            change_id=change_id,
            add=add or [],
            remove=remove or [],
            exclude=exclude or [],
            include=include or [],
            variant=variant,
            reason=reason,
        ),
        change=change,
    )


@app.command("rollout")
def rollout(
    key: KeyArg,
    env: EnvOpt,
    percent: Annotated[float, typer.Option("--percent", min=0, max=100, help="Share (sticky)")],
    variant: Annotated[str | None, typer.Option(help="Variant to roll out")] = None,
    stickiness: Annotated[
        str | None, typer.Option(help="Context attribute to hash (default targetingKey)")
    ] = None,
    reason: ReasonOpt = None,
    change: ChangeOpt = None,
    token: TokenOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Roll a variant out to a sticky percentage; raising it only adds subjects."""
    _act(
        "flag.rollout",
        token,
        json_out,
        lambda flags, actor, change_id: flags.rollout(
            key,
            env,
            percentage=percent,
            variant=variant,
            stickiness=stickiness,
            actor=actor,
            reason=reason,
            change_id=change_id,
        ),
        change=change,
    )


@app.command("target")
def target(
    key: KeyArg,
    env: EnvOpt,
    file: Annotated[Path, typer.Option("--file", "-f", help="Targeting as YAML or JSON")],
    reason: ReasonOpt = None,
    change: ChangeOpt = None,
    token: TokenOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Replace one environment's targeting from a file (rules, exclusions, fallthrough)."""
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValidationError([Issue(str(file), f"valid YAML or JSON ({exc})")]) from None
    from pydantic import ValidationError as PydanticError

    try:
        schema = TargetingSchema.model_validate(data)
    except PydanticError as exc:
        raise ValidationError(
            [
                Issue(".".join(str(p) for p in e["loc"]), e["msg"], source=str(file))
                for e in exc.errors()
            ]
        ) from None
    _act(
        "flag.target",
        token,
        json_out,
        lambda flags, actor, change_id: flags.set_targeting(
            key, env, schema.to_model(), actor=actor, reason=reason, change_id=change_id
        ),
        change=change,
    )


@app.command("archive")
def archive(
    key: KeyArg, reason: ReasonOpt = None, token: TokenOpt = None, json_out: JsonOpt = False
) -> None:
    """Archive a flag removed from the code (evaluations return the caller's default)."""
    _act(
        "flag.archive",
        token,
        json_out,
        lambda flags, actor, _change_id: flags.archive(key, actor=actor, reason=reason),
    )


@app.command("restore")
def restore(
    key: KeyArg, reason: ReasonOpt = None, token: TokenOpt = None, json_out: JsonOpt = False
) -> None:
    """Bring an archived flag back."""
    _act(
        "flag.restore",
        token,
        json_out,
        lambda flags, actor, _change_id: flags.restore(key, actor=actor, reason=reason),
    )


@app.command("evaluate")
def evaluate(
    key: KeyArg,
    env: EnvOpt,
    tenant: Annotated[str | None, typer.Option(help="Tenant id (tenantId)")] = None,
    subject: Annotated[str | None, typer.Option("--key", help="Targeting key (a user)")] = None,
    attr: Annotated[
        list[str] | None, typer.Option("--attr", help="Context attribute name=value")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Evaluate a flag for one context, exactly as clients do."""
    context: dict[str, object] = {}
    if tenant is not None:
        context["tenantId"] = tenant
    if subject is not None:
        context["targetingKey"] = subject
    for item in attr or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ValidationError([Issue("--attr", f"name=value (got {item!r})")])
        context[name] = value
    _served, results = open_container().flags.evaluate(
        environment=env, context=context, flags=[(key, None)]
    )
    out = EvaluationOut.of(key, results[0][1])
    if json_out:
        emit_json(out.model_dump(mode="json"))
        return
    if out.error_code:
        console.print(f"{key}: default (error {out.error_code}: {out.error_message})", markup=False)
    else:
        console.print(
            f"{key}: {json.dumps(out.value)} (variant {out.variant}, {out.reason}"
            + (f", rule {out.rule}" if out.rule else "")
            + ")",
            markup=False,
        )


@app.command("stale")
def stale(json_out: JsonOpt = False) -> None:
    """List stale flags; exit 1 when there are some and the policy's stale_gate is 'fail'."""
    service = open_container().flags
    found = service.stale()
    fails = service.stale_gate_fails(found)
    gate = service.policy.deployment.feature_flags.stale_gate.value
    if json_out:
        emit_json(
            {
                "stale": [StaleFlagOut.of(s).model_dump(mode="json") for s in found],
                "gate": gate,
                "fails": fails,
            }
        )
    elif not found:
        console.print("no stale flags")
    else:
        for s in found:
            owner = f" (owner {s.owner})" if s.owner else ""
            console.print(f"{s.key}: {s.message}{owner}", markup=False)
        console.print(f"{len(found)} stale flag(s); policy stale_gate: {gate}")
    if fails:
        raise typer.Exit(ExitCode.FAILED)


@app.command("refs")
def refs(
    path: Annotated[Path, typer.Argument(help="Code tree (or file) to scan")],
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 on references to unknown or archived flags")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Find flag keys in code: flags with no reference left, references to unknown/archived."""
    report = open_container().flags.references(path)
    if json_out:
        emit_json(report.as_dict())
    else:
        console.print(f"scanned {report.files_scanned} file(s) under {report.root}", markup=False)
        for key, found in sorted(report.references.items()):
            console.print(f"  {key}: {len(found)} reference(s)", markup=False)
        if report.unreferenced:
            console.print("no reference left (safe to archive):")
            for key in report.unreferenced:
                console.print(f"  {key}", markup=False)
        for label, items in (("unknown flag", report.unknown), ("archived flag", report.archived)):
            for r in items:
                err_console.print(f"{r.path}:{r.line}: {label} {r.key!r}", markup=False)
    if check and report.problems:
        raise typer.Exit(ExitCode.FAILED)


@app.command("history")
def history(
    key: KeyArg,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    json_out: JsonOpt = False,
) -> None:
    """The flag's evidence entries, newest first."""
    entries = open_container().flags.history(key, limit=limit)
    if json_out:
        emit_json([e.as_dict() for e in entries])
        return
    for e in entries:
        reason = e.payload.get("reason") or ""
        tenant = f" tenant={e.tenant}" if e.tenant else ""
        console.print(f"#{e.index} {e.time} {e.actor} {e.action}{tenant} {reason}", markup=False)
