"""Canary analysis: ask Prometheus for each slot's 5xx rate and p95 latency over the window.

The series are the application metrics of ``leitstand.instrument``
(``http_server_request_duration_seconds``), selected per slot by its labels (by default the
scrape target, ``instance="host:port"``). Health-check requests are left out: they are
leitstand's own traffic, not the users'.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from leitstand.policy.model import Policy
from leitstand.releases.model import Judgement, Measurement, MetricLimit, judge

if TYPE_CHECKING:
    from leitstand.releases.runtime import Runtime

__all__ = [
    "PrometheusQueries",
    "analyse",
    "measure",
    "measurement_dict",
    "prometheus_url",
    "selector",
]

_METRIC = "http_server_request_duration_seconds"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def selector(labels: Mapping[str, str], *, exclude_route: str | None = None) -> str:
    """A PromQL label matcher list such as ``instance="127.0.0.1:8081"``."""
    parts = [f'{k}="{_escape(v)}"' for k, v in sorted(labels.items())]
    if exclude_route:
        parts.append(f'http_route!="{_escape(exclude_route)}"')
    return ",".join(parts)


class PrometheusQueries:
    """Instant queries against Prometheus's HTTP API."""

    def __init__(self, url: str, *, timeout: float) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def value(self, expr: str, at: datetime) -> float | None:
        """The single value of an instant query (None when the result is empty or NaN)."""
        answer = httpx.get(
            f"{self.url}/api/v1/query",
            params={"query": expr, "time": f"{at.timestamp():.3f}"},
            timeout=self.timeout,
        )
        if answer.status_code != 200:
            error = answer.json().get("error", answer.text[:200]) if answer.content else ""
            raise ValueError(f"Prometheus answered HTTP {answer.status_code}: {error}")
        data = answer.json().get("data", {})
        result = data.get("result", [])
        if not result:
            return None
        value = float(result[0]["value"][1])
        return None if math.isnan(value) or math.isinf(value) else value


def measure(
    queries: PrometheusQueries,
    labels: Mapping[str, str],
    *,
    window: timedelta,
    at: datetime,
    health_path: str,
) -> Measurement:
    """Requests, 5xx rate (percent) and p95 (ms) of one slot over ``window`` ending ``at``."""
    sel = selector(labels, exclude_route=health_path)
    w = f"{max(1, round(window.total_seconds()))}s"
    total = f"sum(increase({_METRIC}_count{{{sel}}}[{w}]))"
    errors = f'sum(increase({_METRIC}_count{{{sel},http_response_status_code=~"5.."}}[{w}]))'
    p95 = f"1000 * histogram_quantile(0.95, sum by (le) (rate({_METRIC}_bucket{{{sel}}}[{w}])))"
    try:
        requests = queries.value(total, at)
        failed = queries.value(errors, at) or 0.0
        latency = queries.value(p95, at)
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        return Measurement(None, None, None, error=f"Prometheus {queries.url}: {exc}")
    rate = None if not requests else 100.0 * failed / requests
    return Measurement(requests=requests, error_rate=rate, p95_ms=latency)


def prometheus_url(configured: str | None, home: Path) -> str | None:
    """The configured URL, else the managed stack's Prometheus that `leitstand up` started.

    The stack's ``state.json`` names each engine's port and PID (``leitstand.alerting.stack``);
    a Prometheus whose process is gone does not count.
    """
    if configured:
        return configured
    state = home / "stack" / "state.json"
    try:
        data = json.loads(state.read_text())
    except (OSError, ValueError):
        return None
    component = data.get("prometheus") if isinstance(data, dict) else None
    if not isinstance(component, dict):
        return None
    port, pid = component.get("port"), component.get("pid")
    if not isinstance(port, int) or not _alive(pid):
        return None
    return f"http://127.0.0.1:{port}"


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except PermissionError:
        return True  # exists, owned by someone else
    except OSError:
        return False
    return True


def limit(policy: Policy, metric_id: str, unit: str) -> MetricLimit:
    """A monitoring metric's warning and critical thresholds (validated to be a threshold)."""
    metric = policy.monitoring.metrics[metric_id]
    warning = float(getattr(metric, "warning", 0))
    critical = float(getattr(metric, "critical", 0))
    return MetricLimit(name=metric.name.en, unit=unit, warning=warning, critical=critical)


def analyse(
    runtime: Runtime,
    policy: Policy,
    canary_slot: str,
    stable_slot: str,
    *,
    now: datetime,
    home: Path,
) -> tuple[Measurement, Measurement, Judgement]:
    """Measure both slots over the policy's window ending ``now`` and judge the canary."""
    analysis = runtime.target.analysis
    window = policy.deployment.canary.analysis_window
    url = prometheus_url(analysis.prometheus_url, home)
    if url is None:
        missing = Measurement(
            None,
            None,
            None,
            error="no Prometheus configured (analysis.prometheus_url) and the managed stack "
            "of `leitstand up` is not running",
        )
        canary, stable = missing, missing
    else:
        queries = PrometheusQueries(url, timeout=analysis.query_timeout.total_seconds())
        health = runtime.target.health.path
        instances = runtime.environment.instances
        canary = measure(
            queries, instances[canary_slot].labels(), window=window, at=now, health_path=health
        )
        stable = measure(
            queries, instances[stable_slot].labels(), window=window, at=now, health_path=health
        )
    judgement = judge(
        canary,
        stable,
        error_limit=limit(policy, analysis.error_rate_metric, "%"),
        latency_limit=limit(policy, analysis.latency_metric, "ms"),
        min_requests=analysis.min_requests,
    )
    return canary, stable, judgement


def measurement_dict(m: Measurement) -> dict[str, Any]:
    return {
        "requests": m.requests,
        "error_rate": m.error_rate,
        "p95_ms": m.p95_ms,
        "error": m.error,
    }
