"""`leitstand incident`: the response process from the command line."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from leitstand.bootstrap import local_actor
from leitstand.cli_support import console, emit_json, open_container, parse_when
from leitstand.errors import Issue, ValidationError
from leitstand.incidents.classify import classify_text
from leitstand.incidents.reports import report_markdown
from leitstand.incidents.schemas import AssessmentIn, parse_model
from leitstand.policy.loader import find_policy_file, load_policy
from leitstand.settings import Settings
from leitstand.web.render import local_time

__all__ = ["app"]

app = typer.Typer(
    help="Incidents: response phases, DORA, GDPR, post-mortems.", no_args_is_help=True
)
action_app = typer.Typer(help="Action items (Maßnahmen) of an incident.", no_args_is_help=True)
app.add_typer(action_app, name="action")
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]
Id = Annotated[str, typer.Argument(help="Incident id, e.g. INC-2026-0001")]
Lang = Annotated[str, typer.Option("--lang", help="de (default) or en")]


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
    settings = Settings()
    policy = load_policy(settings.policy or find_policy_file(Path.cwd()))
    result = classify_text(text, policy.incidents, lang=_lang(lang))
    if json_out:
        emit_json(result)
        return
    console.print(
        ("MAJOR" if result["major"] else "not major") + ": " + ", ".join(result["criteria_met"])
    )
    for reason in result["reasons"]:
        console.print(f"- {reason}", markup=False)
    for name, due in result["deadlines"].items():
        console.print(f"{name}: {due} ({local_time(due)} Europe/Berlin)")


@app.command("open")
def open_cmd(
    title: Annotated[str, typer.Argument(help="What is wrong")],
    severity: Annotated[str, typer.Option(help="SEV-1 .. SEV-4")],
    system: Annotated[list[str] | None, typer.Option(help="Affected system (repeat)")] = None,
    tenant: Annotated[list[str] | None, typer.Option(help="Affected tenant (repeat)")] = None,
    personal_data: Annotated[bool, typer.Option(help="Personal data affected (GDPR)")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Open an incident by hand."""
    incident = open_container().incidents.create(
        title=title,
        severity=severity,
        actor=local_actor(),
        details={
            "systems": system or [],
            "tenants": tenant or [],
            "personal_data_affected": personal_data,
        },
    )
    emit_json(incident.as_dict()) if json_out else console.print(f"opened {incident.id}")


@app.command("list")
def list_incidents(
    status: Annotated[str | None, typer.Option(help="open, resolved or closed")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List incidents, newest first."""
    incidents = open_container().incidents.list(status=status)
    if json_out:
        emit_json([i.as_dict() for i in incidents])
        return
    table = Table("id", "severity", "status", "phase", "opened", "systems", "tenants", "title")
    for i in incidents:
        table.add_row(
            i.id,
            i.severity,
            i.status,
            i.phase,
            local_time(i.opened_at),
            ", ".join(i.systems),
            ", ".join(i.tenants),
            i.title,
        )
    console.print(table if incidents else "no incidents")


@app.command("show")
def show(incident_id: Id, json_out: JsonOpt = False) -> None:
    """Show an incident with timeline, deadlines, action items and DORA assessments."""
    detail = open_container().incident_reporting.detail(incident_id)
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
    for e in detail["timeline"]:
        console.print(f"  {local_time(e['time'])}  {e['text']}", markup=False)
    for d in detail["deadlines"]:
        if d["open"]:
            flag = "OVERDUE " if d["overdue"] else ""
            console.print(f"  {flag}{d['label']}: {local_time(d['due_at'])}", markup=False)


@app.command("phase")
def phase(
    incident_id: Id,
    to: Annotated[str, typer.Argument(help="containment, analysis, remediation, follow_up")],
    at: Annotated[str | None, typer.Option(help="When it happened (default now)")] = None,
    note: Annotated[str | None, typer.Option(help="A note for the timeline")] = None,
) -> None:
    """Move an incident to its next phase."""
    c = open_container()
    when = parse_when(at, field="--at", now=c.clock.now())
    incident = c.incidents.set_phase(incident_id, to, actor=local_actor(), at=when, note=note)
    console.print(f"{incident.id}: {incident.phase}")


@app.command("ack")
def ack(incident_id: Id) -> None:
    """Acknowledge (take) an incident: meets its reaction time."""
    incident = open_container().incidents.acknowledge(incident_id, actor=local_actor())
    console.print(f"{incident.id}: acknowledged, commander {incident.commander}")


@app.command("note")
def note(incident_id: Id, text: Annotated[str, typer.Argument(help="The note")]) -> None:
    """Add a note to the incident's timeline."""
    open_container().incidents.note(incident_id, text, actor=local_actor())
    console.print("noted")


@app.command("update")
def update(
    incident_id: Id,
    field: Annotated[list[str], typer.Option("--set", help="key=value (repeat); lists as JSON")],
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
    incident = open_container().incidents.update(incident_id, patch.changes(), actor=local_actor())
    console.print(f"{incident.id} updated")


@app.command("close")
def close(incident_id: Id) -> None:
    """Close an incident (after follow-up and its post-mortem)."""
    incident = open_container().incidents.close(incident_id, actor=local_actor())
    console.print(f"{incident.id}: closed")


@app.command("assess")
def assess(
    incident_id: Id,
    tenant: Annotated[str, typer.Option(help="The tenant (financial entity) assessed")],
    input_file: Annotated[Path, typer.Option("--input", help="Assessment facts as JSON")],
    json_out: JsonOpt = False,
) -> None:
    """Classify the incident for one tenant (DORA); major starts its reporting deadlines."""
    facts = parse_model(AssessmentIn, _read_json(input_file, "--input"))
    result = open_container().incident_reporting.assess(
        incident_id, tenant, facts, actor=local_actor()
    )
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
    json_out: JsonOpt = False,
) -> None:
    """Draft a tenant's DORA report (Markdown, German by default; --json for the fields)."""
    draft = open_container().incident_reporting.draft(incident_id, tenant, stage)
    text = (
        json.dumps(draft, indent=2, ensure_ascii=False) + "\n"
        if json_out
        else report_markdown(draft, _lang(lang))
    )
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
) -> None:
    """Record that a report was submitted to the authority."""
    c = open_container()
    when = parse_when(at, field="--at", now=c.clock.now())
    result = c.incident_reporting.submit(
        incident_id, tenant, stage, actor=local_actor(), submitted_at=when, reference=reference
    )
    console.print(f"{tenant} {result['stage']} submitted at {local_time(result['submitted_at'])}")


@app.command("gdpr-notified")
def gdpr_notified(
    incident_id: Id,
    at: Annotated[str | None, typer.Option(help="When (default now)")] = None,
) -> None:
    """Record the GDPR Art. 33 notification to the supervisory authority."""
    c = open_container()
    when = parse_when(at, field="--at", now=c.clock.now())
    c.incident_reporting.gdpr_notified(incident_id, actor=local_actor(), at=when)
    console.print("recorded")


@app.command("postmortem")
def postmortem(
    incident_id: Id,
    lang: Lang = "de",
    out: Annotated[Path | None, typer.Option(help="Write to this file")] = None,
) -> None:
    """Write the post-mortem from the incident (seed template; due in 5 working days)."""
    result = open_container().incident_reporting.postmortem(
        incident_id, actor=local_actor(), lang=_lang(lang)
    )
    if out is not None:
        _write(out, result["markdown"])
        console.print(f"wrote {out}")
    else:
        console.print(result["markdown"], markup=False)
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
) -> None:
    """Add an action item."""
    try:
        due_date = date.fromisoformat(due)
    except ValueError:
        raise ValidationError([Issue("--due", f"a date like 2026-12-01 (got {due!r})")]) from None
    item = open_container().incident_actions.add(
        incident_id, title=title, owner=owner, due_date=due_date, actor=local_actor()
    )
    console.print(f"action item {item['number']} added")


@action_app.command("set")
def action_set(
    incident_id: Id,
    number: Annotated[int, typer.Argument(help="Action item number")],
    status: Annotated[str, typer.Option(help="open, in_progress, done, cancelled")],
) -> None:
    """Change an action item's status."""
    item = open_container().incident_actions.change(
        incident_id, number, actor=local_actor(), status=status
    )
    console.print(f"action item {item['number']}: {item['status']}")


@action_app.command("list")
def action_list(incident_id: Id, json_out: JsonOpt = False) -> None:
    """List action items; overdue ones are flagged."""
    items = open_container().incident_actions.list(incident_id)
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
