"""UI texts in German (default) and English, and the Jinja filters that word values per page.

Filters (registered by ``leitstand.web.render`` through ``jinja_filters``), each in the page's
language (``lang`` of the template context):

- ``{{ x|when }}``: a time in the display zone with the zone's name (``07.12.2026, 14:05 MEZ``,
  ``7 Dec 2026, 14:05 CET``); the zone is the policy's (``display_zone``).
- ``{{ x|day }}``, ``{{ x|day("long") }}``: a calendar day (``07.12.2026``, ``7 December 2026``).
- ``{{ x|number }}``, ``{{ x|number(3) }}``: a number with the language's separators.
- ``{{ n|plural("entry", "entries") }}``: ``1 Eintrag``, ``2 Einträge`` (UI text keys).
- ``{{ status|label }}``: a stored status or phase value named in the language.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import pass_context
from jinja2.runtime import Context

from leitstand import display
from leitstand.display import DEFAULT_ZONE, fmt_day, fmt_number, fmt_time

if TYPE_CHECKING:
    from leitstand.policy.model import Policy

__all__ = [
    "LANGUAGES",
    "NavEntry",
    "display_zone",
    "jinja_filters",
    "label",
    "nav_entries",
    "page_time",
    "plural",
    "register_nav",
    "register_texts",
    "translator",
]

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
    "manual_entry": {"de": "manuell", "en": "manual"},
    "verify_incomplete": {"de": "unvollständig", "en": "incomplete"},
    "entries": {"de": "Einträge", "en": "entries"},
    "entry": {"de": "Eintrag", "en": "entry"},
    "export_period": {"de": "Zeitraum exportieren", "en": "Export a period"},
    "export_from": {"de": "Von", "en": "From"},
    "export_until": {"de": "Bis (ausschließlich)", "en": "Until (exclusive)"},
    "export_download": {
        "de": "Prüfarchiv herunterladen (tar.gz)",
        "en": "Download verifiable archive (tar.gz)",
    },
    "export_hint": {
        "de": "Entpacken und offline prüfen: leitstand audit verify --export ORDNER",
        "en": "Unpack and verify offline: leitstand audit verify --export FOLDER",
    },
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


#: Stored status and phase values as a page names them, (German, English): release phases,
#: change statuses and stages, backup run and drill statuses, alert states and severities,
#: flag states. One table for every page (the ``label`` filter); unknown values show as stored.
LABELS: Final[dict[str, tuple[str, str]]] = {
    # releases: phases, verdicts, kinds
    "awaiting_approval": ("wartet auf Freigabe", "awaiting approval"),
    "migrating": ("Migration läuft", "migrating"),
    "starting": ("startet", "starting"),
    "health_check": ("Gesundheitsprüfung", "health check"),
    "switching": ("schaltet um", "switching"),
    "analysing": ("Analyse läuft", "analysing"),
    "paused": ("angehalten", "paused"),
    "observing": ("Beobachtung", "observing"),
    "retiring": ("alte Version wird gestoppt", "retiring"),
    "rolling_back": ("Rollback läuft", "rolling back"),
    "verifying": ("Prüfung läuft", "verifying"),
    "cleaning_up": ("räumt auf", "cleaning up"),
    "completed": ("abgeschlossen", "completed"),
    "rolled_back": ("zurückgerollt", "rolled back"),
    "cancelled": ("abgebrochen", "cancelled"),
    "pass": ("bestanden", "pass"),
    "fail": ("nicht bestanden", "fail"),
    "inconclusive": ("nicht eindeutig", "inconclusive"),
    "deploy": ("Deployment", "deploy"),
    "rollback": ("Rollback", "rollback"),
    # changes: statuses and approval stages
    "pending": ("wartet auf Genehmigung", "pending"),
    "approved": ("genehmigt", "approved"),
    "rejected": ("abgelehnt", "rejected"),
    "automatic": ("automatisch", "automatic"),
    "before_deployment": ("vor dem Deployment", "before deployment"),
    "retrospective": ("nachträglich", "retrospective"),
    "standard": ("Standard", "standard"),
    "normal": ("Normal", "normal"),
    "emergency": ("Notfall", "emergency"),
    # backups: runs and drills
    "running": ("läuft", "running"),
    "succeeded": ("erfolgreich", "succeeded"),
    "partial": ("nur ein Standort", "one site only"),
    "failed": ("fehlgeschlagen", "failed"),
    "skipped": ("übersprungen", "skipped"),
    "interrupted": ("unterbrochen", "interrupted"),
    "passed": ("bestanden", "passed"),
    # alerting: states and severities
    "firing": ("aktiv", "firing"),
    "resolved": ("behoben", "resolved"),
    "acknowledged": ("übernommen", "acknowledged"),
    "critical": ("kritisch", "critical"),
    "warning": ("Warnung", "warning"),
    "info": ("Hinweis", "info"),
    # flags: states
    "on": ("an", "on"),
    "off": ("aus", "off"),
    "killed": ("Notabschaltung", "killed"),
    "varies": ("unterschiedlich", "varies"),
    # roles (as the policy names them)
    "devops": ("DevOps", "DevOps"),
    "developer": ("Entwicklung", "developer"),
    "oncall": ("On-Call", "on-call"),
    "compliance_officer": ("Compliance Officer", "compliance officer"),
    "security": ("Security", "security"),
    "qa": ("QA", "QA"),
    "product_owner": ("Product Owner", "product owner"),
    "management": ("Management", "management"),
    "auditor": ("Auditor", "auditor"),
}


def label(value: object, lang: str) -> str:
    """A stored status or phase value named in ``lang`` (the value itself if unknown)."""
    if value is None:
        return ""
    key = str(value.value) if isinstance(value, Enum) else str(value)
    names = LABELS.get(key)
    if names is None:
        return key
    return names[1] if lang == "en" else names[0]


def plural(count: int, one: str, other: str, lang: str) -> str:
    """``1 Eintrag``, ``2 Einträge``: the count with the form the language's plural rule picks."""
    return display.plural(count, one, other, lang)


def page_time(value: datetime | str | None, lang: str, zone: ZoneInfo = DEFAULT_ZONE) -> str:
    """A time on a page, in ``zone`` (Europe/Berlin unless told) with the zone's name.

    German ``07.12.2026, 14:05 MEZ``, English ``7 Dec 2026, 14:05 CET``. ISO strings (as the
    API and the ledger store them) are accepted; a naive time is taken as UTC. The API itself
    keeps UTC.
    """
    return fmt_time(value, lang, zone)


def display_zone(policy: Policy | None) -> ZoneInfo:
    """The zone pages show times in: the policy's working calendar zone.

    ``incidents.calendar.timezone`` is the zone the policy's deadlines and business days run in
    and the incident documents name, so pages say the same; Europe/Berlin without a policy.
    """
    name = policy.incidents.calendar.timezone if policy is not None else None
    if not name:
        return DEFAULT_ZONE
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return DEFAULT_ZONE


def _lang(context: Context) -> str:
    lang = context.get("lang", "de")
    return lang if lang in LANGUAGES else "de"


def _zone(context: Context) -> ZoneInfo:
    """The display zone of the app that renders the page (Europe/Berlin outside an app)."""
    state = getattr(getattr(context.get("request"), "app", None), "state", None)
    container = getattr(state, "container", None)
    return display_zone(getattr(container, "policy", None))


@pass_context
def _when_filter(context: Context, value: datetime | str | None) -> str:
    return fmt_time(value, _lang(context), _zone(context))


@pass_context
def _day_filter(
    context: Context,
    value: date | datetime | str | None,
    form: Literal["medium", "long"] = "medium",
) -> str:
    return fmt_day(value, _lang(context), _zone(context), form=form)


@pass_context
def _number_filter(
    context: Context, value: float | int | Decimal | None, digits: int | None = None
) -> str:
    return fmt_number(value, _lang(context), digits)


@pass_context
def _label_filter(context: Context, value: object) -> str:
    return label(value, _lang(context))


@pass_context
def _plural_filter(context: Context, count: int, one_key: str, other_key: str) -> str:
    texts = context.get("t") or {}
    return plural(
        count, texts.get(one_key, one_key), texts.get(other_key, other_key), _lang(context)
    )


def jinja_filters() -> dict[str, Callable[..., Any]]:
    """The page filters by name: ``when``, ``day``, ``number``, ``plural``, ``label``."""
    return {
        "when": _when_filter,
        "day": _day_filter,
        "number": _number_filter,
        "plural": _plural_filter,
        "label": _label_filter,
    }
