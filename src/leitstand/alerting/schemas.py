"""Wire formats: Alertmanager's webhook (version 4) in, alerts and escalations out."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic import ValidationError as PydanticError

from leitstand.errors import Issue, LeitstandError, ValidationError
from leitstand.policy.api import BodyLimits

__all__ = [
    "MAX_ALERTS_PER_REQUEST",
    "MAX_BODY_BYTES",
    "AckIn",
    "AlertOut",
    "AmAlert",
    "AmWebhook",
    "AttemptOut",
    "ChainStepOut",
    "EscalationOut",
    "IntakeOut",
    "NotificationOut",
    "OncallOut",
    "PayloadTooLarge",
    "RecipientOut",
    "ShiftOut",
    "parse_webhook",
]

#: Alertmanager sends at most ``max_alerts`` per request (we configure 500); 2 MiB is ample.
#: The default of the policy's api.limits.body_bytes.alert_intake.
MAX_BODY_BYTES = BodyLimits().alert_intake
MAX_ALERTS_PER_REQUEST = 1000

_Label = Annotated[str, StringConstraints(max_length=1024)]
_Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class PayloadTooLarge(LeitstandError):
    """The request body is larger than the intake accepts."""

    http_status = 413


class _Lenient(BaseModel):
    # Alertmanager adds fields between releases; unknown keys are ignored, known ones checked.
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class AmAlert(_Lenient):
    status: Literal["firing", "resolved"]
    labels: dict[_Name, _Label] = Field(max_length=100)
    annotations: dict[_Name, Annotated[str, StringConstraints(max_length=10_000)]] = Field(
        default_factory=dict, max_length=100
    )
    starts_at: datetime = Field(alias="startsAt")
    ends_at: datetime | None = Field(default=None, alias="endsAt")
    generator_url: Annotated[str, StringConstraints(max_length=4096)] = Field(
        default="", alias="generatorURL"
    )
    fingerprint: Annotated[
        str, StringConstraints(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z]+$")
    ]


class AmWebhook(_Lenient):
    version: Literal["4"]
    status: Literal["firing", "resolved"]
    receiver: Annotated[str, StringConstraints(max_length=200)] = ""
    alerts: list[AmAlert] = Field(min_length=1, max_length=MAX_ALERTS_PER_REQUEST)
    group_key: Annotated[str, StringConstraints(max_length=4096)] = Field(
        default="", alias="groupKey"
    )
    external_url: Annotated[str, StringConstraints(max_length=4096)] = Field(
        default="", alias="externalURL"
    )
    truncated_alerts: int = Field(default=0, alias="truncatedAlerts", ge=0)


def _issues(exc: PydanticError) -> list[Issue]:
    issues = []
    for err in exc.errors(include_url=False):
        path = ".".join(str(p) for p in err.get("loc", ()))
        message = str(err.get("msg", "invalid"))
        got = err.get("input")
        if path == "version" and err.get("type") != "missing":
            message = f"Alertmanager webhook format version '4' (got {got!r})"
        elif got is not None and not isinstance(got, dict | list):
            message += f" (got {str(got)[:80]!r})"
        issues.append(Issue(path, message))
    return issues


def parse_webhook(body: bytes, *, max_bytes: int = MAX_BODY_BYTES) -> AmWebhook:
    """Parse and check an Alertmanager webhook body; every problem names its field."""
    if len(body) > max_bytes:
        raise PayloadTooLarge(
            f"request body is {len(body)} bytes; the alert intake accepts at most "
            f"{max_bytes} (lower max_alerts in the Alertmanager webhook config)"
        )
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ValidationError([Issue("", f"a JSON body ({exc})")]) from None
    if not isinstance(data, dict):
        raise ValidationError([Issue("", "a JSON object (the Alertmanager webhook payload)")])
    try:
        return AmWebhook.model_validate(data)
    except PydanticError as exc:
        raise ValidationError(_issues(exc)) from None


class IntakeOut(BaseModel):
    received: int
    new: int
    duplicates: int
    resolved: int
    ignored: int
    alerts: list[int]


class AckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Annotated[str, StringConstraints(max_length=2000)] | None = None


class RecipientOut(BaseModel):
    """A person an escalation level reaches, resolved from a role when it started."""

    model_config = ConfigDict(from_attributes=True)

    person: str
    name: str
    email: str | None
    role: str


class ChainStepOut(BaseModel):
    """One level of an escalation chain."""

    model_config = ConfigDict(from_attributes=True)

    level: int
    key: str
    name: str
    roles: list[str]
    recipients: list[RecipientOut]
    channels: list[str]
    escalate_after_s: float | None
    start_incident: bool
    unresolved_roles: list[str] = Field(default_factory=list)


class EscalationOut(BaseModel):
    """The escalation of one alert with the chain snapshotted when it started."""

    id: int
    state: str
    level: int
    oncall: str | None
    started_at: datetime
    next_at: datetime | None
    escalated_at: datetime | None
    incident_id: str | None
    chain: list[ChainStepOut]


class AttemptOut(BaseModel):
    """One delivery attempt of a notification."""

    attempt: int
    at: datetime
    outcome: str
    error: str | None
    duration_ms: float


class NotificationOut(BaseModel):
    """One message to one channel, with every delivery attempt."""

    id: int
    alert_id: int | None
    purpose: str
    level: int | None
    channel: str
    roles: list[str]
    recipients: list[str]
    subject: str
    status: str
    attempts: list[AttemptOut]
    last_error: str | None
    sent_at: datetime | None


class AlertOut(BaseModel):
    id: int
    fingerprint: str
    name: str
    severity: str
    level: int
    status: str
    summary: str
    labels: dict[str, str]
    service: str | None
    tenant: str | None
    source: str
    starts_at: datetime
    received_at: datetime
    last_seen_at: datetime
    occurrences: int
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    escalation: EscalationOut | None = None
    notifications: list[NotificationOut] | None = None


class ShiftOut(BaseModel):
    """One stretch of on-call duty."""

    model_config = ConfigDict(from_attributes=True)

    person: str
    start: datetime
    end: datetime
    override: bool = False
    reason: str | None = None


class OncallOut(BaseModel):
    """Who is on call, and the chain a critical alert would get."""

    shift: ShiftOut | None
    critical_chain: list[ChainStepOut]
