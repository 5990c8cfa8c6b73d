"""DORA report drafts (pure): the fields of the reporting template, filled from the incident.

Durchführungsverordnung (EU) 2025/302 (Implementing Regulation) uses one template for all stages: the initial
notification fills sections 1 and 2, the intermediate report adds section 3 and the final
report section 4 (fields 2.2/2.3 are the awareness and classification times). Field numbers
and German labels follow the template's Annex I; values are shown in the reader's language
(criteria, entity types and aspects named, numbers and dates via Babel, ``wording``). What
leitstand cannot know stays empty and is marked "auszufüllen", so the compliance officer sees
what is left to do.
"""

# ruff: noqa: E501 - the data tables below read best one row per line
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from pydantic import BaseModel

from leitstand.incidents.dora.due_dates import ReportStage
from leitstand.incidents.wording import (
    CRITERIA,
    DATA_ASPECTS,
    ENTITY_TYPES,
    REPUTATION,
    fmt_datetime,
    fmt_number,
    join,
    term,
)

__all__ = [
    "TEMPLATE_DE",
    "TEMPLATE_EN",
    "ReportContext",
    "build_report",
    "report_markdown",
    "stage_name",
]

#: Field 2.7: how the incident was discovered.
DISCOVERY = {
    "monitoring": ("durch Überwachung (automatischer Alarm)", "by monitoring (automatic alert)"),
    "manual": ("durch Meldung eines Mitarbeiters", "reported by staff"),
}

#: Field 3.18: the types of impact in a member state (Delegated Regulation (EU) 2024/1772
#: Art. 4), as ``ImpactType`` values; leitstand's wording until checked against EUR-Lex.
IMPACTS = {
    "clients": ("Kunden", "clients"),
    "financial_counterparts": ("finanzielle Gegenparteien", "financial counterparts"),
    "branch": ("Zweigniederlassung des Finanzunternehmens", "branch of the financial entity"),
    "group_entities": (
        "im Mitgliedstaat tätige Finanzunternehmen der Gruppe",
        "financial entities of the group active in the Member State",
    ),
    "financial_market_infrastructure": (
        "Finanzmarktinfrastruktur",
        "financial market infrastructure",
    ),
    "third_party_providers": (
        "auch von anderen Finanzunternehmen genutzte Drittdienstleister",
        "third-party providers shared with other financial entities",
    ),
}

_STAGE_NAMES = {
    ReportStage.INITIAL: ("Erstmeldung", "Initial notification"),
    ReportStage.INTERMEDIATE: ("Zwischenmeldung", "Intermediate report"),
    ReportStage.FINAL: ("Abschlussmeldung", "Final report"),
}
_SECTIONS = {
    "1": ("Allgemeine Angaben zum Finanzunternehmen", "General information about the financial entity"),
    "2": ("Inhalt der Erstmeldung", "Content of the initial notification"),
    "3": ("Inhalt der Zwischenmeldung", "Content of the intermediate report"),
    "4": ("Inhalt der Abschlussmeldung", "Content of the final report"),
}  # fmt: skip
#: (field, German label, English label, context key) per section. Labels of fields 1.1-3.2 are
#: the German Official Journal text of Annex I; 3.3-4.15 are leitstand's wording of the English
#: labels until the German annex has been checked against EUR-Lex (docs/incidents.md).
_FIELDS: Mapping[str, tuple[tuple[str, str, str, str], ...]] = {
    "1": (
        ("1.1", "Art der Übermittlung", "Type of submission", "stage_name"),
        ("1.2", "Name des Unternehmens, das die Meldung übermittelt", "Name of the entity submitting the report", "entity_name"),
        ("1.3", "Identifikationscode des Unternehmens, das die Meldung übermittelt", "Identification code of the entity submitting the report", "entity_code"),
        ("1.4", "Art des betroffenen Finanzunternehmens", "Type of financial entity affected", "entity_type"),
        ("1.5", "Name des betroffenen Finanzunternehmens", "Name of the financial entity affected", "entity_name"),
        ("1.6", "LEI-Code des betroffenen Finanzunternehmens", "LEI code of the financial entity affected", "lei"),
        ("1.7", "Name des Hauptansprechpartners", "Primary contact person name", "contact"),
        ("1.8", "E-Mail-Adresse des Hauptansprechpartners", "Primary contact person email", "contact_email"),
        ("1.15", "Meldewährung", "Reporting currency", "currency"),
    ),
    "2": (
        ("2.1", "Vom Finanzunternehmen zugewiesener Referenzcode für den Vorfall", "Incident reference code assigned by the financial entity", "incident_id"),
        ("2.2", "Datum und Uhrzeit der Feststellung des schwerwiegenden IKT-bezogenen Vorfalls", "Date and time of detection of the major ICT-related incident", "aware_at"),
        ("2.3", "Datum und Uhrzeit der Einstufung des IKT-bezogenen Vorfalls als schwerwiegend", "Date and time of classification of the ICT-related incident as major", "classified_at"),
        ("2.4", "Beschreibung des schwerwiegenden IKT-bezogenen Vorfalls", "Description of the major ICT-related incident", "description"),
        ("2.5", "Einstufungskriterien, die die Meldung des Vorfalls ausgelöst haben", "Classification criteria that triggered the incident report", "criteria"),
        ("2.6", "Wesentlichkeitsschwellen für das Einstufungskriterium „Geografische Ausbreitung“", "Materiality thresholds for the classification criterion 'Geographical spread'", "member_states"),
        ("2.7", "Feststellung des schwerwiegenden IKT-bezogenen Vorfalls", "Discovery of the major ICT-related incident", "discovery"),
        ("2.8", "Angabe, ob der schwerwiegende IKT-bezogene Vorfall bei einem Drittdienstleister oder einem anderen Finanzunternehmen seinen Ursprung hat", "Indication whether the major ICT-related incident originates from a third-party provider or another financial entity", "third_party"),
        ("2.9", "Aktivierung des Plans zur Aufrechterhaltung des Geschäftsbetriebs, falls aktiviert", "Activation of business continuity plan, if activated", "bcp"),
    ),
    "3": (
        ("3.1", "Von der zuständigen Behörde bereitgestellter Referenzcode für den Vorfall", "Incident reference code provided by the competent authority", "authority_reference"),
        ("3.2", "Datum und Uhrzeit des Eintretens des schwerwiegenden IKT-bezogenen Vorfalls", "Date and time of occurrence of the major ICT-related incident", "occurred_at"),
        ("3.3", "Datum und Uhrzeit der Wiederherstellung der Dienste, Tätigkeiten oder Vorgänge", "Date and time when services, activities or operations have been recovered", "recovered_at"),
        ("3.4", "Anzahl der betroffenen Kunden", "Number of clients affected", "clients_affected"),
        ("3.5", "Prozentsatz der betroffenen Kunden", "Percentage of clients affected", "clients_pct"),
        ("3.7", "Prozentsatz der betroffenen finanziellen Gegenparteien", "Percentage of financial counterparts affected", "counterparts_pct"),
        ("3.8", "Auswirkungen auf relevante Kunden oder finanzielle Gegenparteien", "Impact on relevant clients or financial counterparts", "relevant_clients"),
        ("3.10", "Prozentsatz der betroffenen Transaktionen (Anzahl)", "Percentage of affected transactions (number)", "transactions_number_pct"),
        ("3.11", "Prozentsatz der betroffenen Transaktionen (Wert)", "Percentage of affected transactions (value)", "transactions_value_pct"),
        ("3.13", "Reputationsschaden", "Reputational impact", "reputation"),
        ("3.15", "Dauer des schwerwiegenden IKT-bezogenen Vorfalls (Stunden)", "Duration of the major ICT-related incident (hours)", "duration_hours"),
        ("3.16", "Ausfallzeit des Dienstes (Stunden)", "Service downtime (hours)", "downtime_hours"),
        ("3.18", "Art der Auswirkungen in den Mitgliedstaaten", "Types of impact in the Member States", "member_state_impacts"),
        ("3.20", "Wesentlichkeitsschwellen für das Einstufungskriterium „Verluste von Daten“", "Materiality thresholds for the classification criterion 'Data losses'", "data_loss"),
        ("3.22", "Einstufungskriterium „Kritikalität der betroffenen Dienste“", "Classification criterion 'Critical services affected'", "critical_services"),
        ("3.27", "Angaben zu betroffenen Funktionsbereichen und Geschäftsprozessen", "Information about affected functional areas and business processes", "systems"),
        ("3.33", "Befristete Maßnahmen, die zur Wiederherstellung ergriffen wurden oder geplant sind", "Temporary actions/measures taken or planned to be taken to recover from the incident", "containment"),
    ),
    "4": (
        ("4.5", "Angaben zu den Ursachen des Vorfalls", "Information about the root causes of the incident", "root_cause"),
        ("4.6", "Zusammenfassung der Behebung des Vorfalls", "Incident resolution summary", "resolution"),
        ("4.8", "Datum und Uhrzeit der Behebung des Vorfalls", "Date and time when the incident was resolved", "resolved_at"),
        ("4.12", "Wesentlichkeitsschwelle für das Einstufungskriterium „Wirtschaftliche Auswirkungen“", "Materiality threshold for the classification criterion 'Economic impact'", "economic_met"),
        ("4.13", "Betrag der direkten und indirekten Bruttokosten und -verluste", "Amount of gross direct and indirect costs and losses", "economic_eur"),
        ("4.15", "Angaben zu wiederholten IKT-bezogenen Vorfällen", "Information on whether the non-major incidents have been recurring", "recurring"),
    ),
}  # fmt: skip
TEMPLATE_DE = "Durchführungsverordnung (EU) 2025/302"
TEMPLATE_EN = "Implementing Regulation (EU) 2025/302"
_UPTO = {ReportStage.INITIAL: "2", ReportStage.INTERMEDIATE: "3", ReportStage.FINAL: "4"}


def stage_name(stage: str, lang: str = "de") -> str:
    """``initial`` as "Erstmeldung" (or "Initial notification")."""
    try:
        de, en = _STAGE_NAMES[ReportStage(stage)]
    except ValueError:
        return stage
    return en if lang == "en" else de


@dataclass(frozen=True, slots=True)
class ReportContext:
    """Everything a draft can be filled from."""

    incident_id: str
    tenant: str
    values: Mapping[str, Any]  # context keys of _FIELDS -> value (None: not known)
    authority: str = "BaFin"
    timezone: str = "Europe/Berlin"


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
                        "key": key,
                        "value": _plain(values.get(key)),
                    }
                    for field, name_de, name_en, key in _FIELDS[number]
                ],
            }
        )
        if number == _UPTO[stage]:
            break
    missing = [
        f["field"]
        for sec in sections
        for f in sec["fields"]
        if f["value"] in (None, "") or (f["value"] == [] and f["key"] not in _NONE_KNOWN)
    ]
    return {
        "template": TEMPLATE_DE,
        "template_en": TEMPLATE_EN,
        "authority": ctx.authority,
        "stage": stage.value,
        "stage_name": de,
        "stage_name_en": en,
        "incident_id": ctx.incident_id,
        "tenant": ctx.tenant,
        "timezone": ctx.timezone,
        "sections": sections,
        "missing_fields": missing,
    }


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _show(field: Mapping[str, Any], report: Mapping[str, Any], lang: str, tz: ZoneInfo) -> str:
    """One field's value as a reader sees it: named terms, German numbers and dates."""
    key, value = field.get("key", ""), field["value"]
    if key == "stage_name":
        return str(report["stage_name_en"] if lang == "en" else report["stage_name"])
    if value is None or value == "" or (value == [] and key not in _NONE_KNOWN):
        return "_(to be completed)_" if lang == "en" else "_(auszufüllen)_"
    if value == []:
        return "none" if lang == "en" else "keine"
    if isinstance(value, bool):
        return ("Yes" if value else "No") if lang == "en" else ("Ja" if value else "Nein")
    if key in _TIMES:
        return fmt_datetime(str(value), tz, lang)
    if key in _TABLES:
        return join(term(_TABLES[key], str(v), lang) for v in _listed(value))
    if key == "member_states":
        return join(_state(str(code), lang) for code in _listed(value))
    if key == "member_state_impacts" and isinstance(value, Mapping):
        return join(
            f"{_state(str(code), lang)}: " + ", ".join(term(IMPACTS, str(k), lang) for k in kinds)
            for code, kinds in value.items()
        )
    if isinstance(value, int | float):
        return fmt_number(value, lang) + _UNITS.get(key, "")
    if isinstance(value, list):
        return join(str(v) for v in value)
    return str(value).replace("\n", " ").replace("|", "/")


def _state(code: str, lang: str) -> str:
    """A member state's ISO code as its name: ``AT`` as "Österreich" (or "Austria")."""
    return str(Locale.parse("en" if lang == "en" else "de").territories.get(code, code))


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


_TIMES = frozenset({"aware_at", "classified_at", "occurred_at", "recovered_at", "resolved_at"})
_NONE_KNOWN = frozenset({"recurring", "reputation", "data_loss"})
_UNITS = {
    "clients_pct": " %",
    "counterparts_pct": " %",
    "transactions_number_pct": " %",
    "transactions_value_pct": " %",
    "economic_eur": " EUR",
}
_TABLES: Mapping[str, Mapping[str, tuple[str, str]]] = {
    "entity_type": ENTITY_TYPES,
    "criteria": CRITERIA,
    "reputation": REPUTATION,
    "data_loss": DATA_ASPECTS,
    "discovery": DISCOVERY,
}


def report_markdown(report: Mapping[str, Any] | BaseModel, lang: str = "de") -> str:
    """The draft as Markdown (German by default): one table per section."""
    if isinstance(report, BaseModel):
        report = report.model_dump()
    en = lang == "en"
    tz = ZoneInfo(str(report.get("timezone") or "Europe/Berlin"))
    stage = report["stage_name_en"] if en else report["stage_name"]
    template = report.get("template_en", TEMPLATE_EN) if en else TEMPLATE_DE
    lines = [
        f"# DORA{' ' if en else '-'}{stage} – {report['incident_id']} – {report['tenant']}",
        "",
        ("Draft for" if en else "Entwurf für die")
        + f" {report['authority']} ({template}). "
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
            lines.append(f"| {f['field']} | {name} | {_show(f, report, lang, tz)} |")
        lines.append("")
    if report["missing_fields"]:
        label = "Open fields" if en else "Offene Felder"
        lines.append(f"**{label}:** {', '.join(report['missing_fields'])}")
        lines.append("")
    return "\n".join(lines)
