"""The metric contract: for each of the seed's 17 metrics, its PromQL and its test series (pure).

Each metric is recorded as ``leitstand:<metric>:<unit>`` in the metric's own threshold unit, so
the warning and critical alerts compare one cheap series against a number from the policy, and
the dashboards plot the same series. ``series`` builds promtool input series that make the
recorded value equal a given number; ``shape`` says from when that value is exact, so the
generated tests know when an alert must fire.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from leitstand.alerting.engine_config import PROBE_JOBS
from leitstand.policy.monitoring import ProbeModule

__all__ = ["CATALOGUE", "MetricSpec", "Series"]

Series = list[tuple[str, str]]
_FS = 'fstype!~"tmpfs|ramfs|squashfs|overlay"'
_REQ = "http_server_request_duration_seconds"
# The blackbox exporter's scrape jobs: TCP connect probes measure network latency; HTTP (https
# URLs) and TLS probes report certificate expiry.
_TCP_JOB = PROBE_JOBS[ProbeModule.TCP]
_HTTP_JOB = PROBE_JOBS[ProbeModule.HTTP]
_PROBES = 'job=~"blackbox-.+"'


def _n(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text or "0"


def _counter(slope_per_step: float, steps: int) -> str:
    return f"0+{_n(slope_per_step)}x{steps}"


def _gauge(value: float, steps: int) -> str:
    return f"{_n(value)}x{steps}"


def _sel(name: str, **labels: str) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return f"{name}{{{inner}}}"


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """How one policy metric is measured and tested.

    ``expr(window)`` is the PromQL of the recorded value; ``by`` the labels of its result (the
    first one keys the test series); ``series(value, key, step_s, steps)`` builds input series;
    ``shape`` is ``gauge`` (exact at once), ``ratio`` (exact from the second sample), ``rate``
    (grows until the window is full), ``count`` or ``time`` (values involving ``time()``).
    """

    id: str
    unit: str
    expr: Callable[[str], str]
    by: tuple[str, ...]
    series: Callable[[float, str, int, int], Series]
    shape: str
    sources: str


def _cpu(v: float, key: str, s: int, n: int) -> Series:
    busy = v / 100
    base = {"instance": key, "job": "node", "cpu": "0"}
    return [
        (_sel("node_cpu_seconds_total", **base, mode="idle"), _counter((1 - busy) * s, n)),
        (_sel("node_cpu_seconds_total", **base, mode="user"), _counter(busy * s, n)),
    ]


def _memory(v: float, key: str, _s: int, n: int) -> Series:
    base = {"instance": key, "job": "node"}
    return [
        (_sel("node_memory_MemAvailable_bytes", **base), _gauge((100 - v) * 1e7, n)),
        (_sel("node_memory_MemTotal_bytes", **base), _gauge(1e9, n)),
    ]


def _disk(v: float, key: str, _s: int, n: int) -> Series:
    base = {"instance": key, "job": "node", "mountpoint": "/", "fstype": "ext4", "device": "sda1"}
    return [
        (_sel("node_filesystem_avail_bytes", **base), _gauge((100 - v) * 1e8, n)),
        (_sel("node_filesystem_size_bytes", **base), _gauge(1e10, n)),
    ]


def _disk_io(v: float, key: str, s: int, n: int) -> Series:
    base = {"instance": key, "job": "node", "device": "sda"}
    reads = 10 * s
    return [
        (_sel("node_disk_reads_completed_total", **base), _counter(reads, n)),
        (_sel("node_disk_writes_completed_total", **base), _counter(0, n)),
        (_sel("node_disk_read_time_seconds_total", **base), _counter(reads * v / 1000, n)),
        (_sel("node_disk_write_time_seconds_total", **base), _counter(0, n)),
    ]


def _probe(v: float, key: str, _s: int, n: int) -> Series:
    base = {"instance": key, "job": _TCP_JOB, "service": "portal"}
    return [
        (_sel("probe_duration_seconds", **base), _gauge(v / 1000, n)),
        (_sel("probe_success", **base), _gauge(1, n)),
    ]


def _http_5xx(v: float, key: str, s: int, n: int) -> Series:
    base = {"service": key, "http_request_method": "GET", "http_route": "/api"}
    return [
        (
            _sel(f"{_REQ}_count", **base, http_response_status_code="500"),
            _counter(v * s, n),
        ),
        (
            _sel(f"{_REQ}_count", **base, http_response_status_code="200"),
            _counter((100 - v) * s, n),
        ),
    ]


def _p95(v: float, key: str, s: int, n: int) -> Series:
    # 90 of 100 requests below v/2, 10 between v/2 and 1.5v: the 95th percentile is v.
    seconds = v / 1000
    base = {"service": key, "http_request_method": "GET", "http_route": "/api"}
    return [
        (_sel(f"{_REQ}_bucket", **base, le=_n(seconds / 2)), _counter(90 * s, n)),
        (_sel(f"{_REQ}_bucket", **base, le=_n(seconds * 1.5)), _counter(100 * s, n)),
        (_sel(f"{_REQ}_bucket", **base, le="+Inf"), _counter(100 * s, n)),
    ]


def _rate_drop(v: float, key: str, s: int, n: int) -> Series:
    # 10 requests/s for the first ``n - 40`` steps (more than a week), then (100 - v)% of that.
    before = n - 40
    slope = 10 * s
    after = slope * (100 - v) / 100
    values = f"0+{_n(slope)}x{before} {_n(slope * (before + 1))}+{_n(after)}x{n - before - 1}"
    base = {"service": key, "http_request_method": "GET", "http_route": "/api"}
    return [(_sel(f"{_REQ}_count", **base, http_response_status_code="200"), values)]


def _db_pool(v: float, key: str, _s: int, n: int) -> Series:
    base = {"service": key, "db_client_connection_pool_name": "main"}
    return [
        (
            _sel("db_client_connection_count", **base, db_client_connection_state="used"),
            _gauge(v, n),
        ),
        (
            _sel("db_client_connection_count", **base, db_client_connection_state="idle"),
            _gauge(100 - v, n),
        ),
        (_sel("db_client_connection_max", **base), _gauge(100, n)),
    ]


def _queue(v: float, key: str, _s: int, n: int) -> Series:
    return [(_sel("app_queue_depth", service=key, queue="contracts"), _gauge(v, n))]


def _logins(v: float, key: str, s: int, n: int) -> Series:
    return [
        (_sel("app_login_failures_total", service="portal", client=key), _counter(v / 60 * s, n))
    ]


def _api_auth(v: float, key: str, s: int, n: int) -> Series:
    return [
        (_sel("app_api_auth_total", service=key, result="failure"), _counter(v * s, n)),
        (_sel("app_api_auth_total", service=key, result="success"), _counter((100 - v) * s, n)),
    ]


def _rate_limit(v: float, key: str, s: int, n: int) -> Series:
    return [(_sel("app_rate_limit_hits_total", service=key), _counter(v / 60 * s, n))]


def _cert(v: float, key: str, _s: int, n: int) -> Series:
    # Expiry timestamp v days after the test's time zero.
    base = {"instance": key, "job": _HTTP_JOB, "service": "portal"}
    return [(_sel("probe_ssl_earliest_cert_expiry", **base), _gauge(v * 86400, n))]


def _contracts(v: float, key: str, s: int, n: int) -> Series:
    return [
        (_sel("app_contracts_processed_total", service=key, result="success"), _counter(v * s, n)),
        (
            _sel("app_contracts_processed_total", service=key, result="failure"),
            _counter((100 - v) * s, n),
        ),
    ]


def _broker_sync(v: float, key: str, _s: int, n: int) -> Series:
    return [
        (_sel("app_broker_sync_errors_total", service=key, tenant=f"house-{i}"), _counter(1, n))
        for i in range(1, int(v) + 1)
    ]


def _batch_runtime(v: float, key: str, s: int, n: int) -> Series:
    # Running since t=1s, normal duration 60s scaled so the factor reaches v at the check time.
    base = {"service": "batch", "job_name": key}
    return [
        (_sel("app_batch_job_running_since_timestamp_seconds", **base), _gauge(1, n)),
        (_sel("app_batch_job_normal_duration_seconds", **base), _gauge(v, n)),
    ]


def _batch_start(v: float, key: str, s: int, n: int) -> Series:
    base = {"service": "batch", "job_name": key}
    return [
        (_sel("app_batch_job_last_start_timestamp_seconds", **base), _gauge(1, n)),
        (_sel("app_batch_job_expected_interval_seconds", **base), _gauge(v, n)),
    ]


def _ratio(numerator: str, denominator: str, by: str, scale: str = "100") -> Callable[[str], str]:
    return lambda w: (
        f"{scale} * sum by ({by}) (rate({numerator}[{w}]))"
        f" / sum by ({by}) (rate({denominator}[{w}]))"
    )


CATALOGUE: dict[str, MetricSpec] = {
    spec.id: spec
    for spec in (
        MetricSpec(
            "cpu",
            "percent",
            _ratio('node_cpu_seconds_total{mode!="idle"}', "node_cpu_seconds_total", "instance"),
            ("instance",),
            _cpu,
            "ratio",
            "node_exporter",
        ),
        MetricSpec(
            "memory",
            "percent",
            lambda _w: (
                "100 * (1 - sum by (instance) (node_memory_MemAvailable_bytes)"
                " / sum by (instance) (node_memory_MemTotal_bytes))"
            ),
            ("instance",),
            _memory,
            "gauge",
            "node_exporter",
        ),
        MetricSpec(
            "disk",
            "percent",
            lambda _w: (
                f"100 * (1 - sum by (instance, mountpoint) (node_filesystem_avail_bytes{{{_FS}}})"
                f" / sum by (instance, mountpoint) (node_filesystem_size_bytes{{{_FS}}}))"
            ),
            ("instance", "mountpoint"),
            _disk,
            "gauge",
            "node_exporter",
        ),
        MetricSpec(
            "disk_io_latency",
            "ms",
            lambda w: (
                f"1000 * (sum by (instance, device) (rate(node_disk_read_time_seconds_total[{w}]))"
                f" + sum by (instance, device) (rate(node_disk_write_time_seconds_total[{w}])))"
                f" / (sum by (instance, device) (rate(node_disk_reads_completed_total[{w}]))"
                f" + sum by (instance, device) (rate(node_disk_writes_completed_total[{w}])))"
            ),
            ("instance", "device"),
            _disk_io,
            "ratio",
            "node_exporter",
        ),
        MetricSpec(
            "network_latency",
            "ms",
            # The connect time of successful TCP probes; a failed probe is the uptime alert's.
            lambda _w: (
                f'1000 * max by (instance, service) (probe_duration_seconds{{job="{_TCP_JOB}"}}'
                f' and on (instance, job) probe_success{{job="{_TCP_JOB}"}} == 1)'
            ),
            ("instance", "service"),
            _probe,
            "gauge",
            "blackbox_exporter",
        ),
        MetricSpec(
            "http_5xx_rate",
            "percent",
            _ratio(f'{_REQ}_count{{http_response_status_code=~"5.."}}', f"{_REQ}_count", "service"),
            ("service",),
            _http_5xx,
            "ratio",
            "leitstand.instrument",
        ),
        MetricSpec(
            "response_time_p95",
            "ms",
            lambda w: (
                f"1000 * histogram_quantile(0.95, sum by (service, le) (rate({_REQ}_bucket[{w}])))"
            ),
            ("service",),
            _p95,
            "ratio",
            "leitstand.instrument",
        ),
        MetricSpec(
            "request_rate_drop",
            "percent",
            lambda w: (
                f"100 * (1 - sum by (service) (rate({_REQ}_count[{w}]))"
                f" / sum by (service) (rate({_REQ}_count[{w}] offset 1w)))"
            ),
            ("service",),
            _rate_drop,
            "drop",
            "leitstand.instrument",
        ),
        MetricSpec(
            "db_connections",
            "percent",
            lambda _w: (
                "100 * sum by (service, db_client_connection_pool_name)"
                ' (db_client_connection_count{db_client_connection_state="used"})'
                " / sum by (service, db_client_connection_pool_name) (db_client_connection_max)"
            ),
            ("service", "db_client_connection_pool_name"),
            _db_pool,
            "gauge",
            "leitstand.instrument",
        ),
        MetricSpec(
            "queue_depth",
            "count",
            lambda _w: "max by (service, queue) (app_queue_depth)",
            ("service", "queue"),
            _queue,
            "gauge",
            "leitstand.instrument",
        ),
        MetricSpec(
            "failed_logins",
            "per_minute",
            lambda w: f"60 * sum by (service, client) (rate(app_login_failures_total[{w}]))",
            ("client", "service"),
            _logins,
            "rate",
            "leitstand.instrument",
        ),
        MetricSpec(
            "failed_api_auth",
            "percent",
            _ratio('app_api_auth_total{result="failure"}', "app_api_auth_total", "service"),
            ("service",),
            _api_auth,
            "ratio",
            "leitstand.instrument",
        ),
        MetricSpec(
            "rate_limit_hits",
            "per_minute",
            lambda w: f"60 * sum by (service) (rate(app_rate_limit_hits_total[{w}]))",
            ("service",),
            _rate_limit,
            "rate",
            "leitstand.instrument",
        ),
        MetricSpec(
            "certificate_expiry",
            "days",
            lambda _w: (
                f"min by (instance, service) (probe_ssl_earliest_cert_expiry{{{_PROBES}}} - time())"
                " / 86400"
            ),
            ("instance", "service"),
            _cert,
            "time",
            "blackbox_exporter",
        ),
        MetricSpec(
            "contract_processing",
            "percent",
            _ratio(
                'app_contracts_processed_total{result="success"}',
                "app_contracts_processed_total",
                "service",
            ),
            ("service",),
            _contracts,
            "ratio",
            "leitstand.instrument",
        ),
        MetricSpec(
            "broker_api_sync",
            "houses",
            lambda w: (
                "count by (service) (sum by (service, tenant)"
                f" (increase(app_broker_sync_errors_total[{w}])) > 0)"
            ),
            ("service",),
            _broker_sync,
            "count",
            "leitstand.instrument",
        ),
    )
}

#: Batch jobs have two recorded values: the runtime factor and how long a start is overdue.
BATCH_RUNTIME = MetricSpec(
    "batch_jobs",
    "runtime_factor",
    lambda _w: (
        "(time() - (app_batch_job_running_since_timestamp_seconds > 0))"
        " / app_batch_job_normal_duration_seconds"
    ),
    ("job_name", "service"),
    _batch_runtime,
    "time",
    "leitstand.instrument",
)
BATCH_START = MetricSpec(
    "batch_jobs",
    "overdue_seconds",
    lambda _w: (
        "time() - app_batch_job_last_start_timestamp_seconds"
        " - app_batch_job_expected_interval_seconds"
    ),
    ("job_name", "service"),
    _batch_start,
    "time",
    "leitstand.instrument",
)
