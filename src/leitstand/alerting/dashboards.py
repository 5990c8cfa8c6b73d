"""The seed's five mandatory Grafana dashboards, as dashboard JSON with provisioning (pure).

Panels plot the recorded ``leitstand:<metric>:<unit>`` series with the policy's warning and
critical thresholds as colour steps, so a dashboard and an alert can never disagree. The
"Mandanten" dashboard starts with one health status per broker house of the policy
(``tenant_health``); the provisioning files come from ``leitstand.alerting.grafana``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from leitstand.alerting.catalogue import BATCH_RUNTIME, BATCH_START, CATALOGUE
from leitstand.alerting.grafana import provisioning_files
from leitstand.alerting.rules import record_name
from leitstand.policy.model import Policy
from leitstand.policy.monitoring import BatchJobMetric, Direction, ThresholdMetric

__all__ = [
    "NO_DATA",
    "PANEL_VARIABLES",
    "dashboards",
    "panel_queries",
    "provisioning",
    "tenant_health",
    "tenant_status_panel",
]

_DS = {"type": "prometheus", "uid": "${datasource}"}
_REQ = "http_server_request_duration_seconds_count"
_GRAFANA_UNIT = {
    "percent": "percent",
    "ms": "ms",
    "count": "short",
    "per_minute": "short",
    "days": "d",
    "houses": "short",
    "runtime_factor": "short",
    "overdue_seconds": "s",
}
#: The value of a broker house's health without any series (shown as "Keine Daten").
NO_DATA = -1
_LEVEL_COLOURS = ("orange", "red", "dark-red", "purple")
_RE2_SPECIAL = frozenset("\\.+*?()|[]{}^$")
# The blackbox exporter's HTTP probe job (engine_config.PROBE_JOBS).
_PROBE_JOB = "blackbox-http"
#: Grafana variables used in panel queries and a value each that keeps PromQL valid for checks.
PANEL_VARIABLES = {"$tenant": ".+", "$service": ".+", "$__rate_interval": "5m"}

# Which metrics each mandatory dashboard shows (by the policy's dashboard keys).
_CONTENT = {
    "system_overview": ["cpu", "memory", "disk", "disk_io_latency", "network_latency"],
    "application_health": [
        "http_5xx_rate",
        "response_time_p95",
        "request_rate_drop",
        "db_connections",
        "queue_depth",
    ],
    "business_metrics": ["contract_processing", "broker_api_sync", "batch_jobs"],
    "security": ["failed_logins", "failed_api_auth", "rate_limit_hits", "certificate_expiry"],
}


@dataclass(frozen=True, slots=True)
class _Panel:
    title: str
    expr: str
    unit: str
    legend: str
    steps: list[dict[str, Any]]


def _steps(warning: float | None, critical: float | None, below: bool) -> list[dict[str, Any]]:
    if warning is None or critical is None:
        return [{"color": "green", "value": None}]
    if below:
        return [
            {"color": "red", "value": None},
            {"color": "orange", "value": critical},
            {"color": "green", "value": warning},
        ]
    return [
        {"color": "green", "value": None},
        {"color": "orange", "value": warning},
        {"color": "red", "value": critical},
    ]


def _metric_panels(policy: Policy, metric_id: str, where: str) -> list[_Panel]:
    metric = policy.monitoring.metrics.get(metric_id)
    if metric is None:
        return []
    if isinstance(metric, BatchJobMetric):
        factor = float(metric.warning_runtime_factor)
        return [
            _Panel(
                f"{metric.name.de}: Laufzeit / Normalzeit",
                f"{record_name(BATCH_RUNTIME)}{where}",
                "short",
                "{{job_name}}",
                _steps(factor, factor * 1.5, False),
            ),
            _Panel(
                f"{metric.name.de}: Start überfällig",
                f"{record_name(BATCH_START)}{where}",
                "s",
                "{{job_name}}",
                _steps(0, 0.001, False),
            ),
        ]
    spec = CATALOGUE[metric_id]
    legend = " ".join(f"{{{{{label}}}}}" for label in spec.by)
    return [
        _Panel(
            metric.name.de,
            f"{record_name(spec)}{where}",
            _GRAFANA_UNIT[spec.unit],
            legend,
            _steps(
                float(metric.warning), float(metric.critical), metric.direction is Direction.BELOW
            ),
        )
    ]


def _panel_json(panel_id: int, index: int, panel: _Panel, top: int) -> dict[str, Any]:
    return {
        "id": panel_id,
        "type": "timeseries",
        "title": panel.title,
        "datasource": _DS,
        "gridPos": {"h": 8, "w": 12, "x": 12 * (index % 2), "y": top + 8 * (index // 2)},
        "targets": [
            {"refId": "A", "datasource": _DS, "expr": panel.expr, "legendFormat": panel.legend}
        ],
        "fieldConfig": {
            "defaults": {
                "unit": panel.unit,
                "thresholds": {"mode": "absolute", "steps": panel.steps},
                "custom": {"thresholdsStyle": {"mode": "line"}},
            },
            "overrides": [],
        },
    }


def _datasource_variable() -> dict[str, Any]:
    return {"name": "datasource", "type": "datasource", "query": "prometheus", "hide": 0}


def _query_variable(name: str, label: str, query: str) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": _DS,
        "query": {"query": query, "refId": name},
        "definition": query,
        "refresh": 2,
        "includeAll": True,
        "multi": True,
        "allValue": ".+",
        "sort": 1,
    }


def _dashboard(
    key: str,
    title: str,
    panels: list[_Panel],
    variables: list[dict[str, Any]],
    head: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The dashboard JSON: ``head`` (full-width panels) first, then the time series, two a row."""
    head = head or []
    top = sum(int(p["gridPos"]["h"]) for p in head)
    series = [_panel_json(len(head) + i + 1, i, p, top) for i, p in enumerate(panels)]
    return {
        "uid": f"leitstand-{key.replace('_', '-')}",
        "title": title,
        "tags": ["leitstand"],
        "timezone": "Europe/Berlin",
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "templating": {"list": [_datasource_variable(), *variables]},
        "panels": [*head, *series],
    }


def _tenant_panels() -> list[_Panel]:
    sel = '{tenant=~"$tenant"}'
    return [
        _Panel(
            "Requests/s pro Maklerhaus",
            f"sum by (tenant) (rate({_REQ}{sel}[$__rate_interval]))",
            "reqps",
            "{{tenant}}",
            _steps(None, None, False),
        ),
        _Panel(
            "HTTP 5xx Rate pro Maklerhaus",
            f'100 * sum by (tenant) (rate({_REQ}{{tenant=~"$tenant",'
            f'http_response_status_code=~"5.."}}[$__rate_interval]))'
            f" / sum by (tenant) (rate({_REQ}{sel}[$__rate_interval]))",
            "percent",
            "{{tenant}}",
            _steps(None, None, False),
        ),
        _Panel(
            "Response Time P95 pro Maklerhaus",
            "1000 * histogram_quantile(0.95, sum by (tenant, le) "
            f"(rate(http_server_request_duration_seconds_bucket{sel}[$__rate_interval])))",
            "ms",
            "{{tenant}}",
            _steps(None, None, False),
        ),
        _Panel(
            "API-Sync-Fehler pro Maklerhaus",
            f"sum by (tenant) (increase(app_broker_sync_errors_total{sel}[$__rate_interval]))",
            "short",
            "{{tenant}}",
            _steps(None, None, False),
        ),
    ]


def _quote(value: str) -> str:
    """A PromQL string literal (JSON's escapes are Go's)."""
    return json.dumps(value, ensure_ascii=False)


def _literal(value: str) -> str:
    """``value`` as an RE2 pattern matching exactly itself."""
    return "".join(f"\\{c}" if c in _RE2_SPECIAL else c for c in value)


def _window(policy: Policy, metric: ThresholdMetric) -> str:
    # As the alert rules: twice the metric's interval, at least four scrapes.
    scrape = policy.monitoring.scrape_interval.total_seconds()
    return f"{math.ceil(max(2 * metric.interval.total_seconds(), 4 * scrape))}s"


def _threshold_level(
    policy: Policy, metric_id: str, expr: Callable[[str], str], levels: list[int]
) -> str | None:
    """0, the warning or the critical level number, by the metric's thresholds in the policy."""
    metric = policy.monitoring.metrics.get(metric_id)
    if not isinstance(metric, ThresholdMetric):
        return None
    value = expr(_window(policy, metric))
    op = ">" if metric.direction is Direction.ABOVE else "<"
    warning, critical = levels[0], levels[min(1, len(levels) - 1)]
    return (
        f"{warning} * ({value} {op} bool {_num(metric.warning)})"
        f" + {critical - warning} * ({value} {op} bool {_num(metric.critical)})"
    )


def _num(value: float) -> str:
    return f"{float(value):g}"


def tenant_health(policy: Policy, tenant_id: str) -> str:
    """PromQL of one broker house's health: the highest alert level number that applies now.

    0 is healthy, -1 no data at all. The house's own series (``tenant`` label, from
    ``leitstand.instrument``'s ``X-Tenant`` header) are judged by the thresholds of the service
    metrics: HTTP 5xx rate and P95 (warning/critical), any broker API sync error (warning). The
    services the policy lists for the house count too: a scrape target down (critical) and every
    firing alert on them (its own level); tenant-labelled targets, HTTP probes and alerts as well.
    """
    tenant = policy.tenants[tenant_id]
    levels = sorted(level.level for level in policy.alerting.levels.values())
    own = f"tenant={_quote(tenant_id)}"
    shared = ""
    if tenant.services:
        services = "|".join(_literal(s) for s in tenant.services)
        # The services' series not labelled for another house.
        shared = f"service=~{_quote(services)},tenant=~{_quote('|' + _literal(tenant_id))}"
    req = f"{_REQ}{{{own}}}"
    err = f'{_REQ}{{{own},http_response_status_code=~"5.."}}'
    critical = levels[min(1, len(levels) - 1)]
    checks: list[tuple[str, str | None]] = [
        (
            "http_5xx_rate",
            _threshold_level(
                policy,
                "http_5xx_rate",
                lambda w: f"(100 * sum(rate({err}[{w}])) / sum(rate({req}[{w}])))",
                levels,
            ),
        ),
        (
            "response_time_p95",
            _threshold_level(
                policy,
                "response_time_p95",
                lambda w: (
                    "(1000 * histogram_quantile(0.95, sum by (le) "
                    f"(rate(http_server_request_duration_seconds_bucket{{{own}}}[{w}]))))"
                ),
                levels,
            ),
        ),
    ]
    sync = policy.monitoring.metrics.get("broker_api_sync")
    if isinstance(sync, ThresholdMetric):
        checks.append(
            (
                "broker_api_sync",
                f"{levels[0]} * (sum(increase(app_broker_sync_errors_total{{{own}}}"
                f"[{_window(policy, sync)}])) > bool 0)",
            )
        )
    up = f"up{{{shared}}} or up{{{own}}}" if shared else f"up{{{own}}}"
    checks.append(("up", f"{critical} * (min(max by (service, tenant) ({up})) < bool 1)"))
    checks.append(
        (
            "probe",
            f"{critical} * (min(max by (service) "
            f'(probe_success{{job="{_PROBE_JOB}",{own}}})) < bool 1)',
        )
    )
    for key, level in sorted(policy.alerting.levels.items(), key=lambda kv: kv[1].level):
        firing = f'alertstate="firing",severity={_quote(key)}'
        alerts = f"ALERTS{{{firing},{own}}}"
        if shared:
            alerts = f"ALERTS{{{firing},{shared}}} or {alerts}"
        checks.append((f"alerts_{key}", f"{level.level} * (count({alerts}) > bool 0)"))
    terms = " or ".join(
        f'label_replace({expr}, "check", "{name}", "", "")' for name, expr in checks if expr
    )
    return f"max({terms}) or vector({NO_DATA})"


def tenant_status_panel(policy: Policy) -> dict[str, Any] | None:
    """A stat panel with one value per broker house of the policy (None without tenants).

    Critical houses first, then by name; the value is the house's level with the policy's level
    names and colours from green (0) to red, grey for no data.
    """
    if not policy.tenants:
        return None
    ranked = sorted(policy.alerting.levels.values(), key=lambda level: level.level)
    mappings: dict[str, Any] = {
        str(NO_DATA): {"text": "Keine Daten", "color": "text", "index": 0},
        "0": {"text": "OK", "color": "green", "index": 1},
    }
    steps: list[dict[str, Any]] = [
        {"color": "text", "value": None},
        {"color": "green", "value": 0},
    ]
    for i, level in enumerate(ranked):
        colour = _LEVEL_COLOURS[min(i, len(_LEVEL_COLOURS) - 1)]
        mappings[str(level.level)] = {"text": level.name.de, "color": colour, "index": i + 2}
        steps.append({"color": colour, "value": level.level})
    order = sorted(policy.tenants.items(), key=lambda kv: (not kv[1].critical, kv[1].name))
    targets = [
        {
            "refId": f"T{i}",
            "datasource": _DS,
            "expr": tenant_health(policy, tenant_id),
            "legendFormat": tenant.name,
            "instant": True,
            "range": False,
        }
        for i, (tenant_id, tenant) in enumerate(order, start=1)
    ]
    return {
        "id": 1,
        "type": "stat",
        "title": "Health-Status pro Maklerhaus",
        "description": (
            "Höchste Alarmstufe, die jetzt für das Maklerhaus gilt: 5xx-Rate, P95 und "
            "API-Sync-Fehler seiner Requests (Schwellen der Policy), ausgefallene Scrape-Ziele "
            "und Probes, feuernde Alerts seiner Services. Kritische Maklerhäuser zuerst."
        ),
        "datasource": _DS,
        "gridPos": {"h": 2 + 3 * math.ceil(len(targets) / 6), "w": 24, "x": 0, "y": 0},
        "targets": targets,
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "background",
            "graphMode": "none",
            "textMode": "value_and_name",
            "justifyMode": "center",
            "orientation": "auto",
        },
        "fieldConfig": {
            "defaults": {
                "unit": "none",
                "decimals": 0,
                "color": {"mode": "thresholds"},
                "thresholds": {"mode": "absolute", "steps": steps},
                "mappings": [{"type": "value", "options": mappings}],
            },
            "overrides": [],
        },
    }


def dashboards(policy: Policy) -> dict[str, dict[str, Any]]:
    """The mandatory dashboards of the policy, keyed by file stem."""
    out: dict[str, dict[str, Any]] = {}
    for key, dashboard in policy.observability.dashboards.items():
        title = dashboard.title.de
        if key == "tenants":
            variable = _query_variable("tenant", "Maklerhaus", f"label_values({_REQ}, tenant)")
            status = tenant_status_panel(policy)
            head = [status] if status else []
            out[key] = _dashboard(key, title, _tenant_panels(), [variable], head)
            continue
        metrics = _CONTENT.get(key, [])
        variables: list[dict[str, Any]] = []
        where = ""
        if key in ("application_health", "business_metrics"):
            variables.append(
                _query_variable("service", "Service", f"label_values({_REQ}, service)")
            )
            where = '{service=~"$service"}'
        panels = [p for m in metrics for p in _metric_panels(policy, m, where)]
        if key == "application_health":
            panels.insert(
                0,
                _Panel(
                    "Request-Rate",
                    f'sum by (service) (rate({_REQ}{{service=~"$service"}}[$__rate_interval]))',
                    "reqps",
                    "{{service}}",
                    _steps(None, None, False),
                ),
            )
        out[key] = _dashboard(key, title, panels, variables)
    return out


def provisioning(
    prometheus_url: str,
    dashboards_dir: str,
    *,
    alertmanager_url: str = "http://127.0.0.1:9093",
    scrape_interval: timedelta | None = None,
) -> dict[str, dict[str, Any]]:
    """Grafana provisioning files: Prometheus and Alertmanager datasources, the dashboard folder."""
    return provisioning_files(
        prometheus_url,
        dashboards_dir,
        alertmanager_url=alertmanager_url,
        scrape_interval=scrape_interval,
    )


def panel_queries(board: dict[str, Any]) -> list[str]:
    """Every PromQL query of a dashboard, variables replaced by valid values (for checking)."""
    queries = []
    for panel in board["panels"]:
        for target in panel["targets"]:
            expr = str(target["expr"])
            for variable, value in PANEL_VARIABLES.items():
                expr = expr.replace(variable, value)
            queries.append(expr)
    return queries
