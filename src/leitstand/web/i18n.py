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
from leitstand.display import DEFAULT_ZONE, fmt_day, fmt_number, fmt_subject, fmt_time
from leitstand.errors import LeitstandError

if TYPE_CHECKING:
    from fastapi.responses import Response

    from leitstand.policy.model import Policy

__all__ = [
    "LANGUAGES",
    "NavEntry",
    "Text",
    "act_or_redisplay",
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

#: UI texts as (German, English).
_TEXTS: Final[dict[str, tuple[str, str]]] = {
    "overview": ("Übersicht", "Overview"),
    "systems": ("Systeme", "Systems"),
    "system": ("System", "System"),
    "priority": ("Priorität", "Priority"),
    "tenants": ("Mandanten (Maklerhäuser)", "Tenants (broker houses)"),
    "tenant": ("Mandant", "Tenant"),
    "ledger": ("Nachweis-Ledger", "Evidence ledger"),
    "latest_entries": ("Neueste Einträge", "Latest entries"),
    "time": ("Zeit", "Time"),
    "actor": ("Akteur", "Actor"),
    "action": ("Aktion", "Action"),
    "subject": ("Gegenstand", "Subject"),
    "verify": ("Prüfung", "Verification"),
    "verify_now": ("Jetzt prüfen", "Verify now"),
    "intact": ("intakt", "intact"),
    "not_intact": ("NICHT intakt", "NOT intact"),
    "never_verified": ("noch nicht geprüft", "not verified yet"),
    "manual_entry": ("manuell", "manual"),
    "verify_incomplete": ("unvollständig", "incomplete"),
    "entries": ("Einträge", "entries"),
    "entry": ("Eintrag", "entry"),
    "export_period": ("Zeitraum exportieren", "Export a period"),
    "export_from": ("Von", "From"),
    "export_until": ("Bis (ausschließlich)", "Until (exclusive)"),
    "export_download": (
        "Prüfarchiv herunterladen (tar.gz)",
        "Download verifiable archive (tar.gz)",
    ),
    "export_hint": (
        "Entpacken und offline prüfen: leitstand audit verify --export ORDNER",
        "Unpack and verify offline: leitstand audit verify --export FOLDER",
    ),
    "first_bad": ("erster fehlerhafter Index", "first bad index"),
    "checked_at": ("geprüft am", "checked at"),
    "policy_source": ("Richtlinie", "Policy"),
    "defaults": ("eingebaute Vorgaben (Seed)", "built-in defaults (seed)"),
    "login": ("Anmelden", "Sign in"),
    "logout": ("Abmelden", "Sign out"),
    "token": ("API-Token", "API token"),
    "token_help": (
        "Das Token wurde bei `leitstand up` oder `leitstand user add` ausgegeben.",
        "The token was printed by `leitstand up` or `leitstand user add`.",
    ),
    "bad_token": ("Ungültiges oder gesperrtes Token.", "Invalid or revoked token."),
    "signed_in_as": ("Angemeldet als", "Signed in as"),
    "no_entries": ("Noch keine Einträge.", "No entries yet."),
    "none": ("keine", "none"),
    "critical": ("Kritisch", "Critical"),
    "high": ("Hoch", "High"),
    "normal": ("Normal", "Normal"),
    "language": ("English", "Deutsch"),
    "navigation": ("Bereiche", "Sections"),
    "recovery_objectives": ("Wiederherstellungsziele", "Recovery objectives"),
    "ro_rpo_now": ("RPO gemessen", "RPO measured"),
    "ro_rpo_target": ("RPO Ziel", "RPO objective"),
    "ro_rto_estimate": ("RTO letzter Drill", "RTO last drill"),
    "ro_rto_target": ("RTO Ziel", "RTO objective"),
    "ro_status": ("Status", "Status"),
    "ro_ok": ("eingehalten", "met"),
    "ro_breach": ("verletzt", "breached"),
    "ro_unknown": ("unbekannt", "unknown"),
    "ro_not_configured": ("keine Sicherung konfiguriert", "no backup configured"),
    "ro_no_backup": ("noch keine Sicherung", "no backup yet"),
    "ro_not_measured": ("noch nicht gemessen", "not measured yet"),
    "ro_no_point": ("kein wiederherstellbarer Stand", "no restorable point"),
    "ro_no_drill": ("noch kein Drill", "no drill yet"),
    "ro_measured_at": ("gemessen", "measured"),
    "ro_details": ("Details unter Backup & Recovery", "Details in Backup & recovery"),
}


#: A UI text: (German, English), or by language (``{"de": ..., "en": ...}``).
Text = tuple[str, str] | Mapping[str, str]


def _by_language(text: Text) -> dict[str, str]:
    return dict(zip(LANGUAGES, text, strict=True)) if isinstance(text, tuple) else dict(text)


_CATALOG: dict[str, dict[str, str]] = {key: _by_language(text) for key, text in _TEXTS.items()}


@dataclass(frozen=True, slots=True)
class NavEntry:
    """A link in the page header: path and label per language."""

    path: str
    de: str
    en: str
    order: int


_NAV: list[NavEntry] = [NavEntry("/", "Übersicht", "Overview", 0)]


def register_texts(texts: Mapping[str, Text]) -> None:
    """Add a domain's UI texts (``key -> (German, English)``); keys must be new."""
    for key, text in texts.items():
        value = _by_language(text)
        if key in _CATALOG and _CATALOG[key] != value:
            raise ValueError(f"UI text {key!r} is already defined differently")
        if set(value) != set(LANGUAGES):
            raise ValueError(f"UI text {key!r} needs exactly the languages {LANGUAGES}")
        _CATALOG[key] = value


def act_or_redisplay(
    act: Callable[[], object], then: str, redisplay: Callable[[LeitstandError], Response]
) -> Response:
    """A page form's answer: do ``act``, then go to ``then`` (303); on a refusal show the page
    again with its message (``redisplay``, e.g. ``error=exc.message, status=exc.http_status``).
    """
    from fastapi.responses import RedirectResponse  # the CLI reads this module without FastAPI

    try:
        act()
    except LeitstandError as exc:
        return redisplay(exc)
    return RedirectResponse(then, status_code=303)


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
    """The page filters by name: ``when``, ``day``, ``number``, ``plural``, ``label`` and
    ``subject`` (a ledger subject as people read it: ``change:2`` as "Änderung 2")."""
    return {
        "when": _when_filter,
        "day": _day_filter,
        "number": _number_filter,
        "plural": _plural_filter,
        "label": _label_filter,
        "subject": pass_context(lambda c, v: fmt_subject(v, _lang(c))),
    }
