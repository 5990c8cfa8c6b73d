"""People, the on-call rotation, notification channels and the monitoring stack (not in the seed).

The seed names roles ("DevOps + On-Call") but no people, addresses or channels; these settings
say who holds a role, who is on call when, and how a notification reaches them. Secrets (SMTP
passwords, webhook URLs with tokens) are never written here: a channel names the environment
variable that holds them.
"""

from __future__ import annotations

import re
from datetime import date, time, timedelta
from enum import StrEnum
from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, AwareDatetime, Field, StrictInt, model_validator
from pydantic_core import PydanticCustomError

from leitstand.policy.base import Flag, PolicyModel, RoleList, Rules, unique_list
from leitstand.policy.durations import PositiveDuration
from leitstand.policy.values import describe

__all__ = [
    "ChannelKind",
    "ChannelSettings",
    "NotificationPolicy",
    "OnCallOverride",
    "OnCallRotation",
    "Person",
    "ScrapeTarget",
    "StackSettings",
    "Weekday",
]

_ENV = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_ADDRESS = re.compile(r"^[A-Za-z0-9.\-\[\]:]+:\d{1,5}$")


def _env_name(value: str) -> str:
    if not _ENV.match(value):
        raise PydanticCustomError(
            "env_name",
            f"the NAME of an environment variable such as LEITSTAND_SLACK_WEBHOOK_URL, never the "
            f"secret itself (got {describe(value)})",
        )
    return value


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise PydanticCustomError("email", f"an e-mail address (got {describe(value)})")
    return value


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise PydanticCustomError(
            "timezone", f"an IANA timezone such as Europe/Berlin (got {describe(value)})"
        ) from None
    return value


def _address(value: str) -> str:
    if not _ADDRESS.match(value):
        raise PydanticCustomError("address", f"host:port (got {describe(value)})")
    return value


EnvName = Annotated[str, AfterValidator(_env_name)]
Email = Annotated[str, AfterValidator(_email)]
TimezoneName = Annotated[str, AfterValidator(_timezone)]
Port = Annotated[StrictInt, Field(ge=0, le=65535)]


class Person(PolicyModel):
    """Someone who is notified: the roles they hold and where they are reached."""

    name: str
    roles: Annotated[RoleList, Field(min_length=1)]
    email: Email | None = None
    user: str | None = None  # their leitstand user name, when they have one


class Weekday(StrEnum):
    """Day of the weekly on-call handover."""

    MONDAY = "monday"
    TUESDAY = "tuesday"
    WEDNESDAY = "wednesday"
    THURSDAY = "thursday"
    FRIDAY = "friday"
    SATURDAY = "saturday"
    SUNDAY = "sunday"


class OnCallOverride(PolicyModel):
    """A person covering the on-call duty for a period (holiday swap, sick leave)."""

    person: str
    start: AwareDatetime
    end: AwareDatetime
    reason: str | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        rules = Rules()
        if self.end <= self.start:
            rules.add("end", f"must be after start ({self.start.isoformat()})")
        rules.check()
        return self


class OnCallRotation(PolicyModel):
    """A weekly rotation: ``people`` take turns, handing over at ``handover_time`` local time."""

    people: Annotated[list[str], AfterValidator(unique_list)] = Field(default_factory=list)
    handover_day: Weekday = Weekday.MONDAY
    handover_time: time = time(9, 0)
    timezone: TimezoneName = "Europe/Berlin"
    start: date = date(2026, 1, 5)  # the first person's first week begins on this date
    overrides: list[OnCallOverride] = Field(default_factory=list)


class ChannelKind(StrEnum):
    """How a channel delivers: SMTP e-mail, a chat webhook or a generic JSON webhook."""

    EMAIL = "email"
    SLACK = "slack"
    MATTERMOST = "mattermost"
    MSTEAMS = "msteams"
    WEBHOOK = "webhook"


class ChannelSettings(PolicyModel):
    """Where one notification channel delivers; unset targets mean "not configured" (skipped)."""

    kind: ChannelKind
    smtp_host: str | None = None
    smtp_port: Annotated[StrictInt, Field(ge=1, le=65535)] = 25
    security: Literal["none", "starttls", "tls"] = "starttls"
    sender: Email = "leitstand@localhost"
    username: str | None = None
    password_env: EnvName | None = None
    url_env: EnvName | None = None

    @model_validator(mode="after")
    def _targets(self) -> Self:
        rules = Rules()
        if self.kind is not ChannelKind.EMAIL and self.url_env is None:
            rules.add(
                "url_env",
                f"the environment variable holding the {self.kind.value} webhook URL (got null)",
            )
        rules.check()
        return self


class NotificationPolicy(PolicyModel):
    """Notification channels and how failed deliveries are retried."""

    channels: dict[str, ChannelSettings] = Field(
        default_factory=lambda: {
            "email": ChannelSettings(kind=ChannelKind.EMAIL),
            "slack": ChannelSettings(kind=ChannelKind.SLACK, url_env="LEITSTAND_SLACK_WEBHOOK_URL"),
            "pager": ChannelSettings(
                kind=ChannelKind.WEBHOOK, url_env="LEITSTAND_PAGER_WEBHOOK_URL"
            ),
        }
    )
    attempts: Annotated[StrictInt, Field(ge=1, le=50)] = 6
    retry_backoff: PositiveDuration = timedelta(seconds=30)
    retry_backoff_max: PositiveDuration = timedelta(minutes=15)
    timeout: PositiveDuration = timedelta(seconds=10)
    # Where people open leitstand: notifications link to the incident (and the alerts) there.
    base_url: Annotated[str, Field(pattern=r"^https?://[^\s/]+(/[^\s]*)?$")] = (
        "http://127.0.0.1:8080"
    )


class ScrapeTarget(PolicyModel):
    """An application the local Prometheus scrapes (instrumented with ``leitstand.instrument``)."""

    address: Annotated[str, AfterValidator(_address)]
    metrics_path: str = "/metrics"
    service: str | None = None
    tenant: str | None = None


class StackSettings(PolicyModel):
    """The local Prometheus stack `leitstand up` manages when the Debian packages are there."""

    managed: Flag = True
    prometheus_port: Port = 0  # 0: a free one at the first start, kept across restarts
    alertmanager_port: Port = 0
    node_exporter_port: Port = 0
    group_wait: PositiveDuration = timedelta(seconds=30)
    repeat_interval: PositiveDuration = timedelta(hours=4)
    # Alertmanager's group_by: one group (and at most one incident) per alert and service, across
    # tenants and hosts; add "tenant" for an incident per broker house.
    group_by: Annotated[list[str], Field(min_length=1)] = Field(
        default_factory=lambda: ["alertname", "severity", "service"]
    )
