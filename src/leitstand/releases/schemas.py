"""Wire schemas of the release API: what it accepts, and the read models it answers with."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from leitstand.releases.model import IsoTime, ReleaseInfo, TargetInfo

__all__ = [
    "AbortIn",
    "AnalysisOut",
    "ApproveIn",
    "HandoverItemOut",
    "HandoverOut",
    "IsoTime",
    "ReleaseDetailOut",
    "ReleaseIn",
    "ReleaseOut",
    "RollbackIn",
    "TargetOut",
    "TaskDoneIn",
    "TaskOut",
    "TimelineEntryOut",
]


class ReleaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service: str = Field(min_length=1, max_length=200, examples=["enterprise-api"])
    version: str = Field(min_length=1, max_length=100, examples=["2.4.0"])
    env: str = Field(min_length=1, max_length=64, examples=["staging"])
    strategy: str | None = Field(default=None, examples=["blue-green", "canary"])
    artifact_digest: str | None = Field(
        default=None,
        max_length=100,
        description="sha256 of the artifact deployed, as a passing gate run recorded it",
        examples=["sha256:" + "0" * 64],
    )


class ApproveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str = Field(default="", max_length=2_000)


class AbortIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2_000)


class RollbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service: str = Field(min_length=1, max_length=200)
    env: str = Field(default="production", min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=2_000)


class TaskDoneIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=1, max_length=10_000)


# -- read models (what the API, the pages and ``--json`` show) -------------------------------


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


# The fields are ``ReleaseInfo``'s: the domain's read model is what the API answers with.
class ReleaseOut(ReleaseInfo):
    """A release as shown to people and machines."""

    @classmethod
    def of(cls, info: ReleaseInfo) -> ReleaseOut:
        return cls.model_validate(info, from_attributes=True)


class AnalysisOut(_Out):
    """One canary analysis: both slots' measurements and the verdict."""

    step: int
    weight: int
    started_at: IsoTime
    ended_at: IsoTime
    verdict: str
    canary: dict[str, Any]
    stable: dict[str, Any]
    reasons: list[str]
    decided_by: str | None


class TimelineEntryOut(_Out):
    """One ledger entry of a release."""

    index: int
    time: str
    actor: str
    role: str
    action: str
    payload: dict[str, Any]


class ReleaseDetailOut(ReleaseOut):
    """A release with its canary analyses and its evidence timeline."""

    analyses: list[AnalysisOut]
    timeline: list[TimelineEntryOut]

    @classmethod
    def of_release(
        cls,
        info: ReleaseInfo,
        *,
        analyses: list[AnalysisOut],
        timeline: list[TimelineEntryOut],
    ) -> ReleaseDetailOut:
        return cls(**dict(info), analyses=analyses, timeline=timeline)


class TargetOut(_Out):
    """A service in one environment: the serving version and the traffic split."""

    service: str
    env: str
    active_slot: str | None
    active_version: str | None
    previous_version: str | None
    previous_warm: bool
    weights: dict[str, int]
    retired: list[str]
    slots: dict[str, str | None]
    release_id: int | None
    updated_at: IsoTime | None

    @classmethod
    def of(cls, target: TargetInfo) -> TargetOut:
        routing = target.routing
        return cls(
            service=target.service,
            env=target.env,
            active_slot=target.active_slot,
            active_version=target.active_version,
            previous_version=target.previous_version,
            previous_warm=target.previous_warm,
            weights={s: routing.weight(s) for s in sorted(routing.weights)},
            retired=sorted(routing.retired),
            slots=dict(target.slots),
            release_id=target.release_id,
            updated_at=target.updated_at,
        )


class TaskOut(_Out):
    """A follow-up task of a release: a root-cause analysis or a handover action item."""

    id: int
    release_id: int
    service: str
    env: str
    kind: str
    title: str
    owner: str | None
    status: str
    overdue: bool
    due_at: IsoTime
    done_at: IsoTime | None
    done_by: str | None
    note: str | None


class HandoverItemOut(_Out):
    """One item of the handover checklist, with its evidence and its action item."""

    key: str
    text: dict[str, str] = Field(description="the item's text by language (de, en)")
    ok: bool
    detail: str
    evidence: dict[str, Any]
    owner: str
    task_id: int | None


class HandoverOut(_Out):
    """The handover checklist of a completed production release as last checked."""

    release_id: int
    checked_at: str
    passed: bool
    failed: list[str]
    items: list[HandoverItemOut]
