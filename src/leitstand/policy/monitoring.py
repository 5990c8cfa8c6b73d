"""Monitoring and alerting: mandatory metrics, escalation levels, observability and dashboards."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, Discriminator, Field, Tag, model_validator
from pydantic_core import PydanticCustomError

from leitstand.policy.base import Flag, Number, PolicyModel, RoleList, Rules, Text
from leitstand.policy.durations import ActionDeadline, Duration, PositiveDuration
from leitstand.policy.notifications import (
    NotificationPolicy,
    OnCallRotation,
    Person,
    Port,
    ScrapeTarget,
    StackSettings,
)
from leitstand.policy.releases import ReleaseTarget
from leitstand.policy.values import describe, number

__all__ = [
    "PERCENT_UNITS",
    "AlertingPolicy",
    "BatchJobMetric",
    "Channel",
    "Dashboard",
    "Direction",
    "EscalationLevel",
    "MetricCategory",
    "MetricPolicy",
    "MetricUnit",
    "MonitoringPolicy",
    "ObservabilityPolicy",
    "ObservabilityTool",
    "ProbeModule",
    "ProbeSettings",
    "ProbeTarget",
    "ThresholdMetric",
    "probe_targets",
]


class MetricCategory(StrEnum):
    """The seed's four metric tables."""

    INFRASTRUCTURE = "infrastructure"
    APPLICATION = "application"
    SECURITY = "security"
    BUSINESS = "business"


class Direction(StrEnum):
    """Whether a metric is bad when it rises above or falls below its thresholds."""

    ABOVE = "above"
    BELOW = "below"


class MetricUnit(StrEnum):
    """What a threshold counts; rates name their denominator explicitly."""

    PERCENT = "percent"
    PERCENT_OF_POOL = "percent_of_pool"
    PERCENT_OF_REQUESTS = "percent_of_requests"
    PERCENT_DROP = "percent_drop"  # fall against the usual rate for the time of day
    PERCENT_SUCCESS = "percent_success"
    MILLISECONDS = "ms"
    COUNT = "count"
    PER_MINUTE = "per_minute"
    PER_MINUTE_PER_IP = "per_minute_per_ip"
    DAYS = "days"
    BROKER_HOUSES = "broker_houses"  # number of tenants affected


PERCENT_UNITS = frozenset(
    {
        MetricUnit.PERCENT,
        MetricUnit.PERCENT_OF_POOL,
        MetricUnit.PERCENT_OF_REQUESTS,
        MetricUnit.PERCENT_DROP,
        MetricUnit.PERCENT_SUCCESS,
    }
)


class ThresholdMetric(PolicyModel):
    """A metric with a warning and a stricter critical threshold."""

    kind: Literal["threshold"] = "threshold"
    name: Text
    category: MetricCategory
    direction: Direction
    unit: MetricUnit
    warning: Number
    critical: Number
    interval: PositiveDuration
    # The alerts' ``for:`` (how long the condition holds before firing); None: the interval if
    # it is at most ``monitoring.max_pending``, else 0 (a day says how often to look, not how
    # long to wait: "certificate < 7 days" is critical at the first evaluation below 7 days).
    pending: Duration | None = None

    @model_validator(mode="after")
    def _critical_is_stricter(self) -> Self:
        rules = Rules()
        for field in ("warning", "critical"):
            value = getattr(self, field)
            if value < 0:
                rules.add(field, f"a number that is not negative (got {number(value)})")
            elif self.unit in PERCENT_UNITS and value > 100:
                rules.add(field, f"a percentage between 0 and 100 (got {number(value)})")
        w, c = number(self.warning), number(self.critical)
        # Whichever of critical, warning or direction the user wrote is where the message goes.
        flip = f"'{{}}' for warning {w} and critical {c} (got '{self.direction.value}')"
        if self.direction is Direction.ABOVE and self.critical <= self.warning:
            rules.add(
                "critical",
                f"must be greater than warning ({w}) (got {c})",
                ("warning", f"must be less than critical ({c}) (got {w})"),
                ("direction", flip.format("below")),
            )
        if self.direction is Direction.BELOW and self.critical >= self.warning:
            rules.add(
                "critical",
                f"must be less than warning ({w}) (got {c})",
                ("warning", f"must be greater than critical ({c}) (got {w})"),
                ("direction", flip.format("above")),
            )
        rules.check()
        return self


class BatchJobMetric(PolicyModel):
    """Batch jobs: warn at a multiple of the usual runtime; critical when a job did not start."""

    kind: Literal["batch_runtime"] = "batch_runtime"
    name: Text
    category: MetricCategory
    warning_runtime_factor: Annotated[Number, Field(gt=1)]
    critical_when_not_started: Flag
    interval: PositiveDuration
    pending: Duration | None = None  # ``for:``, as for threshold metrics


def _metric_kind(value: Any) -> str:
    if isinstance(value, dict):
        kind = value.get("kind", "threshold")
        return kind if isinstance(kind, str) else "threshold"
    return str(getattr(value, "kind", "threshold"))


MetricPolicy = Annotated[
    Annotated[ThresholdMetric, Tag("threshold")] | Annotated[BatchJobMetric, Tag("batch_runtime")],
    Discriminator(_metric_kind),
]


class ProbeModule(StrEnum):
    """How the blackbox exporter probes a target (one scrape job ``blackbox-<module>`` each)."""

    HTTP = "http"  # GET, 2xx: uptime (and the certificate of an https URL)
    TCP = "tcp"  # TCP connect: network latency
    TLS = "tls"  # TCP connect and TLS handshake: the certificate of any TLS port


_PROBE_ADDRESS = re.compile(r"^[A-Za-z0-9.\-\[\]:]+:\d{1,5}$")
_LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ProbeTarget(PolicyModel):
    """One target of the blackbox exporter: a URL (``http``) or host:port (``tcp``, ``tls``).

    ``service`` (default: the target itself) groups targets for the uptime alert: a service is
    down when none of its HTTP targets answers. ``labels`` are added to every probe series.
    """

    module: ProbeModule
    target: str
    service: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _target_fits_module(self) -> Self:
        rules = Rules()
        if self.module is ProbeModule.HTTP:
            if not self.target.startswith(("http://", "https://")):
                rules.add("target", f"an http:// or https:// URL (got {describe(self.target)})")
        elif not _PROBE_ADDRESS.match(self.target):
            rules.add("target", f"host:port (got {describe(self.target)})")
        for name in self.labels:
            if name in ("job", "instance", "service"):
                rules.add(f"labels.{name}", f"a label other than {name!r}")
            elif not _LABEL.match(name) or name.startswith("__"):
                rules.add(f"labels.{name}", f"a Prometheus label name (got {describe(name)})")
        rules.check()
        return self

    def series_labels(self) -> dict[str, str]:
        """The labels every probe series of this target carries (besides job and instance)."""
        return {"service": self.service or self.target, **self.labels}


def _ca_file(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("path", "a file path (got '')")
    return value


class ProbeSettings(PolicyModel):
    """The blackbox exporter: uptime, certificate expiry and TCP connect latency (not in the seed).

    ``targets`` null (the default): an HTTP probe of the health endpoint and a TCP probe of every
    slot of every service in ``deployment.releases``; a list replaces them (an empty list: none).
    """

    managed: Flag = True  # `leitstand up` runs the exporter when the Debian package is there
    port: Port = 0  # 0: a free one at the first start, kept across restarts
    timeout: PositiveDuration = timedelta(seconds=5)  # at most; Prometheus's scrape timeout caps
    ca_file: Annotated[str, AfterValidator(_ca_file)] | None = None  # extra CA (a private PKI)
    targets: list[ProbeTarget] | None = None
    # How long every HTTP target of a service must fail before the uptime alert fires.
    uptime_pending: Duration = timedelta(minutes=1)


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def probe_targets(
    probes: ProbeSettings, releases: Mapping[str, ReleaseTarget]
) -> list[ProbeTarget]:
    """The targets the blackbox exporter probes: the policy's list, else derived from releases."""
    if probes.targets is not None:
        return list(probes.targets)
    derived: list[ProbeTarget] = []
    for service, release in releases.items():
        for env, environment in release.environments.items():
            for slot, instance in environment.instances.items():
                address = _host_port(instance.host, instance.port)
                labels = {"env": env, "slot": slot}
                derived += [
                    ProbeTarget(
                        module=ProbeModule.HTTP,
                        target=f"http://{address}{release.health.path}",
                        service=service,
                        labels=labels,
                    ),
                    ProbeTarget(
                        module=ProbeModule.TCP, target=address, service=service, labels=labels
                    ),
                ]
    return derived


class MonitoringPolicy(PolicyModel):
    """The mandatory metrics, keyed by a stable id such as ``cpu``."""

    metrics: dict[str, MetricPolicy]
    # How the local Prometheus collects and evaluates (leitstand's defaults, not the seed's).
    scrape_interval: PositiveDuration = timedelta(seconds=15)
    evaluation_interval: PositiveDuration = timedelta(seconds=15)
    # A metric's interval is its ``for:`` only up to this; longer intervals fire at once.
    max_pending: Duration = timedelta(minutes=15)
    targets: dict[str, ScrapeTarget] = Field(default_factory=dict)
    stack: StackSettings = Field(default_factory=StackSettings)
    probes: ProbeSettings = Field(default_factory=ProbeSettings)


class Channel(StrEnum):
    """Where notifications go."""

    SLACK = "slack"
    EMAIL = "email"
    PAGER = "pager"
    MATTERMOST = "mattermost"
    MSTEAMS = "msteams"
    WEBHOOK = "webhook"


class EscalationLevel(PolicyModel):
    """One alert escalation level (1 warning, 2 critical, 3 outage)."""

    level: Annotated[int, Field(strict=True, ge=1)]
    name: Text
    notify: RoleList
    channels: Annotated[list[Channel], Field(min_length=1)]
    action_deadline: ActionDeadline
    document_automatically: Flag
    start_incident_response: Flag
    escalate_when_unacknowledged: Flag
    escalate_to: str | None = None


class AlertingPolicy(PolicyModel):
    """Alert escalation levels and the alerting rules."""

    levels: dict[str, EscalationLevel]
    ack_timeout: PositiveDuration
    dedup_window: PositiveDuration
    require_actionable: Flag
    record_every_alert: Flag
    # Who is notified and how (leitstand's settings; the seed names only roles).
    people: dict[str, Person] = Field(default_factory=dict)
    oncall: OnCallRotation = Field(default_factory=OnCallRotation)
    notifications: NotificationPolicy = Field(default_factory=NotificationPolicy)
    # Incident times from alerts: detection is the first alert's start; for alerts of these
    # levels awareness is detection too, for the others it is when the incident opens.
    aware_at_detection: list[str] = Field(default_factory=lambda: ["critical", "outage"])

    @model_validator(mode="after")
    def _levels_chain(self) -> Self:
        rules = Rules()
        for index, key in enumerate(self.aware_at_detection):
            if key not in self.levels:
                rules.add(
                    f"aware_at_detection.{index}",
                    f"one of {', '.join(self.levels)} (got {key!r})",
                )
        for key, level in self.levels.items():
            for index, channel in enumerate(level.channels):
                if channel.value not in self.notifications.channels:
                    rules.add(
                        f"levels.{key}.channels.{index}",
                        f"a channel configured in notifications.channels "
                        f"({', '.join(self.notifications.channels)}) (got {channel.value!r})",
                    )
        for index, person in enumerate(self.oncall.people):
            if person not in self.people:
                rules.add(
                    f"oncall.people.{index}",
                    f"a person from alerting.people (got {person!r})",
                )
        for index, override in enumerate(self.oncall.overrides):
            if override.person not in self.people:
                rules.add(
                    f"oncall.overrides.{index}.person",
                    f"a person from alerting.people (got {override.person!r})",
                )
        seen: dict[int, str] = {}
        for key, level in self.levels.items():
            if level.level in seen:
                rules.add(
                    f"levels.{key}.level",
                    f"a level number not used by '{seen[level.level]}' (got {level.level})",
                )
            seen.setdefault(level.level, key)
            target = level.escalate_to
            if target is None:
                if level.escalate_when_unacknowledged:
                    rules.add(
                        f"levels.{key}.escalate_to",
                        "the level to escalate to when unacknowledged (got null)",
                    )
            elif target not in self.levels:
                rules.add(
                    f"levels.{key}.escalate_to",
                    f"one of {', '.join(self.levels)} (got {target!r})",
                )
            elif self.levels[target].level <= level.level:
                rules.add(
                    f"levels.{key}.escalate_to",
                    f"a higher level than {level.level} (got {target!r}, level "
                    f"{self.levels[target].level})",
                )
        rules.check()
        return self


class ObservabilityTool(PolicyModel):
    """One row of the mandatory tools table; no tools means still to be decided."""

    area: Text
    tools: list[str] = Field(default_factory=list)
    alternatives: list[str] = Field(default_factory=list)
    purpose: Text


class Dashboard(PolicyModel):
    """A mandatory dashboard and who it is for."""

    title: Text
    content: Text
    audience: RoleList
    audience_note: Text | None = None  # people without a leitstand role, e.g. support


class ObservabilityPolicy(PolicyModel):
    """The observability stack and the mandatory dashboards."""

    tools: dict[str, ObservabilityTool]
    dashboards: dict[str, Dashboard]
