"""UI texts in German (default) and English."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

__all__ = ["LANGUAGES", "NavEntry", "nav_entries", "register_nav", "register_texts", "translator"]

LANGUAGES: Final = ("de", "en")

_TEXTS: Final[dict[str, dict[str, str]]] = {
    "overview": {"de": "Übersicht", "en": "Overview"},
    "systems": {"de": "Systeme", "en": "Systems"},
    "system": {"de": "System", "en": "System"},
    "priority": {"de": "Priorität", "en": "Priority"},
    "tenants": {"de": "Mandanten (Maklerhäuser)", "en": "Tenants (broker houses)"},
    "tenant": {"de": "Mandant", "en": "Tenant"},
    "ledger": {"de": "Nachweis-Ledger", "en": "Evidence ledger"},
    "latest_entries": {"de": "Neueste Einträge", "en": "Latest entries"},
    "time": {"de": "Zeit", "en": "Time"},
    "actor": {"de": "Akteur", "en": "Actor"},
    "action": {"de": "Aktion", "en": "Action"},
    "subject": {"de": "Gegenstand", "en": "Subject"},
    "verify": {"de": "Prüfung", "en": "Verification"},
    "verify_now": {"de": "Jetzt prüfen", "en": "Verify now"},
    "intact": {"de": "intakt", "en": "intact"},
    "not_intact": {"de": "NICHT intakt", "en": "NOT intact"},
    "never_verified": {"de": "noch nicht geprüft", "en": "not verified yet"},
    "entries": {"de": "Einträge", "en": "entries"},
    "first_bad": {"de": "erster fehlerhafter Index", "en": "first bad index"},
    "checked_at": {"de": "geprüft am", "en": "checked at"},
    "policy_source": {"de": "Richtlinie", "en": "Policy"},
    "defaults": {"de": "eingebaute Vorgaben (Seed)", "en": "built-in defaults (seed)"},
    "login": {"de": "Anmelden", "en": "Sign in"},
    "logout": {"de": "Abmelden", "en": "Sign out"},
    "token": {"de": "API-Token", "en": "API token"},
    "token_help": {
        "de": "Das Token wurde bei `leitstand up` oder `leitstand user add` ausgegeben.",
        "en": "The token was printed by `leitstand up` or `leitstand user add`.",
    },
    "bad_token": {"de": "Ungültiges oder gesperrtes Token.", "en": "Invalid or revoked token."},
    "signed_in_as": {"de": "Angemeldet als", "en": "Signed in as"},
    "no_entries": {"de": "Noch keine Einträge.", "en": "No entries yet."},
    "none": {"de": "keine", "en": "none"},
    "critical": {"de": "Kritisch", "en": "Critical"},
    "high": {"de": "Hoch", "en": "High"},
    "normal": {"de": "Normal", "en": "Normal"},
    "language": {"de": "English", "en": "Deutsch"},
    "navigation": {"de": "Bereiche", "en": "Sections"},
    "recovery_objectives": {"de": "Wiederherstellungsziele", "en": "Recovery objectives"},
    "ro_rpo_now": {"de": "RPO gemessen", "en": "RPO measured"},
    "ro_rpo_target": {"de": "RPO Ziel", "en": "RPO objective"},
    "ro_rto_estimate": {"de": "RTO letzter Drill", "en": "RTO last drill"},
    "ro_rto_target": {"de": "RTO Ziel", "en": "RTO objective"},
    "ro_status": {"de": "Status", "en": "Status"},
    "ro_ok": {"de": "eingehalten", "en": "met"},
    "ro_breach": {"de": "verletzt", "en": "breached"},
    "ro_unknown": {"de": "unbekannt", "en": "unknown"},
    "ro_not_configured": {"de": "keine Sicherung konfiguriert", "en": "no backup configured"},
    "ro_no_backup": {"de": "noch keine Sicherung", "en": "no backup yet"},
    "ro_not_measured": {"de": "noch nicht gemessen", "en": "not measured yet"},
    "ro_no_point": {"de": "kein wiederherstellbarer Stand", "en": "no restorable point"},
    "ro_no_drill": {"de": "noch kein Drill", "en": "no drill yet"},
    "ro_measured_at": {"de": "gemessen", "en": "measured"},
    "ro_details": {"de": "Details unter Backup & Recovery", "en": "Details in Backup & recovery"},
}


_CATALOG: dict[str, dict[str, str]] = dict(_TEXTS)


@dataclass(frozen=True, slots=True)
class NavEntry:
    """A link in the page header: path and label per language."""

    path: str
    de: str
    en: str
    order: int


_NAV: list[NavEntry] = [NavEntry("/", "Übersicht", "Overview", 0)]


def register_texts(texts: Mapping[str, Mapping[str, str]]) -> None:
    """Add a domain's UI texts (``key -> {"de": ..., "en": ...}``); keys must be new."""
    for key, value in texts.items():
        if key in _CATALOG and _CATALOG[key] != dict(value):
            raise ValueError(f"UI text {key!r} is already defined differently")
        if set(value) != set(LANGUAGES):
            raise ValueError(f"UI text {key!r} needs exactly the languages {LANGUAGES}")
        _CATALOG[key] = dict(value)


def register_nav(path: str, *, de: str, en: str, order: int) -> None:
    """Add a domain's page to the header navigation (idempotent per path)."""
    if any(entry.path == path for entry in _NAV):
        return
    _NAV.append(NavEntry(path, de, en, order))
    _NAV.sort(key=lambda entry: (entry.order, entry.path))


def nav_entries(lang: str) -> list[tuple[str, str]]:
    """(path, label) of every navigation entry in ``lang``."""
    return [(e.path, e.en if lang == "en" else e.de) for e in _NAV]


def translator(lang: str) -> dict[str, str]:
    """All UI texts in ``lang`` (German for anything unknown)."""
    code = lang if lang in LANGUAGES else "de"
    return {key: texts[code] for key, texts in _CATALOG.items()}
