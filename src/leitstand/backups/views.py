"""Web pages: RPO/RTO per system, latest backup runs, drills and their Testprotokoll."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from leitstand.api_types import PathId
from leitstand.auth.model import ALL_ROLES, READ_ROLES, Actor
from leitstand.backups.drills import DrillService
from leitstand.backups.monitor import BackupMonitor
from leitstand.backups.objectives import Objective
from leitstand.backups.report import render_markdown, seconds_text
from leitstand.backups.service import BackupService
from leitstand.deps import provide
from leitstand.web.i18n import register_nav, register_texts
from leitstand.web.render import page, render, request_lang

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

Backups = Annotated[BackupService, provide(BackupService)]
Drills = Annotated[DrillService, provide(DrillService)]
Monitor = Annotated[BackupMonitor, provide(BackupMonitor)]

register_nav("/backups", de="Backup & Recovery", en="Backup & recovery", order=50)
register_texts(
    {
        "bk_title": ("Backup & Recovery", "Backup & recovery"),
        "bk_objectives": ("Wiederherstellungsziele", "Recovery objectives"),
        "bk_rpo_target": ("RPO (Ziel)", "RPO (objective)"),
        "bk_rpo_now": ("RPO (gemessen)", "RPO (measured)"),
        "bk_rto_target": ("RTO (Ziel)", "RTO (objective)"),
        "bk_rto_estimate": ("RTO (aus letztem Drill)", "RTO (from last drill)"),
        "bk_status": ("Status", "Status"),
        "bk_ok": ("eingehalten", "met"),
        "bk_breach": ("verletzt", "breached"),
        "bk_unknown": ("nicht gemessen", "not measured"),
        "bk_not_configured": ("keine Sicherung konfiguriert", "no backup configured"),
        "bk_exceeded": ("überschritten", "exceeded"),
        "bk_no_drill": ("noch kein Drill", "no drill yet"),
        "bk_runs": ("Letzte Sicherungen", "Latest backups"),
        "bk_row": ("Zeile", "Row"),
        "bk_started": ("Beginn", "Start"),
        "bk_duration": ("Dauer", "Duration"),
        "bk_sites": ("Standorte", "Sites"),
        "bk_no_runs": ("Noch keine Sicherungen.", "No backups yet."),
        "bk_drills": ("Wiederherstellungstests", "Recovery drills"),
        "bk_kind": ("Test", "Drill"),
        "bk_result": ("Ergebnis", "Result"),
        "bk_no_drills": ("Noch keine Drills.", "No drills yet."),
        "bk_due": ("Fällige Tests", "Drills due"),
        "bk_last_passed": ("zuletzt bestanden", "last passed"),
        "bk_next_due": ("fällig", "due"),
        "bk_overdue": ("überfällig", "overdue"),
        "bk_never": ("nie", "never"),
        "bk_after_backup": ("nach der ersten Sicherung", "after the first backup"),
        "bk_protocol": ("Testprotokoll", "Test record"),
        "bk_measured_at": ("gemessen", "measured"),
        "bk_fr_monthly": ("monatlich", "monthly"),
        "bk_fr_quarterly": ("quartalsweise", "quarterly"),
        "bk_fr_semi_annual": ("halbjährlich", "semi-annually"),
        "bk_fr_annual": ("jährlich", "annually"),
    }
)


def _objective_row(o: Objective, lang: str) -> dict[str, Any]:
    return {
        "id": o.system,
        "name": o.name,
        "configured": o.configured,
        "rpo_target": seconds_text(o.rpo_seconds, lang),
        "rpo_now": seconds_text(o.rpo_measured, lang) if o.rpo_measured is not None else "–",
        "rpo_status": o.rpo_status,
        "rpo_reason": o.rpo_reason,
        "measured_at": o.measured_at,
        "rto_target": seconds_text(o.rto_seconds, lang),
        "rto_estimate": seconds_text(o.rto_estimate, lang) if o.rto_estimate is not None else "",
        "rto_status": o.rto_status,
    }


@router.get("/backups", response_class=HTMLResponse)
def backups_page(
    request: Request,
    actor: Annotated[Actor, page(*ALL_ROLES)],
    monitor: Monitor,
    backups: Backups,
    drill_service: Drills,
) -> Response:
    lang = request_lang(request)
    objectives = monitor.objectives()
    runs = backups.runs(limit=20)
    drills = drill_service.drills(limit=20)
    due = [
        {
            "system": o.system,
            "kind": d.kind,
            "frequency": d.frequency,
            "last_passed": d.last_passed,
            "due": d.due,
            "overdue": d.overdue,
        }
        for o in objectives
        if o.configured
        for d in o.drills
    ]
    return render(
        request,
        "backups/index.html",
        {
            "actor": actor,
            "objectives": [_objective_row(o, lang) for o in objectives],
            "runs": [
                {
                    "id": r.id,
                    "system": r.system,
                    "row": r.row,
                    "status": r.status,
                    "started": r.started_at,
                    "duration": seconds_text(r.seconds, lang),
                    "sites": r.sites,
                    "error": r.error or "",
                }
                for r in runs
            ],
            "drills": [
                {
                    "id": d.id,
                    "system": d.system,
                    "kind": d.kind,
                    "status": d.status,
                    "started": d.started_at,
                    "total": seconds_text(d.total_seconds, lang),
                }
                for d in drills
            ],
            "due": due,
        },
    )


@router.get("/backups/drills/{drill_id}", response_class=HTMLResponse)
def drill_page(
    request: Request,
    drill_id: PathId,
    actor: Annotated[Actor, page(*READ_ROLES)],
    drill_service: Drills,
) -> Response:
    view = drill_service.get(drill_id)
    markdown = render_markdown(view.protocol or {}, request_lang(request)) if view.protocol else ""
    return render(
        request,
        "backups/drill.html",
        {"actor": actor, "drill": view.as_dict(with_protocol=False), "markdown": markdown},
    )
