"""Alerts, escalation levels and chains: the decisions, without I/O (takes ``now``)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from leitstand.policy.base import Role
from leitstand.policy.monitoring import AlertingPolicy
from leitstand.policy.notifications import Person

__all__ = [
    "AlertStatus",
    "ChainStep",
    "EscalationState",
    "Recipient",
    "RoleMessage",
    "build_chain",
    "fingerprint",
    "level_key_for",
    "notification_due",
    "recipients_for",
]


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class EscalationState(StrEnum):
    """An escalation runs until it is acknowledged or its alert resolves."""

    ACTIVE = "active"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Recipient:
    """A person resolved from a role when the escalation started."""

    person: str
    name: str
    email: str | None
    role: str


@dataclass(frozen=True, slots=True)
class RoleMessage:
    """A plain message to everyone holding ``roles`` (not tied to an alert)."""

    roles: tuple[Role | str, ...]
    subject: str
    body: str
    channels: tuple[str, ...] | None = None
    tenant: str | None = None


@dataclass(frozen=True, slots=True)
class ChainStep:
    """One level of a snapshotted escalation chain."""

    level: int
    key: str
    name: str
    roles: list[str]
    recipients: list[Recipient]
    channels: list[str]
    escalate_after_s: float | None  # None: the chain ends here
    start_incident: bool
    unresolved_roles: list[str] = field(default_factory=list)  # roles nobody holds

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChainStep:
        values = dict(data)
        values["recipients"] = [Recipient(**r) for r in values.get("recipients", [])]
        return cls(**values)


def fingerprint(name: str, labels: Mapping[str, str]) -> str:
    """A stable id for an alert raised inside leitstand: its name plus its labels."""
    canonical = json.dumps(
        {"alertname": name, **dict(labels)}, sort_keys=True, separators=(",", ":")
    )
    return "ls" + hashlib.sha256(canonical.encode()).hexdigest()[:14]


def level_key_for(policy: AlertingPolicy, severity: str) -> tuple[str, bool]:
    """The policy level for a severity label; unknown severities start at the lowest level.

    Returns the level key and whether the severity was recognised.
    """
    if severity in policy.levels:
        return severity, True
    lowest = min(policy.levels, key=lambda key: policy.levels[key].level)
    return lowest, False


def recipients_for(
    roles: Sequence[Role], people: Mapping[str, Person], oncall: str | None
) -> tuple[list[Recipient], list[str]]:
    """Everyone holding ``roles``, each once (in role order), and the roles nobody holds.

    The on-call role is held by the person on shift (``oncall``) and by anyone the policy
    gives that role outright.
    """
    found: dict[str, Recipient] = {}
    unresolved: list[str] = []
    for role in roles:
        holders = [pid for pid, person in people.items() if role in person.roles]
        if role is Role.ONCALL and oncall is not None and oncall in people:
            holders.insert(0, oncall)
        if not holders:
            unresolved.append(role.value)
        for pid in holders:
            person = people[pid]
            found.setdefault(pid, Recipient(pid, person.name, person.email, role.value))
    return list(found.values()), unresolved


def build_chain(
    policy: AlertingPolicy, start_key: str, *, oncall: str | None, lang: str = "de"
) -> list[ChainStep]:
    """Snapshot the chain from ``start_key`` upwards: levels, who, where and when to move on."""
    steps: list[ChainStep] = []
    key: str | None = start_key
    seen: set[str] = set()
    while key is not None and key not in seen:
        seen.add(key)
        level = policy.levels[key]
        recipients, unresolved = recipients_for(level.notify, policy.people, oncall)
        nxt = level.escalate_to if level.escalate_when_unacknowledged else None
        steps.append(
            ChainStep(
                level=level.level,
                key=key,
                name=level.name.get(lang),
                roles=[r.value for r in level.notify],
                recipients=recipients,
                channels=[c.value for c in level.channels],
                escalate_after_s=policy.ack_timeout.total_seconds() if nxt else None,
                start_incident=level.start_incident_response,
                unresolved_roles=unresolved,
            )
        )
        key = nxt
    return steps


def notification_due(last_notified_at: datetime | None, now: datetime, window: timedelta) -> bool:
    """The same alert (fingerprint) is notified at most once per deduplication window."""
    return last_notified_at is None or now - last_notified_at >= window
