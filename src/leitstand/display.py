"""How a person reads times, dates, numbers and counts: German or English, via Babel (pure).

One place for every user-visible format, so pages (the ``when``, ``day``, ``number`` and
``plural`` filters of ``leitstand.web.i18n``) and documents agree. A time always names its
zone: German ``07.12.2026, 14:05 MEZ``, English ``7 Dec 2026, 14:05 CET``. Stored times are
aware UTC (or ISO text, ``Z`` allowed; naive is taken as UTC); the display zone is the caller's
(the policy's, see ``leitstand.web.i18n.display_zone``), Europe/Berlin unless told otherwise.
A ledger subject reads as a name: ``change:2`` is "Änderung 2" / "Change 2" (``fmt_subject``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Final, Literal
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal

from leitstand.clock import BERLIN

__all__ = [
    "DEFAULT_ZONE",
    "LOCALES",
    "SUBJECTS",
    "fmt_day",
    "fmt_number",
    "fmt_subject",
    "fmt_time",
    "locale_of",
    "plural",
    "zone_abbreviation",
]

#: The display zone when the policy names none (the seed's: German operations).
DEFAULT_ZONE: Final = BERLIN
#: The Babel locale of each UI language (anything else reads German).
LOCALES: Final = {"de": "de_DE", "en": "en_GB"}
_DAY_PATTERNS: Final = {"de": "dd.MM.yyyy", "en": "d MMM y"}
#: Ledger subject kinds as a reader names them, (German, English): ``change:2`` is
#: "Änderung 2" / "Change 2". Unknown kinds are shown as stored.
SUBJECTS: Final[dict[str, tuple[str, str]]] = {
    "change": ("Änderung", "Change"),
    "release": ("Release", "Release"),
    "incident": ("Vorfall", "Incident"),
    "alert": ("Alarm", "Alert"),
}


def locale_of(lang: str) -> str:
    """The Babel locale of a UI language (``de_DE`` for anything but ``en``)."""
    return LOCALES.get(lang, LOCALES["de"])


def _language(lang: str) -> str:
    return "en" if lang == "en" else "de"


def _parse(value: datetime | str) -> datetime | None:
    if isinstance(value, datetime):
        when = value
    else:
        try:
            when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def zone_abbreviation(when: datetime, lang: str, zone: ZoneInfo = DEFAULT_ZONE) -> str:
    """The zone's short name at ``when`` in ``lang``: MEZ/MESZ, CET/CEST, GMT/BST, EST ...

    Babel's localized abbreviation where the language has one (German ``MEZ``), else the
    zone database's (``EST``, ``+03``): never a long name or a bare offset like ``+0000``.
    """
    local = _parse(when) or when
    name = format_datetime(local, "zzz", tzinfo=zone, locale=locale_of(lang))
    if " " in name or name[:1] in "+-" or name.startswith(("GMT+", "GMT-", "UTC+", "UTC-")):
        return local.astimezone(zone).tzname() or zone.key
    return name


def fmt_time(
    value: datetime | str | None,
    lang: str,
    zone: ZoneInfo = DEFAULT_ZONE,
    *,
    seconds: bool = False,
    sep: str = ", ",
) -> str:
    """A point in time in ``zone`` with the zone's name: ``07.12.2026, 14:05 MEZ``.

    ``seconds`` adds them (``14:05:30``); ``sep`` goes between day and time (documents whose
    tables use ``07.12.2026 14:05:30 MEZ`` pass a space). ``None`` and ``""`` give ``""``; text
    that is not an ISO time is returned as it is.
    """
    if value is None or value == "":
        return ""
    when = _parse(value)
    if when is None:
        return str(value)
    language = _language(lang)
    pattern = f"{_DAY_PATTERNS[language]}'{sep}'{'HH:mm:ss' if seconds else 'HH:mm'}"
    shown = format_datetime(when, pattern, tzinfo=zone, locale=locale_of(language))
    return f"{shown} {zone_abbreviation(when, language, zone)}"


def fmt_day(
    value: date | datetime | str | None,
    lang: str,
    zone: ZoneInfo = DEFAULT_ZONE,
    *,
    form: Literal["medium", "long"] = "medium",
) -> str:
    """A calendar day: ``07.12.2026`` / ``7 Dec 2026``; long: ``7. Dezember 2026``.

    A time (or ISO time text) is first put into ``zone``; an ISO date text is taken as it is.
    """
    if value is None or value == "":
        return ""
    day: date
    if isinstance(value, datetime):
        day = (_parse(value) or value).astimezone(zone).date()
    elif isinstance(value, date):
        day = value
    else:
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            when = _parse(value)
            if when is None:
                return value
            day = when.astimezone(zone).date()
    return format_date(day, form, locale=locale_of(lang))


def fmt_subject(subject: str | None, lang: str) -> str:
    """A ledger subject as people read it: ``change:2`` as "Änderung 2" (English "Change 2").

    Also ``release:7`` ("Release 7"), ``incident:INC-2026-0001`` ("Vorfall INC-2026-0001" /
    "Incident ...") and ``alert:3`` ("Alarm 3" / "Alert 3"). Other subjects are returned as
    stored; the ledger's subjects themselves never change.
    """
    if not subject:
        return ""
    kind, sep, ident = subject.partition(":")
    names = SUBJECTS.get(kind)
    if not sep or names is None or not ident or ident != ident.strip():
        return subject
    return f"{names[1] if _language(lang) == 'en' else names[0]} {ident}"


def fmt_number(value: float | int | Decimal | None, lang: str, digits: int | None = None) -> str:
    """A number with the language's separators: ``15.000,5`` / ``15,000.5``.

    ``digits``: exactly that many decimals (``0,250``); ``None``: as many as needed, at most
    three (``15`` not ``15.0``).
    """
    if value is None:
        return ""
    pattern = None if digits is None else "#,##0" + ("." + "0" * digits if digits > 0 else "")
    if pattern is None:
        return format_decimal(value, locale=locale_of(lang))
    return format_decimal(value, format=pattern, locale=locale_of(lang))


def plural(count: int, one: str, other: str, lang: str) -> str:
    """``1 Eintrag``, ``2 Einträge``: the count with the form the language's plural rule picks."""
    form = Locale.parse(locale_of(lang)).plural_form(count)
    return f"{fmt_number(count, lang)} {one if form == 'one' else other}"
