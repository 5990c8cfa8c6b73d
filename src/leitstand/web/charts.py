"""Server-side SVG charts: pure functions from data to an SVG string and its text alternative.

Two kinds, enough for the charts page (``leitstand.web.chart_views``):

- ``line_chart``: series over a time x-axis, optional threshold lines (an objective, a limit)
  and vertical event markers with labels (releases, rollbacks);
- ``bar_chart``: one bar per category (alert counts per escalation level).

Every chart has a fixed ``viewBox`` (``WIDTH`` x ``HEIGHT``), ``<title>``/``<desc>`` referenced by
``aria-labelledby`` plus an ``aria-label``, and a table of its values (``Chart.headers`` and
``Chart.rows``) that the page shows under it. All text is escaped; colours and fonts are SVG
presentation attributes (the Content-Security-Policy allows no inline style); no JavaScript.
Numbers, days and times are worded by ``leitstand.display`` in the page's language and zone.
Empty data gives a chart that says so (``empty_text``, "Keine Daten" by default).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from typing import Final
from zoneinfo import ZoneInfo

from leitstand.display import DEFAULT_ZONE, fmt_day, fmt_number, fmt_time

__all__ = [
    "HEIGHT",
    "PLOT",
    "WIDTH",
    "Box",
    "Chart",
    "Marker",
    "Series",
    "Threshold",
    "bar_chart",
    "line_chart",
    "nice_ceiling",
    "time_ticks",
]

WIDTH: Final = 640
HEIGHT: Final = 260


@dataclass(frozen=True, slots=True)
class Box:
    """The plot area inside the viewBox (axes labels and markers' labels sit around it)."""

    left: float
    top: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def bottom(self) -> float:
        return self.top + self.height


PLOT: Final = Box(left=60.0, top=34.0, width=WIDTH - 60.0 - 20.0, height=HEIGHT - 34.0 - 40.0)

#: Series colours (colour-blind safe, Okabe-Ito); thresholds red, markers by kind.
_COLOURS: Final = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00")
_THRESHOLD: Final = "#b3261e"
_MARKERS: Final = {"release": "#1f7a3a", "rollback": "#b3261e"}
_MARKER_DEFAULT: Final = "#5b6776"
_INK: Final = "#1d2733"
_MUTED: Final = "#5b6776"
_GRID: Final = "#d8dee6"
_FONT: Final = 'font-family="system-ui, DejaVu Sans, sans-serif"'

_WORDS: Final = {
    "de": {
        "series": "Reihe",
        "time": "Zeit",
        "value": "Wert",
        "event": "Ereignis",
        "category": "Kategorie",
        "no_data": "Keine Daten",
        "threshold": "Grenze",
    },
    "en": {
        "series": "Series",
        "time": "Time",
        "value": "Value",
        "event": "Event",
        "category": "Category",
        "no_data": "No data",
        "threshold": "Limit",
    },
}


@dataclass(frozen=True, slots=True)
class Series:
    """One line: (time, value) points, drawn in time order."""

    name: str
    points: Sequence[tuple[datetime, float]]


@dataclass(frozen=True, slots=True)
class Threshold:
    """A horizontal line at ``value`` (an objective or a limit), labelled."""

    value: float
    label: str


@dataclass(frozen=True, slots=True)
class Marker:
    """A vertical line at ``at`` with a label; ``kind`` picks its colour and CSS class."""

    at: datetime
    label: str
    kind: str = "event"


@dataclass(frozen=True, slots=True)
class Chart:
    """An SVG chart and its text alternative (the table shown under it)."""

    id: str
    title: str
    svg: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    empty: bool


def _words(lang: str) -> dict[str, str]:
    return _WORDS["en" if lang == "en" else "de"]


def _attr(value: object) -> str:
    return escape(str(value), quote=True)


def _num(value: float) -> str:
    """A coordinate: two decimals at most, no trailing zeros."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _chart_id(raw: str) -> str:
    cleaned = re.sub(r"[^a-z0-9-]+", "-", raw.lower()).strip("-")
    return cleaned or "chart"


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is at least ``value`` (> 0)."""
    if not math.isfinite(value) or value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if step * power >= value * (1 - 1e-12):
            return step * power
    return 10.0 * power  # pragma: no cover - the loop ends at 10


def _open(chart_id: str, title: str, desc: str, kind: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" class="chart chart-{kind}" '
        f'data-chart="{chart_id}" aria-label="{_attr(title)}" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
    ]


def _no_data(parts: list[str], text: str) -> None:
    parts.append(
        f'<rect class="frame" x="{_num(PLOT.left)}" y="{_num(PLOT.top)}" '
        f'width="{_num(PLOT.width)}" height="{_num(PLOT.height)}" fill="#f4f6f9" '
        f'stroke="{_GRID}"/>'
    )
    parts.append(
        f'<text class="no-data" x="{_num(PLOT.left + PLOT.width / 2)}" '
        f'y="{_num(PLOT.top + PLOT.height / 2)}" text-anchor="middle" '
        f'dominant-baseline="middle" font-size="14" fill="{_MUTED}" {_FONT}>'
        f"{escape(text)}</text>"
    )


def _y_grid(parts: list[str], top: float, lang: str, unit: str) -> Callable[[float], float]:
    """Draw four grid lines from 0 to ``top`` with labels; returns the value-to-y function."""

    def y_of(value: float) -> float:
        return PLOT.bottom - (value / top) * PLOT.height

    parts.append('<g class="y-axis">')
    for step in range(5):
        value = top * step / 4
        y = _num(y_of(value))
        parts.append(
            f'<line x1="{_num(PLOT.left)}" x2="{_num(PLOT.right)}" y1="{y}" y2="{y}" '
            f'stroke="{_GRID}" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{_num(PLOT.left - 6)}" y="{y}" text-anchor="end" '
            f'dominant-baseline="middle" font-size="11" fill="{_MUTED}" {_FONT}>'
            f"{escape(fmt_number(round(value, 3), lang))}</text>"
        )
    if unit:
        parts.append(
            f'<text class="unit" x="{_num(PLOT.left - 6)}" y="{_num(PLOT.top - 20)}" '
            f'text-anchor="end" font-size="11" fill="{_MUTED}" {_FONT}>{escape(unit)}</text>'
        )
    parts.append("</g>")
    return y_of


#: Steps of the time axis below two days, in minutes (at most six ticks are drawn).
_MINUTE_STEPS: Final = (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440)


def time_ticks(first: datetime, last: datetime, zone: ZoneInfo = DEFAULT_ZONE) -> list[datetime]:
    """Round moments between ``first`` and ``last`` for the time axis, at most about six.

    From two days on: local midnights in ``zone`` every N days; below: local times on a
    multiple of 1, 2, 5, 10, 15 or 30 minutes or 1, 2, 3, 6 or 12 hours since midnight.
    """
    span = last - first
    local = first.astimezone(zone)
    ticks: list[datetime] = []
    if span >= timedelta(days=2):
        every = max(1, math.ceil(span / timedelta(days=6)))
        day = local.replace(hour=0, minute=0, second=0, microsecond=0)
        if day < local:
            day += timedelta(days=1)  # wall-clock days: midnight stays midnight
        while day <= last:
            ticks.append(day)
            day += timedelta(days=every)
        return ticks
    minutes = next((m for m in _MINUTE_STEPS if span / timedelta(minutes=m) <= 6), 1440)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    since = (local.replace(tzinfo=None) - midnight.replace(tzinfo=None)) / timedelta(minutes=1)
    moment = first + timedelta(minutes=math.ceil(since / minutes) * minutes - since)
    while moment <= last:
        ticks.append(moment)
        moment += timedelta(minutes=minutes)
    return ticks


def _tick_label(when: datetime, span: timedelta, lang: str, zone: ZoneInfo) -> str:
    if span >= timedelta(days=2):
        return fmt_day(when, lang, zone)
    return when.astimezone(zone).strftime("%H:%M")


def line_chart(
    chart_id: str,
    *,
    title: str,
    desc: str,
    series: Sequence[Series],
    lang: str,
    unit: str = "",
    start: datetime | None = None,
    end: datetime | None = None,
    thresholds: Sequence[Threshold] = (),
    markers: Sequence[Marker] = (),
    empty_text: str | None = None,
    zone: ZoneInfo = DEFAULT_ZONE,
) -> Chart:
    """Series over time, with threshold lines and event markers.

    The x-axis runs from ``start`` to ``end`` (default: the first and last point); points and
    markers outside are left out. The y-axis runs from 0 to a round value above the highest
    point and threshold. Without any point the chart shows ``empty_text`` instead.
    """
    cid = _chart_id(chart_id)
    words = _words(lang)
    ordered = [Series(s.name, sorted(s.points, key=lambda p: p[0])) for s in series]
    times = [t for s in ordered for t, _ in s.points]
    first = start if start is not None else (min(times) if times else None)
    last = end if end is not None else (max(times) if times else None)
    visible = [
        Series(
            s.name,
            [
                (t, v)
                for t, v in s.points
                if first is not None and last is not None and first <= t <= last
                if math.isfinite(v)
            ],
        )
        for s in ordered
    ]
    shown_markers = [
        m for m in markers if first is not None and last is not None and first <= m.at <= last
    ]
    empty = not any(s.points for s in visible)
    parts = _open(cid, title, desc, "line")
    headers = (words["series"], words["time"], words["value"])
    suffix = f" {unit}" if unit else ""
    if empty or first is None or last is None:
        _no_data(parts, empty_text or words["no_data"])
        parts.append("</svg>")
        return Chart(cid, title, "".join(parts), headers, (), True)
    if last <= first:
        first, last = first - timedelta(minutes=30), last + timedelta(minutes=30)
    span = last - first

    def x_of(when: datetime) -> float:
        return PLOT.left + (when - first) / span * PLOT.width

    highest = max([v for s in visible for _, v in s.points] + [t.value for t in thresholds])
    y_of = _y_grid(parts, nice_ceiling(highest), lang, unit)
    parts.append('<g class="x-axis">')
    for when in time_ticks(first, last, zone):
        at = x_of(when)
        tick = _num(at)
        anchor = "start" if at < PLOT.left + 30 else "end" if at > PLOT.right - 30 else "middle"
        parts.append(
            f'<line x1="{tick}" x2="{tick}" y1="{_num(PLOT.bottom)}" y2="{_num(PLOT.bottom + 4)}" '
            f'stroke="{_MUTED}"/>'
        )
        parts.append(
            f'<text x="{tick}" y="{_num(PLOT.bottom + 18)}" text-anchor="{anchor}" font-size="11" '
            f'fill="{_MUTED}" {_FONT}>{escape(_tick_label(when, span, lang, zone))}</text>'
        )
    parts.append(
        f'<line x1="{_num(PLOT.left)}" x2="{_num(PLOT.right)}" y1="{_num(PLOT.bottom)}" '
        f'y2="{_num(PLOT.bottom)}" stroke="{_MUTED}"/>'
    )
    parts.append("</g>")
    rows: list[tuple[str, ...]] = []
    parts.append('<g class="thresholds">')
    for threshold in thresholds:
        y = _num(y_of(threshold.value))
        parts.append(
            f'<line class="threshold" data-value="{_attr(threshold.value)}" '
            f'x1="{_num(PLOT.left)}" x2="{_num(PLOT.right)}" y1="{y}" y2="{y}" '
            f'stroke="{_THRESHOLD}" stroke-width="1.5" stroke-dasharray="6 4"/>'
        )
        parts.append(
            f'<text x="{_num(PLOT.right - 4)}" y="{_num(y_of(threshold.value) - 4)}" '
            f'text-anchor="end" font-size="11" fill="{_THRESHOLD}" {_FONT}>'
            f"{escape(threshold.label)}</text>"
        )
        rows.append((threshold.label, "", f"{fmt_number(round(threshold.value, 3), lang)}{suffix}"))
    parts.append("</g>")
    parts.append('<g class="series">')
    for index, line in enumerate(visible):
        colour = _COLOURS[index % len(_COLOURS)]
        coords = " ".join(f"{_num(x_of(t))},{_num(y_of(v))}" for t, v in line.points)
        if line.points:
            parts.append(
                f'<polyline class="line" data-series="{_attr(line.name)}" points="{coords}" '
                f'fill="none" stroke="{colour}" stroke-width="2" stroke-linejoin="round"/>'
            )
        if 0 < len(line.points) <= 60:
            for t, v in line.points:
                parts.append(
                    f'<circle cx="{_num(x_of(t))}" cy="{_num(y_of(v))}" r="2.5" fill="{colour}"/>'
                )
        for t, v in line.points:
            rows.append(
                (line.name, fmt_time(t, lang, zone), f"{fmt_number(round(v, 3), lang)}{suffix}")
            )
    parts.append("</g>")
    parts.append('<g class="markers">')
    for marker in sorted(shown_markers, key=lambda m: m.at):
        colour = _MARKERS.get(marker.kind, _MARKER_DEFAULT)
        x = x_of(marker.at)
        parts.append(
            f'<line class="marker marker-{_attr(_chart_id(marker.kind))}" '
            f'data-at="{_attr(marker.at.isoformat())}" x1="{_num(x)}" x2="{_num(x)}" '
            f'y1="{_num(PLOT.top)}" y2="{_num(PLOT.bottom)}" stroke="{colour}" '
            f'stroke-width="1.5" stroke-dasharray="2 3"/>'
        )
        anchor = "end" if x > PLOT.left + PLOT.width * 0.8 else "start"
        offset = -3 if anchor == "end" else 3
        parts.append(
            f'<text x="{_num(x + offset)}" y="{_num(PLOT.top - 4)}" text-anchor="{anchor}" '
            f'font-size="10" fill="{colour}" {_FONT}>{escape(marker.label)}</text>'
        )
        rows.append((words["event"], fmt_time(marker.at, lang, zone), marker.label))
    parts.append("</g>")
    if len(visible) > 1:
        parts.append('<g class="legend">')
        x = PLOT.left
        for index, line in enumerate(visible):
            colour = _COLOURS[index % len(_COLOURS)]
            parts.append(
                f'<rect x="{_num(x)}" y="{_num(HEIGHT - 12)}" width="10" height="10" '
                f'fill="{colour}"/>'
            )
            parts.append(
                f'<text x="{_num(x + 14)}" y="{_num(HEIGHT - 3)}" font-size="11" '
                f'fill="{_INK}" {_FONT}>{escape(line.name)}</text>'
            )
            x += 24 + 7 * len(line.name)
        parts.append("</g>")
    parts.append("</svg>")
    return Chart(cid, title, "".join(parts), headers, tuple(rows), False)


def bar_chart(
    chart_id: str,
    *,
    title: str,
    desc: str,
    bars: Sequence[tuple[str, float]],
    lang: str,
    unit: str = "",
    category_header: str | None = None,
    empty_text: str | None = None,
) -> Chart:
    """One bar per (label, value), left to right in the given order, each value written on
    top of its bar. Without bars the chart shows ``empty_text``."""
    cid = _chart_id(chart_id)
    words = _words(lang)
    headers = (category_header or words["category"], words["value"])
    parts = _open(cid, title, desc, "bar")
    values = [(label, value) for label, value in bars if math.isfinite(value)]
    if not values:
        _no_data(parts, empty_text or words["no_data"])
        parts.append("</svg>")
        return Chart(cid, title, "".join(parts), headers, (), True)
    top = nice_ceiling(max(max(v for _, v in values), 0.0))
    y_of = _y_grid(parts, top, lang, unit)
    slot = PLOT.width / len(values)
    width = min(slot * 0.6, 90.0)
    suffix = f" {unit}" if unit else ""
    rows: list[tuple[str, ...]] = []
    parts.append('<g class="bars">')
    for index, (label, value) in enumerate(values):
        colour = _COLOURS[index % len(_COLOURS)]
        centre = PLOT.left + slot * (index + 0.5)
        y = y_of(max(value, 0.0))
        text = fmt_number(round(value, 3), lang)
        parts.append(
            f'<rect class="bar" data-label="{_attr(label)}" data-value="{_attr(value)}" '
            f'x="{_num(centre - width / 2)}" y="{_num(y)}" width="{_num(width)}" '
            f'height="{_num(PLOT.bottom - y)}" fill="{colour}"/>'
        )
        parts.append(
            f'<text x="{_num(centre)}" y="{_num(y - 5)}" text-anchor="middle" font-size="12" '
            f'fill="{_INK}" {_FONT}>{escape(text)}</text>'
        )
        parts.append(
            f'<text x="{_num(centre)}" y="{_num(PLOT.bottom + 18)}" text-anchor="middle" '
            f'font-size="12" fill="{_INK}" {_FONT}>{escape(label)}</text>'
        )
        rows.append((label, f"{text}{suffix}"))
    parts.append(
        f'<line x1="{_num(PLOT.left)}" x2="{_num(PLOT.right)}" y1="{_num(PLOT.bottom)}" '
        f'y2="{_num(PLOT.bottom)}" stroke="{_MUTED}"/>'
    )
    parts.append("</g></svg>")
    return Chart(cid, title, "".join(parts), headers, tuple(rows), False)
