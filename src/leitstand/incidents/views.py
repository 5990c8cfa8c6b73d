"""Web pages: the incident list, and one incident with timeline, phase and live deadlines."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from leitstand.auth.model import Actor
from leitstand.clock import BERLIN
from leitstand.errors import LeitstandError
from leitstand.incidents.api import READERS, RESPONDERS, Incidents, Reporting
from leitstand.incidents.model import PHASE_ORDER
from leitstand.incidents.reporting.service import IncidentReporting
from leitstand.incidents.reporting.wording import (
    CRITERIA,
    TERMS,
    fmt_date,
    fmt_datetime,
    germanize,
    term,
)
from leitstand.incidents.service import IncidentService
from leitstand.web.i18n import register_nav, register_texts
from leitstand.web.render import page, render, request_lang

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

register_nav("/incidents", de="Incidents", en="Incidents", order=25)
register_texts(
    {
        "incidents_title": {"de": "Incidents", "en": "Incidents"},
        "incidents_none": {"de": "Keine Incidents.", "en": "No incidents."},
        "incident_severity": {"de": "Severity", "en": "Severity"},
        "incident_status": {"de": "Status", "en": "Status"},
        "incident_phase": {"de": "Phase", "en": "Phase"},
        "incident_opened": {"de": "Eröffnet", "en": "Opened"},
        "incident_systems": {"de": "Systeme", "en": "Systems"},
        "incident_tenants": {"de": "Mandanten", "en": "Tenants"},
        "incident_title": {"de": "Titel", "en": "Title"},
        "incident_timeline": {"de": "Timeline", "en": "Timeline"},
        "incident_deadlines": {"de": "Offene Fristen", "en": "Open deadlines"},
        "incident_no_deadlines": {"de": "Keine offenen Fristen.", "en": "No open deadlines."},
        "incident_overdue": {"de": "überschritten", "en": "overdue"},
        "incident_actions": {"de": "Maßnahmen", "en": "Action items"},
        "incident_owner": {"de": "Verantwortlich", "en": "Owner"},
        "incident_due": {"de": "Frist", "en": "Due"},
        "incident_dora": {"de": "DORA-Bewertung je Mandant", "en": "DORA assessment per tenant"},
        "incident_major": {"de": "schwerwiegend", "en": "major"},
        "incident_not_major": {"de": "nicht schwerwiegend", "en": "not major"},
        "incident_roles": {"de": "Rollen", "en": "Roles"},
        "incident_commander": {"de": "Incident Commander", "en": "Incident commander"},
        "incident_scribe": {"de": "Protokollführung", "en": "Scribe"},
        "incident_communication": {"de": "Kommunikation", "en": "Communication"},
        "incident_merge": {"de": "Als Duplikat schließen", "en": "Close as duplicate"},
        "incident_merge_into": {"de": "Zusammenführen in", "en": "Merge into"},
        "incident_merge_reason": {"de": "Begründung", "en": "Reason"},
        "incident_merge_button": {"de": "Zusammenführen", "en": "Merge"},
        "incident_merged_into": {
            "de": "Als Duplikat geschlossen, weitergeführt in",
            "en": "Closed as a duplicate, continued in",
        },
        "incident_duplicates": {"de": "Zusammengeführte Duplikate", "en": "Merged duplicates"},
    }
)

#: Incident statuses as a page names them.
_STATUS = {
    "open": ("offen", "open"),
    "resolved": ("behoben", "resolved"),
    "closed": ("geschlossen", "closed"),
}


def _time(value: Any, lang: str) -> str:
    """A time on a page: local (Europe/Berlin) with its zone, e.g. 07.12.2026, 14:05 MEZ."""
    return fmt_datetime(value, BERLIN, lang) if value else "-"


@router.get("/incidents", response_class=HTMLResponse)
def incidents_page(
    request: Request, incidents: Incidents, actor: Annotated[Actor, page(*READERS)]
) -> Response:
    lang = request_lang(request)
    phases = incidents.policy.incidents.phases
    rows = [
        {
            **i.model_dump(),
            "opened": _time(i.opened_at, lang),
            "status_name": term(_STATUS, i.status, lang),
            "phase_name": phases[i.phase].name.get(lang) if i.phase in phases else i.phase,
        }
        for i in incidents.list()
    ]
    return render(request, "incidents/list.html", {"actor": actor, "incidents": rows})


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
def incident_page(
    incident_id: str,
    request: Request,
    incidents: Incidents,
    reporting: Reporting,
    actor: Annotated[Actor, page(*READERS)],
) -> Response:
    return _detail(request, incidents, reporting, actor, incident_id)


@router.post("/incidents/{incident_id}/merge")
def merge(
    incident_id: str,
    request: Request,
    incidents: Incidents,
    reporting: Reporting,
    actor: Annotated[Actor, page(*RESPONDERS)],
    into: Annotated[str, Form(max_length=32)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """The form on the incident page: close this incident as a duplicate of ``into``."""
    try:
        incidents.merge(incident_id, into=into.strip(), reason=reason, actor=actor)
    except LeitstandError as exc:
        return _detail(
            request,
            incidents,
            reporting,
            actor,
            incident_id,
            error=exc.message,
            status=exc.http_status,
        )
    return RedirectResponse(f"/incidents/{into.strip()}", status_code=303)


def _detail(
    request: Request,
    incidents: IncidentService,
    reporting: IncidentReporting,
    actor: Actor,
    incident_id: str,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    lang = request_lang(request)
    detail = reporting.detail(incident_id)
    phases = incidents.policy.incidents.phases
    incident = detail.incident
    current = incident.phase
    steps: list[dict[str, Any]] = []
    reached = True
    for phase in PHASE_ORDER:
        steps.append(
            {
                "key": phase.value,
                "name": phases[phase.value].name.get(lang) if phase.value in phases else phase,
                "state": "current" if phase.value == current else ("done" if reached else "todo"),
            }
        )
        if phase.value == current:
            reached = False
    en = lang == "en"
    timeline = [
        {
            **e.model_dump(mode="json"),
            "local": _time(e.time, lang),
            "shown": germanize(e.text_en if en else e.text, lang),
            "role_name": term(TERMS, e.role, lang),
        }
        for e in detail.timeline
    ]
    deadlines = [
        {
            **d.model_dump(mode="json"),
            "local": _time(d.due_at, lang),
            "shown": d.label_en if en else d.label,
        }
        for d in detail.deadlines
        if d.open
    ]
    dora = [
        {
            **d.model_dump(mode="json"),
            "criteria_names": [term(CRITERIA, c, lang) for c in d.criteria_met],
        }
        for d in detail.dora
    ]
    actions = [
        {
            **a.model_dump(mode="json"),
            "status_name": term(TERMS, a.status, lang),
            "due_shown": fmt_date(a.due_date, lang),
        }
        for a in detail.actions
    ]
    return render(
        request,
        "incidents/detail.html",
        {
            "actor": actor,
            "incident": incident,
            "opened": _time(incident.opened_at, lang),
            "status_name": term(_STATUS, incident.status, lang),
            "steps": steps,
            "timeline": timeline,
            "deadlines": deadlines,
            "actions": actions,
            "dora": dora,
            "duplicates": incidents.duplicates(incident_id),
            "may_merge": actor.role in {r.value for r in RESPONDERS}
            and incident.status != "closed",
            "error": error,
        },
        status=status,
    )
