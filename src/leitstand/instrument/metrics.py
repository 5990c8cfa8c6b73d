"""The application metrics of the contract, with helpers that keep personal data out of labels."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["DURATION_BUCKETS", "AppMetrics", "Pseudonymiser"]

#: OpenTelemetry's default HTTP duration buckets plus 2 s, so that the seed's P95 thresholds
#: (500 ms, 2000 ms) fall on bucket boundaries and the quantile is exact there.
DURATION_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.0, 2.5, 5.0, 7.5, 10.0,
)  # fmt: skip


class Pseudonymiser:
    """Keyed hash of personal identifiers (IP addresses) for use as metric labels.

    The key comes from ``LEITSTAND_INSTRUMENT_PSEUDONYM_KEY`` or is random per process, so a
    label cannot be turned back into the address by hashing candidate addresses.
    """

    def __init__(self, key: bytes | None = None) -> None:
        env = os.environ.get("LEITSTAND_INSTRUMENT_PSEUDONYM_KEY", "")
        self._key = key or (env.encode() if env else secrets.token_bytes(32))

    def __call__(self, value: str) -> str:
        digest = hmac.new(self._key, value.strip().lower().encode(), hashlib.sha256)
        return "p-" + digest.hexdigest()[:16]


class AppMetrics:
    """Every metric of the contract for one service, in its own registry by default."""

    def __init__(
        self,
        service: str,
        *,
        registry: CollectorRegistry | None = None,
        pseudonymiser: Pseudonymiser | None = None,
    ) -> None:
        self.service = service
        self.registry = registry or CollectorRegistry()
        self.pseudonymise = pseudonymiser or Pseudonymiser()
        r = self.registry
        self.http_duration = Histogram(
            "http_server_request_duration_seconds",
            "Duration of HTTP server requests (OpenTelemetry http.server.request.duration).",
            ["service", "tenant", "http_request_method", "http_route", "http_response_status_code"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.login_failures = Counter(
            "app_login_failures", "Failed logins per pseudonymised client address.",
            ["service", "client"], registry=r,
        )  # fmt: skip
        self.api_auth = Counter(
            "app_api_auth", "API authentication attempts by result (success, failure).",
            ["service", "result"], registry=r,
        )  # fmt: skip
        self.rate_limit_hits = Counter(
            "app_rate_limit_hits", "Requests refused by the rate limiter.", ["service"], registry=r
        )
        self.db_connections = Gauge(
            "db_client_connection_count",
            "Connections in the pool by state (OpenTelemetry db.client.connection.count).",
            ["service", "db_client_connection_pool_name", "db_client_connection_state"],
            registry=r,
        )
        self.db_connections_max = Gauge(
            "db_client_connection_max",
            "Pool size (OpenTelemetry db.client.connection.max).",
            ["service", "db_client_connection_pool_name"],
            registry=r,
        )
        self.queue_depth_gauge = Gauge(
            "app_queue_depth", "Messages waiting per queue.", ["service", "queue"], registry=r
        )
        self.contracts = Counter(
            "app_contracts_processed", "Contract processing results (success, failure).",
            ["service", "result"], registry=r,
        )  # fmt: skip
        self.broker_sync_errors = Counter(
            "app_broker_sync_errors", "API sync errors per broker house (tenant).",
            ["service", "tenant"], registry=r,
        )  # fmt: skip
        batch = ["service", "job_name"]
        self.batch_last_start = Gauge(
            "app_batch_job_last_start_timestamp_seconds", "Last start of a batch job.", batch,
            registry=r,
        )  # fmt: skip
        self.batch_running_since = Gauge(
            "app_batch_job_running_since_timestamp_seconds",
            "Start of the current run, 0 when the job is not running.", batch, registry=r,
        )  # fmt: skip
        self.batch_last_duration = Gauge(
            "app_batch_job_last_duration_seconds", "Duration of the last run.", batch, registry=r
        )
        self.batch_normal_duration = Gauge(
            "app_batch_job_normal_duration_seconds", "The job's usual runtime.", batch, registry=r
        )
        self.batch_expected_interval = Gauge(
            "app_batch_job_expected_interval_seconds", "How often the job must start.", batch,
            registry=r,
        )  # fmt: skip
        self.batch_runs = Counter(
            "app_batch_job_runs", "Batch job runs by result.", [*batch, "result"], registry=r
        )

    # -- helpers ---------------------------------------------------------------------------

    def observe_request(
        self, *, method: str, route: str, status: int, seconds: float, tenant: str = ""
    ) -> None:
        """Record one HTTP request (the middlewares call this)."""
        self.http_duration.labels(self.service, tenant, method.upper(), route, str(status)).observe(
            seconds
        )

    def failed_login(self, client_address: str) -> None:
        """Count a failed login; the address is pseudonymised before it becomes a label."""
        self.login_failures.labels(self.service, self.pseudonymise(client_address)).inc()

    def api_auth_attempt(self, *, ok: bool) -> None:
        """Count an API authentication attempt."""
        self.api_auth.labels(self.service, "success" if ok else "failure").inc()

    def rate_limited(self, count: int = 1) -> None:
        """Count requests refused by the rate limiter."""
        self.rate_limit_hits.labels(self.service).inc(count)

    def db_pool(self, *, pool: str, used: int, idle: int, size: int) -> None:
        """Report a connection pool's state (call it on checkout/checkin or periodically)."""
        self.db_connections.labels(self.service, pool, "used").set(used)
        self.db_connections.labels(self.service, pool, "idle").set(idle)
        self.db_connections_max.labels(self.service, pool).set(size)

    def queue_depth(self, queue: str, depth: int) -> None:
        """Report how many messages wait in a queue."""
        self.queue_depth_gauge.labels(self.service, queue).set(depth)

    def contract_processed(self, *, ok: bool) -> None:
        """Count a processed contract."""
        self.contracts.labels(self.service, "success" if ok else "failure").inc()

    def broker_sync_error(self, tenant: str) -> None:
        """Count a failed API sync with a broker house."""
        self.broker_sync_errors.labels(self.service, tenant).inc()

    @contextmanager
    def batch_job(
        self, name: str, *, normal_duration_s: float, expected_interval_s: float
    ) -> Iterator[None]:
        """Wrap one run of a batch job: start, running time, result."""
        self.batch_normal_duration.labels(self.service, name).set(normal_duration_s)
        self.batch_expected_interval.labels(self.service, name).set(expected_interval_s)
        started = time.time()
        self.batch_last_start.labels(self.service, name).set(started)
        self.batch_running_since.labels(self.service, name).set(started)
        result = "failure"
        try:
            yield
            result = "success"
        finally:
            self.batch_running_since.labels(self.service, name).set(0)
            self.batch_last_duration.labels(self.service, name).set(time.time() - started)
            self.batch_runs.labels(self.service, name, result).inc()

    def exposition(self) -> bytes:
        """The metrics in Prometheus text format."""
        return bytes(generate_latest(self.registry))
