"""The seed's five mandatory Grafana dashboards, as dashboard JSON with provisioning (pure).

Panels plot the recorded ``leitstand:<metric>:<unit>`` series with the policy's warning and
critical thresholds as colour steps, so a dashboard and an alert can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from leitstand.alerting.catalogue import BATCH_RUNTIME, BATCH_START, CATALOGUE
from leitstand.alerting.rules import record_name
from leitstand.policy.model import Policy
from leitstand.policy.monitoring import BatchJobMetric, Direction

__all__ = ["PANEL_VARIABLES", "dashboards", "panel_queries", "provisioning"]

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


def _panel_json(panel_id: int, panel: _Panel) -> dict[str, Any]:
    return {
        "id": panel_id,
        "type": "timeseries",
        "title": panel.title,
        "datasource": _DS,
        "gridPos": {
            "h": 8,
            "w": 12,
            "x": 12 * ((panel_id - 1) % 2),
            "y": 8 * ((panel_id - 1) // 2),
        },
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
    key: str, title: str, panels: list[_Panel], variables: list[dict[str, Any]]
) -> dict[str, Any]:
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
        "panels": [_panel_json(i, p) for i, p in enumerate(panels, start=1)],
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


def dashboards(policy: Policy) -> dict[str, dict[str, Any]]:
    """The mandatory dashboards of the policy, keyed by file stem."""
    out: dict[str, dict[str, Any]] = {}
    for key, dashboard in policy.observability.dashboards.items():
        title = dashboard.title.de
        if key == "tenants":
            variable = _query_variable("tenant", "Maklerhaus", f"label_values({_REQ}, tenant)")
            out[key] = _dashboard(key, title, _tenant_panels(), [variable])
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


def provisioning(prometheus_url: str, dashboards_dir: str) -> dict[str, dict[str, Any]]:
    """Grafana provisioning files: the Prometheus datasource and the dashboard folder."""
    return {
        "datasources/leitstand.yml": {
            "apiVersion": 1,
            "datasources": [
                {
                    "name": "Prometheus (leitstand)",
                    "type": "prometheus",
                    "access": "proxy",
                    "url": prometheus_url,
                    "isDefault": True,
                }
            ],
        },
        "dashboards/leitstand.yml": {
            "apiVersion": 1,
            "providers": [
                {
                    "name": "leitstand",
                    "folder": "leitstand",
                    "type": "file",
                    "disableDeletion": True,
                    "options": {"path": dashboards_dir},
                }
            ],
        },
    }


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
