"""DORA report drafts (pure): the fields of the reporting template, filled from the incident.

Implementing Regulation (EU) 2025/302 uses one template for all three stages: the initial
notification fills sections 1 and 2, the intermediate report adds section 3 and the final
report section 4 (fields 2.2/2.3 are the awareness and classification times). Field numbers
and names follow the template's annex; what leitstand cannot know stays empty and is marked
"auszufüllen" in the Markdown, so the compliance officer sees what is left to do.
"""

# ruff: noqa: E501 - the data tables below read best one row per line
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from leitstand.incidents.deadlines import ReportStage

__all__ = ["ReportContext", "build_report", "report_markdown"]

_STAGE_NAMES = {
    ReportStage.INITIAL: ("Erstmeldung", "Initial notification"),
    ReportStage.INTERMEDIATE: ("Zwischenbericht", "Intermediate report"),
    ReportStage.FINAL: ("Abschlussbericht", "Final report"),
}
_SECTIONS = {
    "1": ("Allgemeine Angaben", "General information"),
    "2": ("Erstmeldung", "Initial notification"),
    "3": ("Zwischenbericht", "Intermediate report"),
    "4": ("Abschlussbericht", "Final report"),
}
#: (field, German name, English name, context key) per section; the key names the value.
_FIELDS: Mapping[str, tuple[tuple[str, str, str, str], ...]] = {
    "1": (
        ("1.1", "Art der Meldung", "Type of submission", "stage_name"),
        ("1.2", "Name des meldenden Unternehmens", "Name of the entity submitting the report", "entity_name"),
        ("1.3", "Kennung des meldenden Unternehmens", "Identification code of the submitting entity", "entity_code"),
        ("1.4", "Art des betroffenen Finanzunternehmens", "Type of the affected financial entity", "entity_type"),
        ("1.5", "Name des betroffenen Finanzunternehmens", "Name of the affected financial entity", "entity_name"),
        ("1.6", "LEI des betroffenen Finanzunternehmens", "LEI of the affected financial entity", "lei"),
        ("1.7", "Hauptansprechperson", "Primary contact person", "contact"),
        ("1.8", "E-Mail der Hauptansprechperson", "Primary contact e-mail", "contact_email"),
        ("1.15", "Berichtswährung", "Reporting currency", "currency"),
    ),
    "2": (
        ("2.1", "Referenz des Vorfalls (Finanzunternehmen)", "Incident reference code (financial entity)", "incident_id"),
        ("2.2", "Zeitpunkt der Kenntnisnahme", "Date and time of detection / awareness", "aware_at"),
        ("2.3", "Zeitpunkt der Klassifizierung", "Date and time of classification", "classified_at"),
        ("2.4", "Beschreibung des Vorfalls", "Description of the incident", "description"),
        ("2.5", "Erfüllte Klassifizierungskriterien", "Classification criteria that triggered the report", "criteria"),
        ("2.6", "Geografische Ausbreitung (Mitgliedstaaten)", "Geographical spread (member states)", "member_states"),
        ("2.7", "Entdeckung des Vorfalls", "Discovery of the incident", "discovery"),
        ("2.8", "Ursprung bei einem IKT-Drittdienstleister", "Originates from a third-party provider", "third_party"),
        ("2.9", "Aktivierung des Notfallplans (BCP)", "Activation of the business continuity plan", "bcp"),
    ),
    "3": (
        ("3.1", "Referenz der zuständigen Behörde", "Reference code of the competent authority", "authority_reference"),
        ("3.2", "Zeitpunkt des Eintritts", "Date and time of occurrence", "occurred_at"),
        ("3.3", "Wiederherstellung des Betriebs", "Date and time services were restored", "recovered_at"),
        ("3.4", "Anzahl betroffener Kunden", "Number of clients affected", "clients_affected"),
        ("3.5", "Anteil betroffener Kunden (%)", "Percentage of clients affected", "clients_pct"),
        ("3.7", "Anteil betroffener finanzieller Gegenparteien (%)", "Percentage of financial counterparts affected", "counterparts_pct"),
        ("3.8", "Auswirkung auf relevante Kunden/Gegenparteien", "Impact on relevant clients or counterparts", "relevant_clients"),
        ("3.10", "Anteil betroffener Transaktionen (Anzahl, %)", "Percentage of affected transactions (number)", "transactions_number_pct"),
        ("3.11", "Anteil betroffener Transaktionen (Wert, %)", "Percentage of affected transactions (value)", "transactions_value_pct"),
        ("3.13", "Reputationsschaden", "Reputational impact", "reputation"),
        ("3.15", "Dauer des Vorfalls (h)", "Duration of the incident (h)", "duration_hours"),
        ("3.16", "Ausfallzeit kritischer Dienste (h)", "Service downtime (h)", "downtime_hours"),
        ("3.18", "Betroffene Mitgliedstaaten", "Member states affected", "member_states"),
        ("3.20", "Datenverluste", "Data losses", "data_loss"),
        ("3.22", "Kritische Dienste betroffen", "Critical services affected", "critical_services"),
        ("3.27", "Betroffene Systeme und Geschäftsprozesse", "Affected functional areas and processes", "systems"),
        ("3.33", "Vorübergehende Maßnahmen zur Wiederherstellung", "Temporary actions taken to recover", "containment"),
    ),
    "4": (
        ("4.5", "Ursachen des Vorfalls", "Information about the root causes", "root_cause"),
        ("4.6", "Zusammenfassung der Behebung", "Incident resolution summary", "resolution"),
        ("4.8", "Zeitpunkt der Behebung", "Date and time the incident was resolved", "resolved_at"),
        ("4.12", "Wirtschaftliche Auswirkung über der Schwelle", "Economic impact threshold met", "economic_met"),
        ("4.13", "Direkte und indirekte Kosten und Verluste (EUR)", "Gross direct and indirect costs and losses (EUR)", "economic_eur"),
        ("4.15", "Wiederkehrender Vorfall", "Recurring non-major incidents", "recurring"),
    ),
}  # fmt: skip
_UPTO = {ReportStage.INITIAL: "2", ReportStage.INTERMEDIATE: "3", ReportStage.FINAL: "4"}


@dataclass(frozen=True, slots=True)
class ReportContext:
    """Everything a draft can be filled from."""

    incident_id: str
    tenant: str
    values: Mapping[str, Any]  # context keys of _FIELDS -> value (None: not known)
    authority: str = "BaFin"


def build_report(stage: ReportStage, ctx: ReportContext) -> dict[str, Any]:
    """The draft of ``stage`` as JSON: sections with numbered fields."""
    de, en = _STAGE_NAMES[stage]
    values = {**dict(ctx.values), "stage_name": de}
    sections: list[dict[str, Any]] = []
    for number in ("1", "2", "3", "4"):
        sections.append(
            {
                "section": number,
                "title": _SECTIONS[number][0],
                "title_en": _SECTIONS[number][1],
                "fields": [
                    {
                        "field": field,
                        "name": name_de,
                        "name_en": name_en,
                        "value": _plain(values.get(key)),
                    }
                    for field, name_de, name_en, key in _FIELDS[number]
                ],
            }
        )
        if number == _UPTO[stage]:
            break
    missing = [
        f["field"] for sec in sections for f in sec["fields"] if f["value"] in (None, "", [])
    ]
    return {
        "template": "Implementing Regulation (EU) 2025/302",
        "authority": ctx.authority,
        "stage": stage.value,
        "stage_name": de,
        "stage_name_en": en,
        "incident_id": ctx.incident_id,
        "tenant": ctx.tenant,
        "sections": sections,
        "missing_fields": missing,
    }


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _show(value: Any, lang: str) -> str:
    if value is None or value == "" or value == []:
        return "_(auszufüllen)_" if lang == "de" else "_(to be completed)_"
    if isinstance(value, bool):
        return ("Ja" if value else "Nein") if lang == "de" else ("Yes" if value else "No")
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value).replace("\n", " ")


def report_markdown(report: Mapping[str, Any], lang: str = "de") -> str:
    """The draft as Markdown (German by default): one table per section."""
    en = lang == "en"
    stage = report["stage_name_en"] if en else report["stage_name"]
    lines = [
        f"# DORA {stage} – {report['incident_id']} – {report['tenant']}",
        "",
        ("Draft for" if en else "Entwurf für")
        + f" {report['authority']} ({report['template']}). "
        + ("Check every field before submitting." if en else "Alle Felder vor der Meldung prüfen."),
        "",
    ]
    for section in report["sections"]:
        title = section["title_en"] if en else section["title"]
        lines += [f"## {section['section']}. {title}", ""]
        lines += [
            "| Nr. | " + ("Field" if en else "Feld") + " | " + ("Value" if en else "Wert") + " |",
            "|---|---|---|",
        ]
        for f in section["fields"]:
            name = f["name_en"] if en else f["name"]
            lines.append(f"| {f['field']} | {name} | {_show(f['value'], lang)} |")
        lines.append("")
    if report["missing_fields"]:
        label = "Open fields" if en else "Offene Felder"
        lines.append(f"**{label}:** {', '.join(report['missing_fields'])}")
        lines.append("")
    return "\n".join(lines)
