"""Monitoring and alerting: mandatory metrics, escalation levels, observability and dashboards."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import Discriminator, Field, Tag, model_validator

from leitstand.policy.base import Flag, Number, PolicyModel, RoleList, Rules, Text
from leitstand.policy.durations import ActionDeadline, Duration, PositiveDuration
from leitstand.policy.notifications import (
    NotificationPolicy,
    OnCallRotation,
    Person,
    ScrapeTarget,
    StackSettings,
)
from leitstand.policy.values import number

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
    "ThresholdMetric",
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
