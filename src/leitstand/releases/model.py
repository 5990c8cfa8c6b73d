"""Releases as a state machine over two instance slots (pure: no I/O).

A release moves a service in one environment from the version in its *stable* slot to a new
version in the other slot. Every phase is a committed row state; the scheduler fires the step
that belongs to it, and every step is idempotent, so a restart continues where the last commit
left off. Traffic only ever reaches the new slot after its health checks passed; a rollback puts
the stable slot back to 100 % in one router call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from leitstand.read_models import IsoTime

__all__ = [
    "IN_FLIGHT",
    "LIVE",
    "TERMINAL",
    "IsoTime",
    "Judgement",
    "Kind",
    "Measurement",
    "MetricLimit",
    "Phase",
    "ReleaseInfo",
    "Routing",
    "Strategy",
    "TargetInfo",
    "Verdict",
    "judge",
    "parse_strategy",
]


class Strategy(StrEnum):
    BLUE_GREEN = "blue_green"
    CANARY = "canary"


def parse_strategy(value: str) -> Strategy:
    """``blue-green``/``blue_green``/``canary`` -> Strategy; ValueError names the choices."""
    try:
        return Strategy(value.strip().lower().replace("-", "_"))
    except ValueError:
        raise ValueError(f"blue-green or canary (got {value!r})") from None


class Kind(StrEnum):
    DEPLOY = "deploy"
    ROLLBACK = "rollback"  # a manual rollback that redeploys the previous version


class Phase(StrEnum):
    AWAITING_APPROVAL = "awaiting_approval"  # production: a human approves first
    MIGRATING = "migrating"  # snapshot, then the database migrations
    STARTING = "starting"  # the new version starts in the idle slot
    HEALTH_CHECK = "health_check"  # N consecutive passes before any traffic
    SWITCHING = "switching"  # the router moves traffic (a switch or a canary step)
    ANALYSING = "analysing"  # canary: the analysis window runs
    PAUSED = "paused"  # inconclusive analysis: a human promotes or aborts
    OBSERVING = "observing"  # all traffic on the new version, the old slot still warm
    RETIRING = "retiring"  # the old slot is stopped
    ROLLING_BACK = "rolling_back"  # traffic goes back to the stable slot
    VERIFYING = "verifying"  # after a rollback: health checks and smoke tests
    CLEANING_UP = "cleaning_up"  # the new slot is stopped after a failure or rollback
    COMPLETED = "completed"
    FAILED = "failed"  # the new version never received traffic
    ROLLED_BACK = "rolled_back"
    CANCELLED = "cancelled"


TERMINAL = frozenset({Phase.COMPLETED, Phase.FAILED, Phase.ROLLED_BACK, Phase.CANCELLED})
IN_FLIGHT = frozenset(Phase) - TERMINAL
#: Phases in which the new version may be serving traffic (a rollback must move it back).
LIVE = frozenset({Phase.SWITCHING, Phase.ANALYSING, Phase.PAUSED, Phase.OBSERVING})


@dataclass(frozen=True, slots=True)
class Routing:
    """Traffic per slot in percent (summing to 100 or 0) and the slots taken out of service."""

    weights: Mapping[str, int]
    retired: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def empty(cls, slots: Sequence[str]) -> Routing:
        return cls(dict.fromkeys(slots, 0), frozenset(slots))

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Routing:
        weights = data.get("weights", {})
        retired = data.get("retired", [])
        assert isinstance(weights, Mapping) and isinstance(retired, list)
        return cls({str(k): int(v) for k, v in weights.items()}, frozenset(map(str, retired)))

    def as_dict(self) -> dict[str, object]:
        return {"weights": dict(sorted(self.weights.items())), "retired": sorted(self.retired)}

    def weight(self, slot: str) -> int:
        return 0 if slot in self.retired else int(self.weights.get(slot, 0))

    def serving(self) -> list[str]:
        """Slots that receive traffic."""
        return [s for s in sorted(self.weights) if self.weight(s) > 0]

    def enable(self, slot: str) -> Routing:
        """Take ``slot`` back into service with no traffic (health checks run, no requests)."""
        return Routing({**self.weights, slot: self.weight(slot)}, self.retired - {slot})

    def retire(self, slot: str) -> Routing:
        """Take ``slot`` out of service (weight 0, maintenance)."""
        return Routing({**self.weights, slot: 0}, self.retired | {slot})

    def split(self, stable: str, new: str, percent: int) -> Routing:
        """``percent`` on ``new``, the rest on ``stable``; both in service."""
        percent = max(0, min(100, percent))
        weights = {**self.weights, stable: 100 - percent, new: percent}
        return Routing(weights, self.retired - {stable, new})

    def same_traffic(self, other: Routing) -> bool:
        slots = set(self.weights) | set(other.weights)
        return all(self.weight(s) == other.weight(s) for s in slots) and (
            self.retired == other.retired
        )


class Verdict(StrEnum):
    PASS = "pass"  # noqa: S105 - a verdict, not a password
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True, slots=True)
class Measurement:
    """What Prometheus says about one slot over the analysis window."""

    requests: float | None
    error_rate: float | None  # percent of requests answered with 5xx
    p95_ms: float | None
    error: str | None = None  # why nothing could be measured


@dataclass(frozen=True, slots=True)
class MetricLimit:
    """A monitoring metric's thresholds (bad above them)."""

    name: str
    unit: str
    warning: float
    critical: float


@dataclass(frozen=True, slots=True)
class Judgement:
    verdict: Verdict
    reasons: tuple[str, ...]


def _compare(
    label: str, canary: float | None, stable: float | None, limit: MetricLimit
) -> tuple[Verdict, str]:
    if canary is None:
        return Verdict.INCONCLUSIVE, f"{label}: no data for the canary"
    shown = f"{canary:.2f} {limit.unit}"
    base = "no data" if stable is None else f"{stable:.2f} {limit.unit}"
    if canary >= limit.critical:
        return Verdict.FAIL, (
            f"{label}: canary {shown} reaches the critical threshold "
            f"{limit.critical:g} {limit.unit} (stable {base})"
        )
    if canary >= limit.warning:
        if stable is not None and stable >= limit.warning:
            # The whole service is degraded: the canary cannot be blamed, nor cleared.
            return Verdict.INCONCLUSIVE, (
                f"{label}: canary {shown} and stable {base} both above the warning "
                f"threshold {limit.warning:g} {limit.unit}"
            )
        return Verdict.FAIL, (
            f"{label}: canary {shown} above the warning threshold {limit.warning:g} "
            f"{limit.unit} while stable is at {base}"
        )
    return Verdict.PASS, f"{label}: canary {shown}, stable {base}"


def judge(
    canary: Measurement,
    stable: Measurement,
    *,
    error_limit: MetricLimit,
    latency_limit: MetricLimit,
    min_requests: int,
) -> Judgement:
    """Compare canary and stable: fail beats inconclusive beats pass; every reason is kept."""
    if canary.error is not None:
        return Judgement(Verdict.INCONCLUSIVE, (f"no measurement: {canary.error}",))
    if canary.requests is None or canary.requests < min_requests:
        seen = 0 if canary.requests is None else round(canary.requests)
        return Judgement(
            Verdict.INCONCLUSIVE,
            (f"only {seen} requests reached the canary (at least {min_requests} needed)",),
        )
    results = [
        _compare(error_limit.name, canary.error_rate, stable.error_rate, error_limit),
        _compare(latency_limit.name, canary.p95_ms, stable.p95_ms, latency_limit),
    ]
    verdicts = {v for v, _ in results}
    for verdict in (Verdict.FAIL, Verdict.INCONCLUSIVE):
        if verdict in verdicts:
            return Judgement(verdict, tuple(r for v, r in results if v is verdict))
    return Judgement(Verdict.PASS, tuple(r for _, r in results))


# -- what the service returns (read models) ---------------------------------------------------


class ReleaseInfo(BaseModel):
    """A release as shown to people and machines."""

    model_config = ConfigDict(frozen=True)

    id: int
    service: str
    env: str
    version: str
    strategy: str
    kind: str
    phase: Phase
    outcome: str | None
    target_slot: str
    stable_slot: str | None
    stable_version: str | None
    change_id: int | None
    requested_by: str
    approved_by: str | None
    step: int
    last_check: str | None
    reason: str | None
    deadline: IsoTime | None
    switched_at: IsoTime | None
    finished_at: IsoTime | None
    created_at: IsoTime
    updated_at: IsoTime
    rollback_seconds: float | None = Field(
        default=None, description="decision to traffic on the restored version (None: none)"
    )
    snapshot: dict[str, Any] | None = Field(
        default=None, description="the database snapshot taken before the migrations"
    )

    @property
    def settled(self) -> bool:
        """Nothing happens without a human: finished, or waiting for an approval or decision."""
        return self.phase in TERMINAL or self.phase in (Phase.AWAITING_APPROVAL, Phase.PAUSED)


@dataclass(frozen=True, slots=True)
class TargetInfo:
    """A service in one environment: the serving version and the traffic split."""

    service: str
    env: str
    active_slot: str | None
    active_version: str | None
    previous_version: str | None
    previous_warm: bool
    routing: Routing
    slots: Mapping[str, str | None]  # slot -> version running there
    release_id: int | None
    updated_at: datetime | None
