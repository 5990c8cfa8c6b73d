"""`leitstand incident`: the response process from the command line."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from pydantic import BaseModel
from rich.table import Table

from leitstand.auth.model import Actor, Role
from leitstand.bootstrap import Container
from leitstand.cli_support import (
    JsonOpt,
    TokenOpt,
    console,
    emit_json,
    local_policy,
    open_container,
    parse_when,
    resolve_actor,
)
from leitstand.display import fmt_time
from leitstand.errors import Issue, ValidationError
from leitstand.incidents.api import REPORTERS, RESPONDERS
from leitstand.incidents.dora.check import classify_text
from leitstand.incidents.reporting.documents import render_document
from leitstand.incidents.reporting.dora_reports import report_markdown
from leitstand.incidents.schemas import AssessmentIn, parse_model
from leitstand.web.i18n import display_zone

__all__ = ["app"]

app = typer.Typer(
    help="Incidents: response phases, DORA, GDPR, post-mortems.", no_args_is_help=True
)
action_app = typer.Typer(help="Action items (Maßnahmen) of an incident.", no_args_is_help=True)
app.add_typer(action_app, name="action")
Id = Annotated[str, typer.Argument(help="Incident id, e.g. INC-2026-0001")]
Lang = Annotated[str, typer.Option("--lang", help="de (default) or en")]


#: Who may write notes, post-mortems and action items besides the responders (as in the API).
_NOTERS = (*RESPONDERS, Role.COMPLIANCE_OFFICER, Role.MANAGEMENT)
_FOLLOW_UP = (*RESPONDERS, Role.COMPLIANCE_OFFICER)


def _acting(token: str | None, action: str, roles: tuple[Role, ...]) -> tuple[Container, Actor]:
    container = open_container()
    return container, resolve_actor(container, token, action=action, roles=roles)


def _plain(value: Any) -> Any:
    """Read models as plain JSON data; times as ``isoformat()``, as the CLI prints them."""
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, date):  # and datetime
        return value.isoformat()
    return value


def _when(value: datetime | str | None, zone: ZoneInfo, lang: str = "de") -> str:
    """A time as the CLI prints it: in the policy's zone, to the second, with the zone's name
    (``27.11.2026 09:45:00 MEZ``; English ``27 Nov 2026 09:45:00 CET``)."""
    return fmt_time(value, lang, zone, seconds=True, sep=" ")


def _lang(value: str) -> str:
    if value not in ("de", "en"):
        raise ValidationError([Issue("--lang", f"de or en (got {value!r})")])
    return value


def _write(path: Path, text: str) -> None:
    # Temp file + rename: a reader never sees half a document.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    Path(tmp).replace(path)


FormatOpt = Annotated[
    str, typer.Option("--format", help="markdown (default), html or pdf (pdf needs --out)")
]


def _emit(markdown: str, fmt: str, out: Path | None, title: str, lang: str) -> None:
    """A document to a file (temp file + rename) or, as text, to the terminal."""
    body = render_document(markdown, fmt, title=title, lang=_lang(lang))
    if out is None:
        if fmt == "pdf":
            raise ValidationError([Issue("--out", "a PDF needs a file to write to")])
        console.print(body.decode(), markup=False, end="" if fmt == "html" else "\n")
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.")
    with os.fdopen(fd, "wb") as handle:
        handle.write(body)
    Path(tmp).replace(out)
    console.print(f"wrote {out}")


def _read_json(path: Path, field: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationError([Issue(field, f"cannot read {path}: {exc.strerror}")]) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            [Issue(field, f"invalid JSON: {exc.msg}", line=exc.lineno, column=exc.colno)]
        ) from None


@app.command("classify")
def classify_cmd(
    input_file: Annotated[Path, typer.Option("--input", help="Assessment as a JSON file")],
    lang: Lang = "de",
    json_out: JsonOpt = False,
) -> None:
    """Classify one DORA assessment and show its deadlines; stores nothing."""
    try:
        text = input_file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationError(
            [Issue("--input", f"cannot read {input_file}: {exc.strerror}")]
        ) from None
    # Only the policy (calendar, deadlines) is needed: no database is opened.
    policy = local_policy()
    result = _plain(classify_text(text, policy.incidents, lang=_lang(lang)))
    zone = display_zone(policy)
    if json_out:
        emit_json(result)
        return
    console.print(
        ("MAJOR" if result["major"] else "not major") + ": " + ", ".join(result["criteria_met"])
    )
    for reason in result["reasons"]:
        console.print(f"- {reason}", markup=False)
    for name, due in result["deadlines"].items():
        console.print(f"{name}: {due} ({_when(due, zone, lang)})")


@app.command("open")
def open_cmd(
    title: Annotated[str, typer.Argument(help="What is wrong")],
    severity: Annotated[str, typer.Option(help="SEV-1 .. SEV-4")],
    system: Annotated[list[str] | None, typer.Option(help="Affected system (repeat)")] = None,
    tenant: Annotated[list[str] | None, typer.Option(help="Affected tenant (repeat)")] = None,
    personal_data: Annotated[bool, typer.Option(help="Personal data affected (GDPR)")] = False,
    token: TokenOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Open an incident by hand."""
    c, actor = _acting(token, "incident.open", RESPONDERS)
    incident = c.incidents.create(
        title=title,
        severity=severity,
        actor=actor,
        details={
            "systems": system or [],
            "tenants": tenant or [],
            "personal_data_affected": personal_data,
        },
    )
    emit_json(_plain(incident)) if json_out else console.print(f"opened {incident.id}")


@app.command("list")
def list_incidents(
    status: Annotated[str | None, typer.Option(help="open, resolved or closed")] = None,
    tenant: Annotated[str | None, typer.Option(help="Only incidents affecting this tenant")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List incidents, newest first."""
    c = open_container()
    incidents = c.incidents.list(status=status, tenant=tenant)
    if json_out:
        emit_json(_plain(incidents))
        return
    zone = display_zone(c.policy)
    table = Table("id", "severity", "status", "phase", "opened", "systems", "tenants", "title")
    for i in incidents:
        table.add_row(
            i.id,
            i.severity,
            i.status,
            i.phase,
            _when(i.opened_at, zone),
            ", ".join(i.systems),
            ", ".join(i.tenants),
            i.title,
        )
    console.print(table if incidents else "no incidents")


@app.command("show")
def show(incident_id: Id, json_out: JsonOpt = False) -> None:
    """Show an incident with timeline, deadlines, action items and DORA assessments."""
    c = open_container()
    detail = _plain(c.incident_reporting.detail(incident_id))
    if json_out:
        emit_json(detail)
        return
    i = detail["incident"]
    console.print(
        f"[bold]{i['id']}[/bold] {i['severity']} {i['status']}/{i['phase']}: {i['title']}"
    )
    console.print(
        f"systems: {', '.join(i['systems']) or '-'}  tenants: {', '.join(i['tenants']) or '-'}"
    )
    zone = display_zone(c.policy)
    for e in detail["timeline"]:
        console.print(f"  {_when(e['time'], zone)}  {e['text']}", markup=False)
    for d in detail["deadlines"]:
        if d["open"]:
            flag = "OVERDUE " if d["overdue"] else ""
            console.print(f"  {flag}{d['label']}: {_when(d['due_at'], zone)}", markup=False)


@app.command("phase")
def phase(
    incident_id: Id,
    to: Annotated[str, typer.Argument(help="containment, analysis, remediation, follow_up")],
    at: Annotated[str | None, typer.Option(help="When it happened (default now)")] = None,
    note: Annotated[str | None, typer.Option(help="A note for the timeline")] = None,
    token: TokenOpt = None,
) -> None:
    """Move an incident to its next phase."""
    c, actor = _acting(token, "incident.phase", RESPONDERS)
    when = parse_when(at, field="--at", now=c.clock.now())
    incident = c.incidents.set_phase(incident_id, to, actor=actor, at=when, note=note)
    console.print(f"{incident.id}: {incident.phase}")


@app.command("times")
def times(
    incident_id: Id,
    reason: Annotated[str, typer.Option(help="Why the times are corrected (recorded)")],
    detected_at: Annotated[
        str | None, typer.Option("--detected-at", help="When it was detected")
    ] = None,
    aware_at: Annotated[
        str | None, typer.Option("--aware-at", help="When the provider became aware")
    ] = None,
    token: TokenOpt = None,
) -> None:
    """Correct detection and awareness (the commander, with a reason); the clocks follow."""
    c, actor = _acting(token, "incident.times", RESPONDERS)
    now = c.clock.now()
    incident = c.incidents.correct_times(
        incident_id,
        detected_at=parse_when(detected_at, field="--detected-at", now=now),
        aware_at=parse_when(aware_at, field="--aware-at", now=now),
        reason=reason,
        actor=actor,
    )
    zone = display_zone(c.policy)
    console.print(
        f"{incident.id}: detected {_when(incident.detected_at or incident.opened_at, zone)}, "
        f"aware {_when(incident.aware_at or incident.opened_at, zone)}",
        markup=False,
    )


@app.command("ack")
def ack(incident_id: Id, token: TokenOpt = None) -> None:
    """Acknowledge (take) an incident: meets its reaction time."""
    c, actor = _acting(token, "incident.ack", RESPONDERS)
    incident = c.incidents.acknowledge(incident_id, actor=actor)
    console.print(f"{incident.id}: acknowledged, commander {incident.commander}")


@app.command("note")
def note(
    incident_id: Id, text: Annotated[str, typer.Argument(help="The note")], token: TokenOpt = None
) -> None:
    """Add a note to the incident's timeline."""
    c, actor = _acting(token, "incident.note", _NOTERS)
    c.incidents.note(incident_id, text, actor=actor)
    console.print("noted")


@app.command("update")
def update(
    incident_id: Id,
    field: Annotated[list[str], typer.Option("--set", help="key=value (repeat); lists as JSON")],
    token: TokenOpt = None,
) -> None:
    """Change fields: severity, commander, scribe, communication, root_cause, impact, ..."""
    changes: dict[str, Any] = {}
    for item in field:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValidationError([Issue("--set", f"key=value (got {item!r})")])
        try:
            changes[key] = (
                json.loads(value) if value[:1] in "[{" or value in ("true", "false") else value
            )
        except json.JSONDecodeError:
            raise ValidationError([Issue(key, f"invalid JSON (got {value!r})")]) from None
    from leitstand.incidents.schemas import IncidentPatch

    patch = parse_model(IncidentPatch, changes)
    c, actor = _acting(token, "incident.update", RESPONDERS)
    incident = c.incidents.update(incident_id, patch.changes(), actor=actor)
    console.print(f"{incident.id} updated")


@app.command("close")
def close(incident_id: Id, token: TokenOpt = None) -> None:
    """Close an incident (after follow-up and its post-mortem)."""
    c, actor = _acting(token, "incident.close", RESPONDERS)
    incident = c.incidents.close(incident_id, actor=actor)
    console.print(f"{incident.id}: closed")


@app.command("merge")
def merge(
    incident_id: Annotated[str, typer.Argument(help="The duplicate, e.g. INC-2026-0002")],
    into: Annotated[str, typer.Option("--into", help="The incident that lives on")],
    reason: Annotated[str, typer.Option(help="Why they are one incident (recorded)")],
    token: TokenOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Merge a duplicate into another incident (close it as a duplicate): its clocks stop,
    its tenants, systems, alerts and timeline join the other one."""
    c, actor = _acting(token, "incident.merge", RESPONDERS)
    incident = c.incidents.merge(incident_id, into=into, reason=reason, actor=actor)
    if json_out:
        emit_json(_plain(incident))
        return
    console.print(f"{incident.id}: closed as duplicate of {incident.merged_into}")


@app.command("assess")
def assess(
    incident_id: Id,
    tenant: Annotated[str, typer.Option(help="The tenant (financial entity) assessed")],
    input_file: Annotated[Path, typer.Option("--input", help="Assessment facts as JSON")],
    token: TokenOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Classify the incident for one tenant (DORA); major starts its reporting deadlines."""
    facts = parse_model(AssessmentIn, _read_json(input_file, "--input"))
    c, actor = _acting(token, "incident.assess", REPORTERS)
    result = _plain(c.incident_reporting.assess(incident_id, tenant, facts, actor=actor))
    if json_out:
        emit_json(result)
        return
    console.print(f"{tenant}: {'major' if result['major'] else 'not major'}")
    for reason in result["reasons"]:
        console.print(f"- {reason}", markup=False)


@app.command("report")
def report(
    incident_id: Id,
    tenant: Annotated[str, typer.Option(help="The tenant")],
    stage: Annotated[str, typer.Option(help="initial, intermediate or final")] = "initial",
    lang: Lang = "de",
    out: Annotated[Path | None, typer.Option(help="Write to this file")] = None,
    fmt: FormatOpt = "markdown",
    json_out: JsonOpt = False,
) -> None:
    """Draft a tenant's DORA report (Markdown, HTML or PDF, German by default; --json: fields)."""
    draft = (
        open_container()
        .incident_reporting.draft(incident_id, tenant, stage)
        .model_dump(mode="json")
    )
    if not json_out:
        title = f"{incident_id}-{tenant}-{draft['stage']}-{lang}"
        _emit(report_markdown(draft, _lang(lang)), fmt, out, title, lang)
        return
    text = json.dumps(draft, indent=2, ensure_ascii=False) + "\n"
    if out is not None:
        _write(out, text)
        console.print(f"wrote {out}")
    else:
        console.print(text, markup=False, end="")


@app.command("submit")
def submit(
    incident_id: Id,
    tenant: Annotated[str, typer.Option(help="The tenant")],
    stage: Annotated[str, typer.Option(help="initial, intermediate or final")],
    at: Annotated[str | None, typer.Option(help="When it was submitted (default now)")] = None,
    reference: Annotated[str | None, typer.Option(help="The authority's reference")] = None,
    token: TokenOpt = None,
) -> None:
    """Record that a report was submitted to the authority."""
    c, actor = _acting(token, "incident.submit", REPORTERS)
    when = parse_when(at, field="--at", now=c.clock.now())
    result = _plain(
        c.incident_reporting.submit(
            incident_id, tenant, stage, actor=actor, submitted_at=when, reference=reference
        )
    )
    shown = _when(result["submitted_at"], display_zone(c.policy))
    console.print(f"{tenant} {result['stage']} submitted at {shown}", markup=False)


@app.command("approve-fix")
def approve_fix(
    incident_id: Id,
    service: Annotated[str, typer.Option(help="The service the fix releases")],
    version: Annotated[str, typer.Option(help="The version of the fix")],
    reject: Annotated[bool, typer.Option("--reject", help="Reject instead of approve")] = False,
    note: Annotated[str | None, typer.Option(help="Why")] = None,
    token: TokenOpt = None,
) -> None:
    """Approve (or --reject) a fix for a SEV-1/2 incident before its release."""
    c, actor = _acting(
        token, "incident.approve_fix", (Role.COMPLIANCE_OFFICER, Role.MANAGEMENT, Role.DEVOPS)
    )
    c.incident_reporting.fixes.decide(
        incident_id, service=service, version=version, approve=not reject, actor=actor, note=note
    )
    console.print(f"{service} {version}: {'rejected' if reject else 'approved'} for {incident_id}")


@app.command("notices")
def notices(incident_id: Id, json_out: JsonOpt = False) -> None:
    """Show the notice drafts to the affected broker houses (SEV-1/2)."""
    c = open_container()
    drafts = _plain(c.incident_reporting.notices.drafts(incident_id))
    if json_out:
        console.print_json(json.dumps(drafts, ensure_ascii=False))
        return
    zone = display_zone(c.policy)
    for d in drafts:
        state = f"released {_when(d['released']['at'], zone)}" if d["released"] else "draft"
        console.print(f"--- {d['tenant']} <{d['to'] or '-'}> ({state})", markup=False)
        console.print(f"{d['subject']}\n\n{d['body']}\n", markup=False)


@app.command("release-notice")
def release_notice(
    incident_id: Id,
    tenant: Annotated[str, typer.Option(help="The broker house (tenant)")],
    token: TokenOpt = None,
) -> None:
    """Release a broker house's notice: it is sent (e-mail) and recorded."""
    c, actor = _acting(
        token, "incident.release_notice", (Role.COMPLIANCE_OFFICER, Role.DEVOPS, Role.MANAGEMENT)
    )
    result = _plain(c.incident_reporting.notices.release(incident_id, tenant, actor=actor))
    console.print(f"{tenant}: released ({result['channels']})", markup=False)


@app.command("gdpr-draft")
def gdpr_draft(
    incident_id: Id,
    lang: Lang = "de",
    out: Annotated[Path | None, typer.Option(help="Write to this file")] = None,
    fmt: FormatOpt = "markdown",
) -> None:
    """Draft the GDPR Art. 33 notification (Markdown, HTML or PDF; German by default)."""
    text = open_container().incident_reporting.gdpr_draft(incident_id, _lang(lang))
    _emit(text, fmt, out, f"{incident_id}-dsgvo-{lang}", lang)


@app.command("gdpr-notified")
def gdpr_notified(
    incident_id: Id,
    at: Annotated[str | None, typer.Option(help="When (default now)")] = None,
    token: TokenOpt = None,
) -> None:
    """Record the GDPR Art. 33 notification to the supervisory authority."""
    c, actor = _acting(token, "incident.gdpr_notified", REPORTERS)
    when = parse_when(at, field="--at", now=c.clock.now())
    c.incident_reporting.gdpr_notified(incident_id, actor=actor, at=when)
    console.print("recorded")


@app.command("postmortem")
def postmortem(
    incident_id: Id,
    lang: Lang = "de",
    out: Annotated[Path | None, typer.Option(help="Write to this file")] = None,
    fmt: FormatOpt = "markdown",
    token: TokenOpt = None,
) -> None:
    """Write the post-mortem from the incident (seed template; due in 5 working days)."""
    c, actor = _acting(token, "incident.postmortem", _FOLLOW_UP)
    result = _plain(c.incident_reporting.postmortem(incident_id, actor=actor, lang=_lang(lang)))
    _emit(result["markdown"], fmt, out, f"{incident_id}-post-mortem-{lang}", lang)
    if not result["complete"]:
        console.print(f"draft: still missing {', '.join(result['missing'])}", markup=False)


@app.command("recurring")
def recurring(json_out: JsonOpt = False) -> None:
    """Recurring incidents that are major together (DORA Art. 8(2)); the check runs monthly."""
    c = open_container()
    with c.db.reader() as session:
        found = c.incident_reporting.recurring(session, now=c.clock.now(), record=False)
    if json_out:
        emit_json(found)
        return
    for f in found:
        console.print(f"{f['tenant']} {f['root_cause_key']}: {', '.join(f['incidents'])}")
    if not found:
        console.print("no recurring major incidents")


@action_app.command("add")
def action_add(
    incident_id: Id,
    title: Annotated[str, typer.Argument(help="What to do")],
    owner: Annotated[str, typer.Option(help="Who (a role or a person)")],
    due: Annotated[str, typer.Option(help="Due date YYYY-MM-DD")],
    token: TokenOpt = None,
) -> None:
    """Add an action item."""
    try:
        due_date = date.fromisoformat(due)
    except ValueError:
        raise ValidationError([Issue("--due", f"a date like 2026-12-01 (got {due!r})")]) from None
    c, actor = _acting(token, "incident.action_add", _FOLLOW_UP)
    item = c.incident_actions.add(
        incident_id, title=title, owner=owner, due_date=due_date, actor=actor
    )
    console.print(f"action item {item.number} added")


@action_app.command("set")
def action_set(
    incident_id: Id,
    number: Annotated[int, typer.Argument(help="Action item number")],
    status: Annotated[str, typer.Option(help="open, in_progress, done, cancelled")],
    token: TokenOpt = None,
) -> None:
    """Change an action item's status."""
    c, actor = _acting(token, "incident.action_set", _FOLLOW_UP)
    item = c.incident_actions.change(incident_id, number, actor=actor, status=status)
    console.print(f"action item {item.number}: {item.status}")


@action_app.command("list")
def action_list(incident_id: Id, json_out: JsonOpt = False) -> None:
    """List action items; overdue ones are flagged."""
    items = _plain(open_container().incident_actions.list(incident_id))
    if json_out:
        emit_json(items)
        return
    table = Table("#", "title", "owner", "due", "status")
    for i in items:
        table.add_row(
            str(i["number"]),
            i["title"],
            i["owner"],
            i["due_date"],
            i["status"] + (" OVERDUE" if i["overdue"] else ""),
        )
    console.print(table)
