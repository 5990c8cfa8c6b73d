"""Web page: the firing alerts with level, age and acknowledgement, and an acknowledge button."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from leitstand.alerting.api import ACKERS, READERS
from leitstand.alerting.service import AlertingService
from leitstand.api_types import PathId
from leitstand.auth.model import Actor, Role
from leitstand.deps import provide
from leitstand.web.i18n import register_nav, register_texts
from leitstand.web.render import page, render, request_lang

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
Alerting = Annotated[AlertingService, provide(AlertingService)]

register_nav("/alerts", de="Alarme", en="Alerts", order=20)
register_texts(
    {
        "alerts_title": {"de": "Aktive Alarme", "en": "Firing alerts"},
        "alerts_none": {"de": "Keine aktiven Alarme.", "en": "No firing alerts."},
        "alert_level": {"de": "Stufe", "en": "Level"},
        "alert_name": {"de": "Alarm", "en": "Alert"},
        "alert_age": {"de": "Seit", "en": "Age"},
        "alert_ack": {"de": "Bestätigt", "en": "Acknowledged"},
        "alert_ack_button": {"de": "Bestätigen", "en": "Acknowledge"},
        "alert_not_acked": {"de": "offen", "en": "open"},
        "alert_escalates_at": {"de": "eskaliert um", "en": "escalates at"},
        "alert_incident": {"de": "Incident", "en": "Incident"},
        "alert_service": {"de": "Service", "en": "Service"},
        "oncall_now": {"de": "Bereitschaft jetzt", "en": "On call now"},
        "oncall_nobody": {"de": "niemand eingetragen", "en": "nobody scheduled"},
    }
)


def _age(seconds: float, lang: str) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    hours = "h" if lang == "en" else "Std."
    return f"{seconds // 3600} {hours} {seconds % 3600 // 60} min"


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(
    request: Request, alerting: Alerting, actor: Annotated[Actor, page(*READERS)]
) -> Response:
    now = alerting.clock.now()
    lang = request_lang(request)
    rows = alerting.queries.alert_list(status="firing")
    shift = alerting.oncall()
    oncall = None
    if shift is not None:
        person = alerting.policy.alerting.people.get(shift.person)
        oncall = {"name": person.name if person else shift.person, "until": shift.end}
    alerts = [
        {
            "id": r.id,
            "level": r.level,
            "name": r.name,
            "severity": r.severity,
            "summary": r.summary,
            "service": r.service or "",
            "tenant": r.tenant or "",
            "age": _age((now - r.received_at).total_seconds(), lang),
            "since": r.received_at,
            "acked_by": r.acknowledged_by,
            "acked_at": r.acknowledged_at,
            "next_at": r.escalation.next_at if r.escalation else None,
            "incident": r.escalation.incident_id if r.escalation else None,
        }
        for r in rows
    ]
    return render(
        request,
        "alerting/alerts.html",
        {
            "actor": actor,
            "alerts": alerts,
            "oncall": oncall,
            "can_ack": Role(actor.role) in ACKERS,
        },
    )


@router.post("/ui/alerts/{alert_id}/ack")
def acknowledge(
    alert_id: PathId, alerting: Alerting, actor: Annotated[Actor, page(*ACKERS)]
) -> Response:
    alerting.acknowledge(alert_id=alert_id, actor=actor)
    return RedirectResponse("/alerts", status_code=303)
