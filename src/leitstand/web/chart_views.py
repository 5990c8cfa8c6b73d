"""Web page: charts of the ledger's growth, alert volume per level, RPO over time per system and
error rate and p95 per service with release markers (``/charts``).

Each chart is drawn by ``leitstand.web.charts`` from the domains' typed read methods (audit
log, alert queries, backup runs and objectives, release history); error rate and p95 come from
Prometheus's HTTP API (``/api/v1/query_range``) when one is configured or managed, and a chart
says so instead of failing when it is not reachable.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Final
from zoneinfo import ZoneInfo

import httpx
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from leitstand.alerting.api import READERS
from leitstand.alerting.schemas import AlertOut
from leitstand.alerting.service import AlertingService
from leitstand.auth.model import Actor
from leitstand.backups.monitor import BackupMonitor
from leitstand.backups.schemas import RunView
from leitstand.backups.service import BackupService
from leitstand.deps import container_of, provide
from leitstand.display import fmt_number
from leitstand.ledger.audit import AuditService
from leitstand.ledger.service import EntryQuery
from leitstand.policy.model import Policy
from leitstand.releases.analysis import limit, prometheus_url, selector
from leitstand.releases.model import Phase, ReleaseInfo
from leitstand.releases.queries import ReleaseQueries
from leitstand.web.charts import Chart, Marker, Series, Threshold, bar_chart, line_chart
from leitstand.web.i18n import display_zone, register_nav, register_texts, translator
from leitstand.web.render import page, render, request_lang

__all__ = [
    "CHART_READERS",
    "PrometheusRange",
    "alert_volume_chart",
    "ledger_growth_chart",
    "router",
    "rpo_charts",
    "rpo_points",
    "service_charts",
]

router = APIRouter(include_in_schema=False)

#: Who sees the charts: the alert readers (the page shows alerts, releases and evidence volume).
CHART_READERS: Final = READERS
LEDGER_DAYS: Final = 30
ALERT_DAYS: Final = 30
RPO_DAYS: Final = 7
SERVICE_HOURS: Final = 24
_METRIC: Final = "http_server_request_duration_seconds"

register_nav("/charts", de="Diagramme", en="Charts", order=90)
register_texts(
    {
        "ch_title": ("Diagramme", "Charts"),
        "ch_ledger": ("Wachstum des Nachweis-Ledgers", "Evidence ledger growth"),
        "ch_ledger_desc": (
            "Neue Einträge je Tag in den letzten {days} Tagen; Größe jetzt: {size}.",
            "New entries per day over the last {days} days; size now: {size}.",
        ),
        "ch_ledger_series": ("Einträge je Tag", "Entries per day"),
        "ch_alerts": ("Alarme je Eskalationsstufe", "Alerts per escalation level"),
        "ch_alerts_desc": (
            "Eingegangene Alarme der letzten {days} Tage je Stufe.",
            "Alerts received over the last {days} days per level.",
        ),
        "ch_level": ("Stufe", "Level"),
        "ch_rpo": ("RPO im Zeitverlauf", "RPO over time"),
        "ch_rpo_desc": (
            "RPO von {name} in den letzten {days} Tagen: Alter des neuesten gesicherten Stands "
            "laut Sicherungsläufen, dazu die letzte Messung des Monitors; Ziel {objective}.",
            "RPO of {name} over the last {days} days: age of the newest backed-up point from "
            "the backup runs, with the monitor's latest reading; objective {objective}.",
        ),
        "ch_rpo_runs": ("aus Sicherungen", "from backups"),
        "ch_rpo_measured": ("gemessen", "measured"),
        "ch_objective": ("Ziel", "Objective"),
        "ch_no_backups": ("Keine Sicherung konfiguriert.", "No backup configured."),
        "ch_error_rate": ("Fehlerrate (5xx)", "Error rate (5xx)"),
        "ch_p95": ("Antwortzeit p95", "Response time p95"),
        "ch_service_desc": (
            "{metric} von {service} in den letzten {hours} Stunden aus Prometheus, "
            "mit Release-Starts und Rollbacks.",
            "{metric} of {service} over the last {hours} hours from Prometheus, "
            "with release starts and rollbacks.",
        ),
        "ch_services": ("Dienste", "Services"),
        "ch_no_services": (
            "Keine Dienste mit Release-Ziel (deployment.releases).",
            "No services with a release target (deployment.releases).",
        ),
        "ch_no_prometheus": (
            "Kein Prometheus konfiguriert oder gestartet",
            "No Prometheus configured or running",
        ),
        "ch_prometheus_down": ("Prometheus nicht erreichbar", "Prometheus not reachable"),
        "ch_warning": ("Warnung", "Warning"),
        "ch_critical": ("Kritisch", "Critical"),
        "ch_rollback": ("Rollback", "Rollback"),
        "ch_table": ("Werte als Tabelle", "Values as a table"),
    }
)


def _home(request: Request) -> Path:
    # The home folder (where the managed stack notes its Prometheus): a fact of the composition
    # root, read from the container like the overview's policy file.
    return container_of(request).settings.home


Audit = Annotated[AuditService, provide(AuditService)]
Alerting = Annotated[AlertingService, provide(AlertingService)]
Backups = Annotated[BackupService, provide(BackupService)]
Monitor = Annotated[BackupMonitor, provide(BackupMonitor)]
Releases = Annotated[ReleaseQueries, provide(ReleaseQueries)]
CurrentPolicy = Annotated[Policy, provide(Policy)]
Home = Annotated[Path, Depends(_home)]


@dataclass(frozen=True, slots=True)
class _Texts:
    """The page's UI texts in one language (``translator``'s keys used here)."""

    words: dict[str, str]

    def __call__(self, key: str, **values: object) -> str:
        text = self.words[key]
        return text.format(**values) if values else text


def _texts(lang: str) -> _Texts:
    return _Texts(translator(lang))


# -- ledger growth ------------------------------------------------------------------------------


def ledger_growth_chart(
    audit: AuditService, *, now: datetime, lang: str, zone: ZoneInfo, days: int = LEDGER_DAYS
) -> Chart:
    """Entries per calendar day (in ``zone``) over the last ``days`` days, today included.

    The ledger's indices are dense and follow the time of recording, so a day's count is the
    first index recorded on the next day minus the first index recorded on that day; the first
    index from a moment on is one past the newest entry before it (read newest first, which
    stops after the few entries recorded since).
    """
    text = _texts(lang)
    size = audit.signed_head().size
    today = now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    starts = [today - timedelta(days=back) for back in range(days - 1, -1, -1)]

    def first_index(since: datetime) -> int:
        found = audit.log(EntryQuery(until=since.astimezone(UTC), limit=1, newest_first=True))
        return found[0].index + 1 if found else 0

    bounds = [first_index(day) for day in starts] + [size]
    points = [(day, float(bounds[i + 1] - bounds[i])) for i, day in enumerate(starts)]
    return line_chart(
        "ledger-growth",
        title=text("ch_ledger"),
        desc=text("ch_ledger_desc", days=days, size=fmt_number(size, lang)),
        series=[Series(text("ch_ledger_series"), points)],
        lang=lang,
        start=starts[0],
        end=starts[-1],
        zone=zone,
    )


# -- alert volume ------------------------------------------------------------------------------


def alert_volume_chart(
    alerts: Sequence[AlertOut], policy: Policy, *, now: datetime, lang: str, days: int = ALERT_DAYS
) -> Chart:
    """Alerts received in the last ``days`` days per escalation level (every policy level,
    lowest first, zero included; a level the policy no longer names is shown by number)."""
    text = _texts(lang)
    since = now - timedelta(days=days)
    counts: dict[int, int] = {}
    for alert in alerts:
        if alert.received_at >= since:
            counts[alert.level] = counts.get(alert.level, 0) + 1
    names = {lvl.level: lvl.name.get(lang) for lvl in policy.alerting.levels.values()}
    levels = sorted(set(names) | set(counts))
    bars = [
        (f"{n} {names[n]}" if n in names else f"{text('ch_level')} {n}", float(counts.get(n, 0)))
        for n in levels
    ]
    return bar_chart(
        "alert-volume",
        title=text("ch_alerts"),
        desc=text("ch_alerts_desc", days=days),
        bars=bars,
        lang=lang,
        category_header=text("ch_level"),
    )


# -- RPO over time -----------------------------------------------------------------------------


def rpo_points(
    runs: Sequence[RunView], kinds: Sequence[str], *, start: datetime, end: datetime
) -> list[tuple[datetime, float]]:
    """The RPO (seconds) from ``start`` to ``end`` as the backup runs give it: at any moment, the
    age of the oldest of the newest backed-up points (a run's start) of each data kind.

    The line rises with time and drops when a succeeded run finishes (two points at that time:
    before and after). Before every kind has a backup there is no RPO (no point).
    """
    done = sorted(
        (r.finished_at, r.data, r.started_at)
        for r in runs
        if r.status == "succeeded" and r.finished_at is not None and r.data in kinds
    )
    latest: dict[str, datetime] = {}

    def rpo_at(moment: datetime) -> float | None:
        if not kinds or any(k not in latest for k in kinds):
            return None
        return (moment - min(latest[k] for k in kinds)).total_seconds()

    points: list[tuple[datetime, float]] = []

    def add(moment: datetime) -> None:
        value = rpo_at(moment)
        if value is not None:
            points.append((moment, value))

    pending = iter(done)
    upcoming = next(pending, None)
    while upcoming is not None and upcoming[0] <= start:
        latest[upcoming[1]] = max(latest.get(upcoming[1], upcoming[2]), upcoming[2])
        upcoming = next(pending, None)
    add(start)
    while upcoming is not None and upcoming[0] <= end:
        finished, kind, point = upcoming
        add(finished)
        latest[kind] = max(latest.get(kind, point), point)
        add(finished)
        upcoming = next(pending, None)
    add(end)
    return points


def _duration_unit(seconds: float, lang: str) -> tuple[str, float]:
    if seconds <= 3 * 3600:
        return "min", 60.0
    return ("h" if lang == "en" else "Std."), 3600.0


def rpo_charts(
    backups: BackupService,
    monitor: BackupMonitor,
    policy: Policy,
    *,
    now: datetime,
    lang: str,
    zone: ZoneInfo,
    days: int = RPO_DAYS,
) -> list[Chart]:
    """One chart per system with backups: the RPO from its runs against its objective."""
    text = _texts(lang)
    start = now - timedelta(days=days)
    measured = {o.system: o for o in monitor.objectives()}
    charts = []
    for system in backups.configured_systems():
        objective = policy.services[system].rpo.total_seconds()
        unit, per = _duration_unit(objective, lang)
        kinds = [k.value for k in backups.data_kinds(system)]
        runs = backups.runs(system=system, limit=1000)
        points = [(t, v / per) for t, v in rpo_points(runs, kinds, start=start, end=now)]
        series = [Series(text("ch_rpo_runs"), points)]
        reading = measured.get(system)
        if reading and reading.rpo_measured is not None and reading.measured_at is not None:
            series.append(
                Series(text("ch_rpo_measured"), [(reading.measured_at, reading.rpo_measured / per)])
            )
        name = policy.services[system].name
        target = f"{fmt_number(round(objective / per, 2), lang)} {unit}"
        charts.append(
            line_chart(
                f"rpo-{system}",
                title=f"{text('ch_rpo')}: {name}",
                desc=text("ch_rpo_desc", name=name, days=days, objective=target),
                series=series,
                lang=lang,
                unit=unit,
                start=start,
                end=now,
                thresholds=[Threshold(objective / per, f"{text('ch_objective')} {target}")],
                zone=zone,
            )
        )
    return charts


# -- error rate and p95 per service ------------------------------------------------------------


class PrometheusRange:
    """Range queries against Prometheus's HTTP API (``/api/v1/query_range``)."""

    def __init__(self, url: str, *, timeout: float) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def series(
        self, expr: str, *, start: datetime, end: datetime, step: timedelta
    ) -> list[tuple[datetime, float]]:
        """The first result's (time, value) pairs, NaN and infinite values left out."""
        answer = httpx.get(
            f"{self.url}/api/v1/query_range",
            params={
                "query": expr,
                "start": f"{start.timestamp():.3f}",
                "end": f"{end.timestamp():.3f}",
                "step": f"{max(1, round(step.total_seconds()))}s",
            },
            timeout=self.timeout,
        )
        if answer.status_code != 200:
            raise ValueError(f"Prometheus answered HTTP {answer.status_code}")
        result = answer.json()["data"]["result"]
        if not result:
            return []
        points = []
        for stamp, raw in result[0]["values"]:
            value = float(raw)
            if math.isfinite(value):
                points.append((datetime.fromtimestamp(float(stamp), UTC), value))
        return points


def _release_markers(history: Sequence[ReleaseInfo], lang: str) -> list[Marker]:
    text = _texts(lang)
    markers = [Marker(r.created_at, r.version, "release") for r in history]
    markers += [
        Marker(r.finished_at, f"{text('ch_rollback')} {r.version}", "rollback")
        for r in history
        if r.phase == Phase.ROLLED_BACK and r.finished_at is not None
    ]
    return markers


def _limits(policy: Policy, metric: str, unit: str, lang: str) -> list[Threshold]:
    text = _texts(lang)
    try:
        found = limit(policy, metric, unit)
    except (KeyError, AttributeError, TypeError, ValueError):
        return []
    return [
        Threshold(value, f"{text(key)} {fmt_number(value, lang)} {unit}")
        for key, value in (("ch_warning", found.warning), ("ch_critical", found.critical))
        if value > 0
    ]


Fetch = Callable[[str, float], PrometheusRange]


def service_charts(
    releases: ReleaseQueries,
    policy: Policy,
    home: Path,
    *,
    now: datetime,
    lang: str,
    zone: ZoneInfo,
    hours: int = SERVICE_HOURS,
    prometheus: Fetch = lambda url, timeout: PrometheusRange(url, timeout=timeout),
) -> list[Chart]:
    """Two charts per service with a release target: 5xx rate (%) and p95 (ms), each with the
    service's release starts and rollbacks and the monitoring limits of those metrics."""
    text = _texts(lang)
    start, step = now - timedelta(hours=hours), timedelta(minutes=5)
    unreachable: dict[str, str] = {}
    charts = []
    for service, target in policy.deployment.releases.items():
        markers = _release_markers(releases.history(service=service, limit=100), lang)
        url = prometheus_url(target.analysis.prometheus_url, home)
        sel = selector({"service": service}, exclude_route=target.health.path)
        queries = {
            "error-rate": (
                f'100 * sum(rate({_METRIC}_count{{{sel},http_response_status_code=~"5.."}}[5m]))'
                f" / sum(rate({_METRIC}_count{{{sel}}}[5m]))",
                text("ch_error_rate"),
                "%",
                target.analysis.error_rate_metric,
            ),
            "p95": (
                "1000 * histogram_quantile(0.95, sum by (le) "
                f"(rate({_METRIC}_bucket{{{sel}}}[5m])))",
                text("ch_p95"),
                "ms",
                target.analysis.latency_metric,
            ),
        }
        timeout = min(target.analysis.query_timeout.total_seconds(), 3.0)
        for key, (expr, title, unit, metric) in queries.items():
            points: list[tuple[datetime, float]] = []
            empty_text = None
            if url is None:
                empty_text = text("ch_no_prometheus")
            elif url in unreachable:
                empty_text = unreachable[url]
            else:
                try:
                    points = prometheus(url, timeout).series(expr, start=start, end=now, step=step)
                except (httpx.HTTPError, ValueError, KeyError, TypeError, IndexError):
                    unreachable[url] = f"{text('ch_prometheus_down')} ({url})"
                    empty_text = unreachable[url]
            charts.append(
                line_chart(
                    f"{key}-{service}",
                    title=f"{title}: {service}",
                    desc=text("ch_service_desc", metric=title, service=service, hours=hours),
                    series=[Series(title, points)],
                    lang=lang,
                    unit=unit,
                    start=start,
                    end=now,
                    thresholds=_limits(policy, metric, unit, lang),
                    markers=markers,
                    empty_text=empty_text,
                    zone=zone,
                )
            )
    return charts


# -- the page ------------------------------------------------------------------------------------


@router.get("/charts", response_class=HTMLResponse)
def charts_page(
    request: Request,
    actor: Annotated[Actor, page(*CHART_READERS)],
    audit: Audit,
    alerting: Alerting,
    backups: Backups,
    monitor: Monitor,
    releases: Releases,
    policy: CurrentPolicy,
    home: Home,
) -> Response:
    lang = request_lang(request)
    zone = display_zone(policy)
    now = audit.clock.now()
    alerts = alerting.queries.alert_list(status=None, limit=10000)
    context: dict[str, Any] = {
        "actor": actor,
        "ledger": ledger_growth_chart(audit, now=now, lang=lang, zone=zone),
        "alerts": alert_volume_chart(alerts, policy, now=now, lang=lang),
        "rpo": rpo_charts(backups, monitor, policy, now=now, lang=lang, zone=zone),
        "services": service_charts(releases, policy, home, now=now, lang=lang, zone=zone),
    }
    return render(request, "charts.html", context)
