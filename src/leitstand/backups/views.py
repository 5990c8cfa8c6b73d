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
        "bk_title": {"de": "Backup & Recovery", "en": "Backup & recovery"},
        "bk_objectives": {"de": "Wiederherstellungsziele", "en": "Recovery objectives"},
        "bk_rpo_target": {"de": "RPO (Ziel)", "en": "RPO (objective)"},
        "bk_rpo_now": {"de": "RPO (gemessen)", "en": "RPO (measured)"},
        "bk_rto_target": {"de": "RTO (Ziel)", "en": "RTO (objective)"},
        "bk_rto_estimate": {"de": "RTO (aus letztem Drill)", "en": "RTO (from last drill)"},
        "bk_status": {"de": "Status", "en": "Status"},
        "bk_ok": {"de": "eingehalten", "en": "met"},
        "bk_breach": {"de": "verletzt", "en": "breached"},
        "bk_unknown": {"de": "nicht gemessen", "en": "not measured"},
        "bk_not_configured": {"de": "keine Sicherung konfiguriert", "en": "no backup configured"},
        "bk_exceeded": {"de": "überschritten", "en": "exceeded"},
        "bk_no_drill": {"de": "noch kein Drill", "en": "no drill yet"},
        "bk_runs": {"de": "Letzte Sicherungen", "en": "Latest backups"},
        "bk_row": {"de": "Zeile", "en": "Row"},
        "bk_started": {"de": "Beginn", "en": "Start"},
        "bk_duration": {"de": "Dauer", "en": "Duration"},
        "bk_sites": {"de": "Standorte", "en": "Sites"},
        "bk_no_runs": {"de": "Noch keine Sicherungen.", "en": "No backups yet."},
        "bk_drills": {"de": "Wiederherstellungstests", "en": "Recovery drills"},
        "bk_kind": {"de": "Test", "en": "Drill"},
        "bk_result": {"de": "Ergebnis", "en": "Result"},
        "bk_no_drills": {"de": "Noch keine Drills.", "en": "No drills yet."},
        "bk_due": {"de": "Fällige Tests", "en": "Drills due"},
        "bk_last_passed": {"de": "zuletzt bestanden", "en": "last passed"},
        "bk_next_due": {"de": "fällig", "en": "due"},
        "bk_overdue": {"de": "überfällig", "en": "overdue"},
        "bk_never": {"de": "nie", "en": "never"},
        "bk_after_backup": {"de": "nach der ersten Sicherung", "en": "after the first backup"},
        "bk_protocol": {"de": "Testprotokoll", "en": "Test record"},
        "bk_measured_at": {"de": "gemessen", "en": "measured"},
        "bk_fr_monthly": {"de": "monatlich", "en": "monthly"},
        "bk_fr_quarterly": {"de": "quartalsweise", "en": "quarterly"},
        "bk_fr_semi_annual": {"de": "halbjährlich", "en": "semi-annually"},
        "bk_fr_annual": {"de": "jährlich", "en": "annually"},
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
