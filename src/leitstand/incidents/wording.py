"""How incident documents word things (pure): German terms, numbers and dates via Babel.

DORA drafts and post-mortems are signed by a German compliance officer, so no stored identifier
(``insurance_intermediary``, ``flag.created``, ``in_progress``) and no English word may reach a
German document. The terms of Delegated Regulation (EU) 2024/1772 and Implementing Regulation
(EU) 2025/302 follow their German Official Journal text (criteria, entity types, data-loss
aspects); numbers and dates use the German locale (``15.000``, ``07.12.2026, 14:05 MEZ``).
English documents (``--lang en``) word times the English way with the same Babel formats
(``7 Dec 2026, 14:05 CET``, ``leitstand.display``); ledger subjects read as names
(``change:2`` as "Änderung 2" / "Change 2").
"""

# ruff: noqa: E501 - the term tables below read best one row per line
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel.numbers import format_decimal

from leitstand.display import SUBJECTS, fmt_day, fmt_subject, fmt_time, zone_abbreviation

__all__ = [
    "ACTIONS",
    "CRITERIA",
    "DATA_ASPECTS",
    "ENTITY_TYPES",
    "REPUTATION",
    "TERMS",
    "fmt_date",
    "fmt_datetime",
    "fmt_number",
    "germanize",
    "join",
    "term",
    "zone_name",
]

_LOCALES = {"de": "de_DE", "en": "en_GB"}

#: Criteria of Delegated Regulation (EU) 2024/1772 (Art. 1-9), as ``Criterion`` values.
CRITERIA: Mapping[str, tuple[str, str]] = {
    "critical_services": ("Kritikalität der betroffenen Dienste (Art. 6)", "Criticality of services affected (Art. 6)"),
    "malicious_unauthorised_access": ("Erfolgreicher, böswilliger und unbefugter Zugriff auf Netzwerk- und Informationssysteme (Art. 9 Abs. 5 Buchst. b)", "Successful, malicious and unauthorised access to network and information systems (Art. 9(5)(b))"),
    "clients_counterparts_transactions": ("Kunden, finanzielle Gegenparteien und Transaktionen (Art. 1)", "Clients, financial counterparts and transactions (Art. 1)"),
    "reputational_impact": ("Reputationsschaden (Art. 2)", "Reputational impact (Art. 2)"),
    "duration_and_downtime": ("Dauer und Ausfallzeiten (Art. 3)", "Duration and service downtime (Art. 3)"),
    "geographical_spread": ("Geografische Ausbreitung (Art. 4)", "Geographical spread (Art. 4)"),
    "data_losses": ("Verluste von Daten (Art. 5)", "Data losses (Art. 5)"),
    "economic_impact": ("Wirtschaftliche Auswirkungen (Art. 7)", "Economic impact (Art. 7)"),
}  # fmt: skip

#: Field 1.4 choice values (2025/302 Annex IV list, German Official Journal wording).
ENTITY_TYPES: Mapping[str, tuple[str, str]] = {
    "credit_institution": ("Kreditinstitut", "credit institution"),
    "payment_institution": ("Zahlungsinstitut", "payment institution"),
    "account_information_service_provider": ("Kontoinformationsdienstleister", "account information service provider"),
    "electronic_money_institution": ("E-Geld-Institut", "electronic money institution"),
    "investment_firm": ("Wertpapierfirma", "investment firm"),
    "crypto_asset_service_provider": ("Anbieter von Kryptowerte-Dienstleistungen", "crypto-asset service provider"),
    "central_securities_depository": ("Zentralverwahrer", "central securities depository"),
    "central_counterparty": ("Zentrale Gegenpartei", "central counterparty"),
    "trading_venue_operator": ("Handelsplatz", "trading venue"),
    "trade_repository": ("Transaktionsregister", "trade repository"),
    "alternative_investment_fund_manager": ("Verwalter alternativer Investmentfonds", "manager of alternative investment fund"),
    "ucits_management_company": ("Verwaltungsgesellschaft", "management company"),
    "data_reporting_service_provider": ("Datenbereitstellungsdienst", "data reporting service provider"),
    "insurance_undertaking": ("Versicherungs- und Rückversicherungsunternehmen", "insurance and reinsurance undertaking"),
    "reinsurance_undertaking": ("Versicherungs- und Rückversicherungsunternehmen", "insurance and reinsurance undertaking"),
    "insurance_intermediary": ("Versicherungsvermittler, Rückversicherungsvermittler und Versicherungsvermittler in Nebentätigkeit", "insurance intermediary, reinsurance intermediary and ancillary insurance intermediary"),
    "institution_for_occupational_retirement_provision": ("Einrichtung der betrieblichen Altersversorgung", "institution for occupational retirement provision"),
    "credit_rating_agency": ("Ratingagentur", "credit rating agency"),
    # Not seen in the German annex (DE–): the German wording of DORA Art. 2(1)(s)-(u).
    "critical_benchmark_administrator": ("Administrator kritischer Referenzwerte", "administrator of critical benchmarks"),
    "crowdfunding_service_provider": ("Schwarmfinanzierungsdienstleister", "crowdfunding service provider"),
    "securitisation_repository": ("Verbriefungsregister", "securitisation repository"),
    "nis2_essential_or_important_entity": ("nach NIS2 wesentliche oder wichtige Einrichtung", "essential or important entity under NIS2"),
}  # fmt: skip

#: Reputational impact, Art. 2(1)(a)-(d) of 2024/1772.
REPUTATION: Mapping[str, tuple[str, str]] = {
    "media": ("Berichterstattung in den Medien", "media coverage"),
    "complaints": ("wiederholte Beschwerden von Kunden oder finanziellen Gegenparteien", "repeated complaints from clients or financial counterparts"),
    "regulatory_breach": ("regulatorische Anforderungen voraussichtlich nicht erfüllt", "regulatory requirements likely not met"),
    "client_loss": ("voraussichtlicher Verlust von Kunden oder finanziellen Gegenparteien", "likely loss of clients or financial counterparts"),
}  # fmt: skip

#: Data-loss aspects, Art. 5 of 2024/1772.
DATA_ASPECTS: Mapping[str, tuple[str, str]] = {
    "availability": ("Verfügbarkeit", "availability"),
    "authenticity": ("Authentizität", "authenticity"),
    "integrity": ("Integrität", "integrity"),
    "confidentiality": ("Vertraulichkeit", "confidentiality"),
}

#: Ledger actions as a reader names them (timeline entries and recovery measures).
ACTIONS: Mapping[str, tuple[str, str]] = {
    "flag.created": ("angelegt", "created"),
    "flag.enabled": ("eingeschaltet", "switched on"),
    "flag.disabled": ("ausgeschaltet", "switched off"),
    "flag.killed": ("per Notschalter abgeschaltet", "killed"),
    "flag.kill_released": ("Notschalter aufgehoben", "kill switch released"),
    "flag.rollout_changed": ("Ausrollanteil geändert", "rollout changed"),
    "flag.targeting_changed": ("Zielgruppe geändert", "targeting changed"),
    "flag.tenants_changed": ("Mandanten geändert", "tenants changed"),
    "flag.updated": ("geändert", "changed"),
    "flag.archived": ("archiviert", "archived"),
    "flag.restored": ("wiederhergestellt", "restored"),
    "release.rollback_decided": ("Rollback beschlossen", "rollback decided"),
    "release.rolled_back": ("zurückgerollt", "rolled back"),
    "release.started": ("gestartet", "started"),
    "release.approved": ("freigegeben", "approved"),
    "release.switched": ("umgeschaltet", "switched"),
    "release.promoted": ("hochgestuft", "promoted"),
    "release.completed": ("abgeschlossen", "completed"),
    "release.failed": ("fehlgeschlagen", "failed"),
    "release.health_failed": ("Gesundheitsprüfung fehlgeschlagen", "health check failed"),
    "release.healthy": ("gesund", "healthy"),
    "release.refused": ("abgelehnt", "refused"),
    "release.cancelled": ("abgebrochen", "cancelled"),
    "release.abandoned": ("aufgegeben", "abandoned"),
    "release.verified": ("geprüft", "verified"),
    "release.weight_set": ("Verkehrsanteil gesetzt", "traffic weight set"),
    "release.migrated": ("Migration ausgeführt", "migrated"),
    "release.instance_started": ("Instanz gestartet", "instance started"),
    "release.analysed": ("Analyse ausgewertet", "analysed"),
    "release.snapshot_taken": ("Datenbank-Snapshot erstellt", "database snapshot taken"),
    "release.handover_checked": ("Übergabe-Checkliste geprüft", "handover checklist checked"),
    "release.task_opened": ("Aufgabe angelegt", "task opened"),
    "release.task_done": ("Aufgabe erledigt", "task done"),
    "release.task_overdue": ("Aufgabe überfällig", "task overdue"),
    "release.router_error": ("Router-Fehler", "router error"),
    "release.routing_reconciled": ("Routing abgeglichen", "routing reconciled"),
    "change.review_overdue": ("Prüfung überfällig", "review overdue"),
    "change.opened": ("eröffnet", "opened"),
    "change.approved": ("genehmigt", "approved"),
    "change.rejected": ("abgelehnt", "rejected"),
    "change.deployed": ("ausgerollt", "deployed"),
    "change.reviewed": ("geprüft", "reviewed"),
}

#: Stored values that appear inside recorded labels (phases, statuses, fields, severities).
TERMS: Mapping[str, tuple[str, str]] = {
    "detection": ("Erkennung", "detection"),
    "containment": ("Eindämmung", "containment"),
    "analysis": ("Analyse", "analysis"),
    "remediation": ("Behebung", "remediation"),
    "follow_up": ("Nachbereitung", "follow-up"),
    "open": ("offen", "open"),
    "in_progress": ("in Bearbeitung", "in progress"),
    "done": ("erledigt", "done"),
    "cancelled": ("verworfen", "cancelled"),
    "critical": ("kritisch", "critical"),
    "warning": ("Warnung", "warning"),
    "info": ("Hinweis", "info"),
    "root_cause": ("Ursache", "root cause"),
    "impact": ("Auswirkung", "impact"),
    "description": ("Beschreibung", "description"),
    "title": ("Titel", "title"),
    "severity": ("Schweregrad", "severity"),
    "systems": ("Systeme", "systems"),
    "tenants": ("Mandanten", "tenants"),
    "commander": ("Incident Commander", "commander"),
    "personal_data_affected": ("personenbezogene Daten betroffen", "personal data affected"),
    "occurred_at": ("Zeitpunkt des Eintretens", "occurred at"),
    "detected_at": ("Zeitpunkt der Feststellung", "detected at"),
    "aware_at": ("Zeitpunkt der Kenntnisnahme", "aware at"),
    "acknowledged_at": ("Zeitpunkt der Übernahme", "acknowledged at"),
    "contained_at": ("Zeitpunkt der Eindämmung", "contained at"),
    "recovered_at": ("Zeitpunkt der Wiederherstellung", "recovered at"),
    "resolved_at": ("Zeitpunkt der Behebung", "resolved at"),
    "root_cause_key": ("Ursachenschlüssel", "root cause key"),
    "devops": ("DevOps", "DevOps"),
    "oncall": ("Bereitschaft", "on-call"),
    "developer": ("Entwicklung", "developers"),
    "compliance_officer": ("Compliance Officer", "compliance officer"),
    "security": ("IT-Sicherheit", "security"),
    "management": ("Geschäftsleitung", "management"),
    "auditor": ("Prüfer", "auditor"),
    "product_owner": ("Product Owner", "product owner"),
}

_TOKEN = re.compile(r"\b[a-z][a-z0-9]*(?:[._][a-z0-9]+)+\b")
#: A ledger subject inside a text (``change:2``, ``incident:INC-2026-0001``).
_SUBJECT = re.compile(r"\b(?:" + "|".join(SUBJECTS) + r"):[A-Za-z0-9][A-Za-z0-9-]*\b")
_ISO_DAY = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


def _day(text: str, lang: str) -> str:
    """An ISO day inside a text in the reader's way (``08.01.2027``, ``8 Jan 2027``)."""
    try:
        return fmt_day(date.fromisoformat(text), lang)
    except ValueError:
        return text


def term(table: Mapping[str, tuple[str, str]], key: str, lang: str) -> str:
    """``key`` named in ``lang`` (the key itself if the table does not know it)."""
    names = table.get(key)
    if names is None:
        return key
    return names[1] if lang == "en" else names[0]


def germanize(text: str, lang: str = "de") -> str:
    """Replace stored identifiers (actions, phases, statuses, field names) inside ``text``."""

    def swap(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ACTIONS:
            return term(ACTIONS, token, lang)
        if token in TERMS:
            return term(TERMS, token, lang)
        return token

    text = _TOKEN.sub(swap, text)
    text = _SUBJECT.sub(lambda m: fmt_subject(m.group(0), lang), text)
    text = _ISO_DAY.sub(lambda m: _day(m.group(0), lang), text)
    return re.sub(
        r"\b(" + "|".join(k for k in TERMS if "_" not in k) + r")\b",
        lambda m: term(TERMS, m.group(0), lang) if lang != "en" else m.group(0),
        text,
    )


def fmt_number(value: float | int, lang: str = "de") -> str:
    """``15`` not ``15.0``, ``15.000`` not ``15000.0``, ``12,5`` (at most two decimals)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return format_decimal(value, format="#,##0.##", locale=_LOCALES.get(lang, "de_DE"))


def fmt_datetime(value: datetime | str, tz: ZoneInfo, lang: str = "de") -> str:
    """``07.12.2026, 14:05 MEZ`` (German) or ``7 Dec 2026, 14:05 CET`` (English)."""
    return fmt_time(value, lang, tz)


def zone_name(when: datetime, tz: ZoneInfo, lang: str = "de") -> str:
    """The zone's short name at ``when``: "MEZ"/"MESZ" in German, "CET"/"CEST" in English."""
    return zone_abbreviation(when, lang, tz)


def fmt_date(value: date, lang: str = "de") -> str:
    """A day: ``08.01.2027`` (German) or ``8 Jan 2027`` (English)."""
    return fmt_day(value, lang)


def join(items: Iterable[str]) -> str:
    return "; ".join(items)
