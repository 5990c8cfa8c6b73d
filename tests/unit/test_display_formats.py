"""User-visible formats via Babel, German and English: zoned times, days with month names,
numbers with the language's separators, plural forms; and the page filters that use them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from jinja2 import Environment

from leitstand.display import fmt_day, fmt_number, fmt_time, plural, zone_abbreviation
from leitstand.policy.model import Policy
from leitstand.web.i18n import display_zone, jinja_filters

WINTER = datetime(2026, 12, 7, 8, 14, 30, tzinfo=UTC)
SUMMER = datetime(2026, 7, 7, 8, 14, tzinfo=UTC)
LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")


def test_times_show_their_zone_in_both_languages() -> None:
    assert fmt_time(WINTER, "de") == "07.12.2026, 09:14 MEZ"
    assert fmt_time(WINTER, "en") == "7 Dec 2026, 09:14 CET"
    assert fmt_time(SUMMER, "de") == "07.07.2026, 10:14 MESZ"
    assert fmt_time(SUMMER, "en") == "7 Jul 2026, 10:14 CEST"
    assert fmt_time(WINTER, "de", seconds=True) == "07.12.2026, 09:14:30 MEZ"
    assert fmt_time(WINTER, "en", seconds=True) == "7 Dec 2026, 09:14:30 CET"
    assert fmt_time(WINTER, "de", seconds=True, sep=" ") == "07.12.2026 09:14:30 MEZ"
    assert fmt_time("2026-12-07T08:14:30Z", "en", sep=" ") == "7 Dec 2026 09:14 CET"
    assert fmt_time("2026-12-07T08:14:30", "de") == "07.12.2026, 09:14 MEZ"  # naive = UTC
    assert fmt_time(None, "de") == fmt_time("", "en") == ""
    assert fmt_time("later", "en") == "later"


def test_a_time_in_another_zone_names_that_zone_briefly() -> None:
    assert fmt_time(WINTER, "en", LONDON) == "7 Dec 2026, 08:14 GMT"
    assert fmt_time(SUMMER, "de", LONDON) == "07.07.2026, 09:14 BST"
    assert fmt_time(WINTER, "en", NEW_YORK) == "7 Dec 2026, 03:14 EST"
    assert zone_abbreviation(WINTER, "de", NEW_YORK) == "EST"  # no long name, no bare offset


def test_english_and_german_month_names() -> None:
    assert fmt_time(datetime(2026, 3, 2, 12, tzinfo=UTC), "en") == "2 Mar 2026, 13:00 CET"
    assert fmt_day(date(2026, 12, 7), "de") == "07.12.2026"
    assert fmt_day(date(2026, 12, 7), "en") == "7 Dec 2026"
    assert fmt_day(date(2026, 12, 7), "de", form="long") == "7. Dezember 2026"
    assert fmt_day(date(2026, 12, 7), "en", form="long") == "7 December 2026"
    assert fmt_day(date(2026, 3, 2), "de", form="long") == "2. März 2026"


def test_a_day_of_a_time_is_the_day_in_the_display_zone() -> None:
    late = datetime(2026, 12, 7, 23, 30, tzinfo=UTC)  # already 8 December in Berlin
    assert fmt_day(late, "de") == "08.12.2026"
    assert fmt_day("2026-12-07T23:30:00Z", "en") == "8 Dec 2026"
    assert fmt_day("2026-12-07", "en") == "7 Dec 2026"  # a date stays that date
    assert fmt_day(None, "de") == fmt_day("", "en") == ""
    assert fmt_day("soon", "de") == "soon"


def test_numbers_use_the_languages_separators() -> None:
    assert fmt_number(15000, "de") == "15.000"
    assert fmt_number(15000, "en") == "15,000"
    assert fmt_number(12.5, "de") == "12,5"
    assert fmt_number(12.5, "en") == "12.5"
    assert fmt_number(15.0, "de") == "15"
    assert fmt_number(0.25, "de", 3) == "0,250"
    assert fmt_number(Decimal("1234.5"), "en", 2) == "1,234.50"
    assert fmt_number(87.6, "de", 0) == "88"
    assert fmt_number(None, "de") == ""


@pytest.mark.parametrize(
    ("count", "german", "english"),
    [
        (0, "0 Einträge", "0 entries"),
        (1, "1 Eintrag", "1 entry"),
        (2, "2 Einträge", "2 entries"),
        (1500, "1.500 Einträge", "1,500 entries"),
    ],
)
def test_plural_forms_follow_babels_rules(count: int, german: str, english: str) -> None:
    assert plural(count, "Eintrag", "Einträge", "de") == german
    assert plural(count, "entry", "entries", "en") == english


def test_the_display_zone_is_the_policys_calendar_zone() -> None:
    assert display_zone(None).key == "Europe/Berlin"
    policy = Policy()
    assert display_zone(policy).key == policy.incidents.calendar.timezone == "Europe/Berlin"
    calendar = policy.incidents.calendar.model_copy(update={"timezone": "Europe/London"})
    incidents = policy.incidents.model_copy(update={"calendar": calendar})
    london = policy.model_copy(update={"incidents": incidents})
    assert display_zone(london).key == "Europe/London"


def _render(source: str, lang: str, policy: Policy | None = None, **values: object) -> str:
    env = Environment(autoescape=True)
    env.filters.update(jinja_filters())
    texts = {"entry": "Eintrag" if lang == "de" else "entry"}
    texts["entries"] = "Einträge" if lang == "de" else "entries"
    app = SimpleNamespace(state=SimpleNamespace(container=SimpleNamespace(policy=policy)))
    request = SimpleNamespace(app=app) if policy is not None else None
    return env.from_string(source).render(lang=lang, t=texts, request=request, **values)


def test_the_page_filters_word_values_in_the_page_language() -> None:
    source = "{{ x|when }} | {{ d|day }} | {{ d|day('long') }} | {{ n|number(1) }} | {{ c|plural('entry', 'entries') }}"  # noqa: E501
    values = {"x": WINTER, "d": date(2026, 12, 7), "n": 1234.56, "c": 2}
    assert _render(source, "de", **values) == (
        "07.12.2026, 09:14 MEZ | 07.12.2026 | 7. Dezember 2026 | 1.234,6 | 2 Einträge"
    )
    assert _render(source, "en", **values) == (
        "7 Dec 2026, 09:14 CET | 7 Dec 2026 | 7 December 2026 | 1,234.6 | 2 entries"
    )
    assert _render("{{ s|label }}", "de", s="approved") == "genehmigt"
    assert _render("{{ s|label }}", "en", s="awaiting_approval") == "awaiting approval"


def test_the_when_filter_uses_the_zone_of_the_apps_policy() -> None:
    policy = Policy()
    calendar = policy.incidents.calendar.model_copy(update={"timezone": "Europe/London"})
    london = policy.model_copy(
        update={"incidents": policy.incidents.model_copy(update={"calendar": calendar})}
    )
    assert _render("{{ x|when }}", "en", london, x=WINTER) == "7 Dec 2026, 08:14 GMT"
    assert _render("{{ x|when }}", "de", policy, x=WINTER) == "07.12.2026, 09:14 MEZ"
