"""Web pages: the incident list, and one incident with timeline, phase and live deadlines."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from leitstand.auth.model import Actor
from leitstand.clock import BERLIN
from leitstand.incidents.api import READERS, RESPONDERS, Incidents, Reporting
from leitstand.incidents.model import PHASE_ORDER
from leitstand.incidents.reporting.service import IncidentReporting
from leitstand.incidents.service import IncidentService
from leitstand.incidents.wording import (
    CRITERIA,
    TERMS,
    fmt_date,
    fmt_datetime,
    germanize,
    term,
)
from leitstand.web.i18n import act_or_redisplay, register_nav, register_texts
from leitstand.web.render import page, render, request_lang

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

register_nav("/incidents", de="Incidents", en="Incidents", order=25)
register_texts(
    {
        "incidents_title": ("Incidents", "Incidents"),
        "incidents_none": ("Keine Incidents.", "No incidents."),
        "incident_severity": ("Severity", "Severity"),
        "incident_status": ("Status", "Status"),
        "incident_phase": ("Phase", "Phase"),
        "incident_opened": ("Eröffnet", "Opened"),
        "incident_systems": ("Systeme", "Systems"),
        "incident_tenants": ("Mandanten", "Tenants"),
        "incident_title": ("Titel", "Title"),
        "incident_timeline": ("Timeline", "Timeline"),
        "incident_deadlines": ("Offene Fristen", "Open deadlines"),
        "incident_no_deadlines": ("Keine offenen Fristen.", "No open deadlines."),
        "incident_overdue": ("überschritten", "overdue"),
        "incident_actions": ("Maßnahmen", "Action items"),
        "incident_owner": ("Verantwortlich", "Owner"),
        "incident_due": ("Frist", "Due"),
        "incident_dora": ("DORA-Bewertung je Mandant", "DORA assessment per tenant"),
        "incident_major": ("schwerwiegend", "major"),
        "incident_not_major": ("nicht schwerwiegend", "not major"),
        "incident_roles": ("Rollen", "Roles"),
        "incident_commander": ("Incident Commander", "Incident commander"),
        "incident_scribe": ("Protokollführung", "Scribe"),
        "incident_communication": ("Kommunikation", "Communication"),
        "incident_merge": ("Als Duplikat schließen", "Close as duplicate"),
        "incident_merge_into": ("Zusammenführen in", "Merge into"),
        "incident_merge_reason": ("Begründung", "Reason"),
        "incident_merge_button": ("Zusammenführen", "Merge"),
        "incident_merged_into": (
            "Als Duplikat geschlossen, weitergeführt in",
            "Closed as a duplicate, continued in",
        ),
        "incident_duplicates": ("Zusammengeführte Duplikate", "Merged duplicates"),
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
    return act_or_redisplay(
        lambda: incidents.merge(incident_id, into=into.strip(), reason=reason, actor=actor),
        f"/incidents/{into.strip()}",
        lambda exc: _detail(
            request,
            incidents,
            reporting,
            actor,
            incident_id,
            error=exc.message,
            status=exc.http_status,
        ),
    )


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
