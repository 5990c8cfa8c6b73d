"""`leitstand alert`, `leitstand oncall`: list and acknowledge alerts, see who is on call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from leitstand.alerting.api import ACKERS
from leitstand.alerting.schemas import AlertOut
from leitstand.cli_support import (
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
from leitstand.policy.labels import human_duration
from leitstand.web.i18n import display_zone
from leitstand.web.render import local_time

__all__ = ["alerting_app", "alerts_app", "oncall_app", "stack_app"]

alerts_app = typer.Typer(help="Alerts: list, show, acknowledge.", no_args_is_help=True)
oncall_app = typer.Typer(help="The on-call rotation.", no_args_is_help=True)


def _age(since: datetime, now: datetime) -> str:
    seconds = max(0, int((now - since).total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}min"
    return f"{seconds // 3600}h {seconds % 3600 // 60}min"


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in data.items()}


def _alert_json(alert: AlertOut) -> dict[str, Any]:
    """An alert as the CLI's JSON shows it: its own times as ISO text (``isoformat``), the
    escalation and notifications (only where present) as the API writes them."""
    data = _jsonable(alert.model_dump(exclude={"escalation", "notifications"}))
    if alert.escalation is not None:
        data["escalation"] = alert.escalation.model_dump(mode="json")
    if alert.notifications is not None:
        data["notifications"] = [n.model_dump(mode="json") for n in alert.notifications]
    return data


@alerts_app.command("list")
def list_alerts(
    all_: Annotated[bool, typer.Option("--all", help="Include resolved alerts")] = False,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List firing alerts (newest first) with level, age and acknowledgement."""
    container = open_container()
    rows = container.alerting.queries.alert_list(status=None if all_ else "firing", tenant=tenant)
    if json_out:
        emit_json([_alert_json(r) for r in rows])
        return
    if not rows:
        console.print("no firing alerts" if not all_ else "no alerts")
        return
    now, zone = container.clock.now(), display_zone(container.policy)
    table = Table("id", "level", "alert", "service", "tenant", "age", "acknowledged", "status")
    for r in rows:
        ack = (
            f"{r.acknowledged_by} {local_time(r.acknowledged_at, zone)}"
            if r.acknowledged_at
            else "–"
        )
        table.add_row(
            str(r.id),
            str(r.level),
            f"{r.name} ({r.severity})",
            r.service or "",
            r.tenant or "",
            _age(r.received_at, now),
            ack,
            r.status,
        )
    console.print(table)


@alerts_app.command("show")
def show(
    alert_id: Annotated[int, typer.Argument(help="Alert id")], json_out: JsonOpt = False
) -> None:
    """Show an alert with its escalation chain and every notification attempt."""
    alert = open_container().alerting.queries.alert(alert_id)
    data = _alert_json(alert)
    if json_out:
        emit_json(data)
        return
    for key, value in data.items():
        if key not in ("escalation", "notifications"):
            console.print(f"{key}: {value}", markup=False)
    escalation = data.get("escalation")
    if escalation:
        console.print(
            f"escalation: {escalation['state']} at level {escalation['level']}"
            f" (next step {escalation['next_at'] or '–'},"
            f" incident {escalation['incident_id'] or '–'})",
            markup=False,
        )
    for n in alert.notifications or []:
        outcomes = ", ".join(f"#{a.attempt} {a.outcome}" for a in n.attempts) or "–"
        console.print(
            f"  notification {n.id} level {n.level} {n.channel}: {n.status} ({outcomes})",
            markup=False,
        )


@alerts_app.command("ack")
def ack(
    alert_id: Annotated[int, typer.Argument(help="Alert id")],
    note: Annotated[str | None, typer.Option(help="What you are doing about it")] = None,
    token: TokenOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Acknowledge a firing alert: its escalation stops."""
    container = open_container()
    actor = resolve_actor(container, token, action="alert.ack", roles=ACKERS)
    row = container.alerting.acknowledge(alert_id=alert_id, actor=actor, note=note)
    if json_out:
        emit_json(_alert_json(container.alerting.queries.alert(row.id)))
        return
    console.print(f"alert {row.id} ({row.name}) acknowledged by {row.acknowledged_by}")


@oncall_app.command("now")
def now(
    at: Annotated[str | None, typer.Option(help="Another time (2026-12-24T20:00, Berlin)")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Who is on call now, and who a critical alert would reach."""
    container = open_container()
    when = parse_when(at, field="at", now=container.clock.now()) if at else None
    shift = container.alerting.oncall(when)
    chain = container.alerting.chain("critical")
    if json_out:
        critical = [step.as_dict() for step in chain]
        emit_json({"shift": shift.as_dict() if shift else None, "critical_chain": critical})
        return
    if shift is None:
        console.print("nobody is on call: add people to alerting.oncall.people in leitstand.yaml")
    else:
        person = container.policy.alerting.people[shift.person]
        kind = f"override ({shift.reason})" if shift.override else "rotation"
        console.print(
            f"on call: [bold]{person.name}[/bold] ({shift.person}) until "
            f"{local_time(shift.end, display_zone(container.policy))}, {kind}"
        )
    for step in chain:
        who = ", ".join(r.name for r in step.recipients) or "nobody"
        after = step.escalate_after_s
        nxt = (
            f"; unacknowledged after {human_duration(_seconds(after), 'en')} -> next level"
            if after
            else ""
        )
        console.print(f"  level {step.level} ({step.name}): {who}{nxt}", markup=False)


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


@oncall_app.command("schedule")
def schedule(
    weeks: Annotated[int, typer.Option(min=1, max=52, help="How many weeks ahead")] = 4,
    json_out: JsonOpt = False,
) -> None:
    """The coming shifts, overrides included."""
    from leitstand.alerting.oncall import shifts

    container = open_container()
    found = shifts(container.policy.alerting.oncall, container.clock.now().astimezone(UTC), weeks)
    if json_out:
        emit_json([s.as_dict() for s in found])
        return
    table, zone = Table("from", "until", "person", "kind"), display_zone(container.policy)
    for s in found:
        table.add_row(
            local_time(s.start, zone),
            local_time(s.end, zone),
            s.person,
            f"override: {s.reason or ''}" if s.override else "rotation",
        )
    console.print(table if found else "no rotation: add people to alerting.oncall.people")


alerting_app = typer.Typer(
    help="Prometheus rules, Alertmanager config and Grafana dashboards from the policy.",
    no_args_is_help=True,
)
stack_app = typer.Typer(
    help="The local Prometheus stack managed by `leitstand up`.", no_args_is_help=True
)


@alerting_app.command("render")
def render_command(
    out: Annotated[Path, typer.Option("--out", help="Folder to write into")],
    leitstand_url: Annotated[
        str, typer.Option(help="Where Alertmanager reaches leitstand")
    ] = "http://127.0.0.1:8080",
    credentials_file: Annotated[
        str | None,
        typer.Option(
            help="File with the token Alertmanager presents (<home>/stack/alertmanager.token)"
        ),
    ] = None,
    alertmanager: Annotated[str, typer.Option(help="host:port of Alertmanager")] = "127.0.0.1:9093",
    node_exporter: Annotated[
        str, typer.Option(help="host:port of node_exporter")
    ] = "127.0.0.1:9100",
    prometheus_url: Annotated[
        str, typer.Option(help="Prometheus URL for Grafana")
    ] = "http://127.0.0.1:9090",
    json_out: JsonOpt = False,
) -> None:
    """Write rules, rule tests, Alertmanager config and dashboards, each checked by its engine."""
    from rich.progress import Progress, SpinnerColumn, TextColumn

    from leitstand.alerting.engine_config import Endpoints
    from leitstand.alerting.engines import find_engines
    from leitstand.alerting.render import render
    from leitstand.settings import Settings

    settings = Settings()
    policy = local_policy()
    endpoints = Endpoints(
        leitstand_url=leitstand_url,
        credentials_file=credentials_file or str(settings.home / "stack" / "alertmanager.token"),
        alertmanager=alertmanager,
        node_exporter=node_exporter,
        prometheus_url=prometheus_url,
    )
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), transient=True, console=err_console
    ) as progress:
        progress.add_task("generating and checking with promtool and amtool", total=None)
        report = render(policy, out=out, endpoints=endpoints, engines=find_engines())
    if json_out:
        emit_json(
            {
                "out": str(report.out),
                "files": report.files,
                "checks": report.checks,
                "rules": report.rules,
                "alerts": report.alerts,
                "tests": report.tests,
            }
        )
        return
    console.print(
        f"wrote {len(report.files)} files to {report.out}: {report.alerts} alerts, "
        f"{report.rules - report.alerts} recording rules, {report.tests} rule tests, "
        f"{sum(f.endswith('.json') for f in report.files)} dashboards"
    )
    for line in report.checks:
        console.print(f"  ok  {line}", markup=False)


@stack_app.command("status")
def stack_status(json_out: JsonOpt = False) -> None:
    """Show the installed engines and the ones `leitstand up` runs."""
    from leitstand.alerting.stack import read_status
    from leitstand.settings import Settings

    status = read_status(Settings().home)
    if json_out:
        emit_json(status)
        return
    for name, path in status["installed"].items():
        console.print(f"{name}: {path or 'not installed'}", markup=False)
    if status["hint"]:
        console.print(f"install: {status['hint']}", markup=False)
    if not status["components"]:
        console.print("not running (start `leitstand up`)")
    for c in status["components"]:
        state = "ready" if c["ready"] else ("running" if c["running"] else "stopped")
        console.print(f"  {c['name']}: {state}  pid {c['pid']}  {c['url']}", markup=False)
