"""The seed's post-mortem template, filled from an incident (pure; German by default).

Blameless: the timeline names roles and systems, not people, and the document says so (people
acted in good faith on what they knew; we fix systems, not people).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from leitstand.incidents.dora.duration import incident_duration_hours
from leitstand.incidents.model import ActionItem, ActionStatus
from leitstand.incidents.reporting.dora_reports import stage_name
from leitstand.incidents.reporting.timeline import TimelineEntry
from leitstand.incidents.schemas import IncidentOut
from leitstand.incidents.wording import fmt_date, fmt_datetime, fmt_number, zone_name

__all__ = ["Reporting", "render_postmortem"]

_STATUS = {
    ActionStatus.OPEN: "⬜",
    ActionStatus.IN_PROGRESS: "🔄",
    ActionStatus.DONE: "✅",
    ActionStatus.CANCELLED: "❌",
}


@dataclass(frozen=True, slots=True)
class Reporting:
    """The Meldepflicht section's facts."""

    dora_major_tenants: Sequence[str]
    dora_submitted: Sequence[tuple[str, str, datetime]]  # tenant, stage, when
    gdpr_required: bool
    gdpr_notified_at: datetime | None


#: Roles as the timeline names them (blameless: roles, not people).
_ROLES = {
    "": ("leitstand", "leitstand"),
    "system": ("leitstand", "leitstand"),
    "devops": ("DevOps", "DevOps"),
    "oncall": ("Bereitschaft", "on-call"),
    "developer": ("Entwicklung", "developer"),
    "management": ("Geschäftsleitung", "management"),
    "compliance_officer": ("Compliance Officer", "compliance officer"),
    "security": ("IT-Sicherheit", "security"),
    "auditor": ("Prüfer", "auditor"),
    "qa": ("Qualitätssicherung", "QA"),
    "product_owner": ("Product Owner", "product owner"),
}


def _duration(hours: float, lang: str) -> str:
    """DORA's duration in hours as field 3.15 states it; short ones also in minutes."""
    de = lang != "en"
    unit = ("Stunde" if de else "hour") if hours == 1 else ("Stunden" if de else "hours")
    text = f"{fmt_number(hours, lang)} {unit}"
    if hours < 2:
        text += f" ({round(hours * 60)} " + ("Minuten" if de else "minutes") + ")"
    return text


def render_postmortem(
    incident: IncidentOut,
    timeline: Sequence[TimelineEntry],
    actions: Sequence[ActionItem],
    reporting: Reporting,
    *,
    now: datetime,
    tz: ZoneInfo,
    lang: str = "de",
) -> str:
    """The post-mortem Markdown of ``incident`` following the seed's template."""
    de = lang != "en"

    def w(german: str, english: str) -> str:
        return german if de else english

    start = incident.occurred_at or incident.detected_at or incident.opened_at
    hours = incident_duration_hours(incident, now)  # DORA's duration, as field 3.15 states it
    todo = w("[offen: bitte ergänzen]", "[open: please fill in]")
    tenants = incident.tenants
    lines = [
        f"## Post-Mortem – {incident.id}",
        "",
        f"- **{w('Datum des Vorfalls', 'Date of the incident')}:** {fmt_datetime(start, tz, lang)}",
        f"- **Severity:** {incident.severity}",
        f"- **{w('Dauer', 'Duration')}:** {_duration(hours, lang)}",
        f"- **{w('Betroffene Systeme', 'Affected systems')}:** "
        f"{', '.join(incident.systems) or '-'}",
        f"- **{w('Betroffene Mandanten', 'Affected tenants')}:** "
        f"{len(tenants)}" + (f" ({', '.join(tenants)})" if tenants else ""),
        "",
        w(
            "> Ohne Schuldzuweisung: Alle Beteiligten haben nach bestem Wissen mit den "
            "Informationen gehandelt, die sie hatten. Wir verbessern Systeme und Abläufe, "
            "nicht Personen.",
            "> Blameless: everyone acted in good faith on the information they had. We fix "
            "systems and processes, not people.",
        ),
        "",
        f"### {w('Titel', 'Title')}",
        incident.title,
        "",
        f"### Timeline ({w('Zeiten in', 'times in')} {zone_name(start, tz, lang)})",
    ]
    first_day = start.astimezone(tz).date()
    for entry in timeline:
        when = datetime.fromisoformat(entry.time.replace("Z", "+00:00")).astimezone(tz)
        who = _ROLES.get(entry.role, (entry.role, entry.role))[0 if de else 1]
        shown = f"{when:%H:%M}"
        if when.date() != first_day:
            shown = f"{fmt_date(when.date(), lang)} {shown}"
        lines.append(f"- {shown} – {entry.text(lang)} ({who})")
    if not timeline:
        lines.append(f"- {todo}")
    lines += [
        "",
        "### Root Cause",
        incident.root_cause or todo,
        "",
        "### Impact",
        incident.impact or todo,
        "",
        f"### {w('Maßnahmen', 'Action items')}",
        "| # | "
        + w("Maßnahme | Verantwortlich | Frist | Status", "Action | Owner | Due | Status")
        + " |",
        "|---|----------|---------------|-------|--------|",
    ]
    for item in actions:
        lines.append(
            f"| {item.number} | {item.title} | {item.owner} | {fmt_date(item.due_date, lang)} | "
            f"{_STATUS[item.status]} |"
        )
    if not actions:
        lines.append(f"| 1 | {todo} | | | ⬜ |")
    yes, no = w("Ja", "Yes"), w("Nein", "No")
    submitted = [
        f"{tenant}: {stage_name(stage, lang)} {fmt_datetime(when, tz, lang)}"
        for tenant, stage, when in reporting.dora_submitted
    ]
    dora = yes if reporting.dora_major_tenants else no
    if reporting.dora_major_tenants:
        dora += f" ({', '.join(reporting.dora_major_tenants)})"
    if not reporting.gdpr_required:
        gdpr_done = w("entfällt", "not required")
    elif reporting.gdpr_notified_at is None:
        gdpr_done = w("Nein, noch offen", "No, still open")
    else:
        gdpr_done = f"{yes}, {fmt_datetime(reporting.gdpr_notified_at, tz, lang)}"
    lines += [
        "",
        f"### {w('Meldepflicht', 'Reporting obligation')}",
        f"- **{w('DORA-meldepflichtig', 'DORA reportable')}:** {dora}",
        f"- **{w('DORA-Meldungen übermittelt', 'DORA reports submitted')}:** "
        + ("; ".join(submitted) if submitted else w("keine", "none")),
        f"- **{w('DSGVO-meldepflichtig (Art. 33)', 'GDPR reportable (Art. 33)')}:** "
        f"{yes if reporting.gdpr_required else no}",
        f"- **{w('DSGVO-Meldung erfolgt', 'GDPR notification made')}:** {gdpr_done}",
        "",
    ]
    return "\n".join(lines)
