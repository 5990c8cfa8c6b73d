"""Web pages: the incident list, and one incident with timeline, phase and live deadlines."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from leitstand.auth.model import Actor
from leitstand.deps import container_of
from leitstand.incidents.api import READERS
from leitstand.incidents.model import PHASE_ORDER
from leitstand.web.i18n import register_nav, register_texts
from leitstand.web.render import local_time, page, render, request_lang

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
        "incident_scribe": {"de": "Protokoll", "en": "Scribe"},
        "incident_communication": {"de": "Kommunikation", "en": "Communication"},
    }
)


@router.get("/incidents", response_class=HTMLResponse)
def incidents_page(request: Request, actor: Annotated[Actor, page(*READERS)]) -> Response:
    container = container_of(request)
    lang = request_lang(request)
    phases = container.policy.incidents.phases
    rows = [
        {
            **i.as_dict(),
            "opened": local_time(i.opened_at),
            "phase_name": phases[i.phase].name.get(lang) if i.phase in phases else i.phase,
        }
        for i in container.incidents.list()
    ]
    return render(request, "incidents/list.html", {"actor": actor, "incidents": rows})


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
def incident_page(
    incident_id: str, request: Request, actor: Annotated[Actor, page(*READERS)]
) -> Response:
    container = container_of(request)
    lang = request_lang(request)
    detail = container.incident_reporting.detail(incident_id)
    phases = container.policy.incidents.phases
    current = detail["incident"]["phase"]
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
        {**e, "local": local_time(e["time"]), "shown": e["text_en"] if en else e["text"]}
        for e in detail["timeline"]
    ]
    deadlines = [
        {**d, "local": local_time(d["due_at"]), "shown": d["label_en"] if en else d["label"]}
        for d in detail["deadlines"]
        if d["open"]
    ]
    return render(
        request,
        "incidents/detail.html",
        {
            "actor": actor,
            "incident": detail["incident"],
            "opened": local_time(detail["incident"]["opened_at"]),
            "steps": steps,
            "timeline": timeline,
            "deadlines": deadlines,
            "actions": detail["actions"],
            "dora": detail["dora"],
        },
    )
