"""Wire and storage formats of flags: targeting, snapshots, API inputs and outputs.

Targeting is stored and served in exactly this JSON shape, so the server, the snapshot and the
in-process client read one format.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

from leitstand.flags.evaluation import Resolution, Snapshot, tenant_state
from leitstand.flags.lifecycle import StaleFlag
from leitstand.flags.model import (
    TARGETING_KEY,
    Condition,
    FlagConfig,
    FlagRecord,
    FlagValue,
    Operator,
    Rule,
    Serve,
    Targeting,
    ValueType,
)
from leitstand.policy.durations import format_duration

__all__ = [
    "ArchiveIn",
    "ConditionSchema",
    "EvaluateIn",
    "EvaluateOut",
    "EvaluationOut",
    "FlagConfigSchema",
    "FlagCreate",
    "FlagOut",
    "FlagRequest",
    "FlagUpdate",
    "KillIn",
    "RolloutIn",
    "RuleSchema",
    "ServeSchema",
    "SnapshotSchema",
    "SplitSchema",
    "StaleFlagOut",
    "StaleOut",
    "TargetingIn",
    "TargetingSchema",
    "TenantsIn",
    "ToggleIn",
]

Reason = Annotated[str | None, Field(default=None, max_length=2000)]
EnvName = Annotated[str, Field(min_length=1, max_length=64)]
#: The change record a switch is made for: it then appears in that change's Änderungsprotokoll.
ChangeId = Annotated[
    int | None, Field(default=None, ge=1, le=2**31 - 1, description="Change record number")
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConditionSchema(_In):
    attribute: str = Field(min_length=1, max_length=100, examples=["plan"])
    operator: Operator
    values: list[StrictStr | StrictBool | StrictInt | StrictFloat] = Field(min_length=1)

    def to_model(self) -> Condition:
        return Condition(self.attribute, self.operator, tuple(self.values))

    @classmethod
    def of(cls, c: Condition) -> ConditionSchema:
        return cls(attribute=c.attribute, operator=c.operator, values=list(c.values))


class SplitSchema(_In):
    variant: str = Field(min_length=1, max_length=64)
    weight: int = Field(ge=1, le=1_000_000)


class ServeSchema(_In):
    variant: str | None = Field(default=None, max_length=64)
    split: list[SplitSchema] = Field(default_factory=list)
    percentage: float = Field(default=100.0, ge=0, le=100)
    stickiness: str = Field(default=TARGETING_KEY, min_length=1, max_length=100)

    def to_model(self) -> Serve:
        return Serve(
            variant=self.variant,
            split=tuple((s.variant, s.weight) for s in self.split),
            percentage=float(self.percentage),
            stickiness=self.stickiness,
        )

    @classmethod
    def of(cls, s: Serve) -> ServeSchema:
        return cls(
            variant=s.variant,
            split=[SplitSchema(variant=v, weight=w) for v, w in s.split],
            percentage=s.percentage,
            stickiness=s.stickiness,
        )


class RuleSchema(_In):
    name: str = Field(min_length=1, max_length=100)
    tenants: list[str] = Field(default_factory=list)
    conditions: list[ConditionSchema] = Field(default_factory=list)
    serve: ServeSchema

    def to_model(self) -> Rule:
        return Rule(
            name=self.name,
            serve=self.serve.to_model(),
            tenants=tuple(self.tenants),
            conditions=tuple(c.to_model() for c in self.conditions),
        )

    @classmethod
    def of(cls, r: Rule) -> RuleSchema:
        return cls(
            name=r.name,
            tenants=list(r.tenants),
            conditions=[ConditionSchema.of(c) for c in r.conditions],
            serve=ServeSchema.of(r.serve),
        )


class TargetingSchema(_In):
    """One environment's targeting (the stored and served JSON)."""

    enabled: StrictBool = False
    killed: StrictBool = False
    exclude_tenants: list[str] = Field(default_factory=list)
    rules: list[RuleSchema] = Field(default_factory=list)
    default: ServeSchema = Field(default_factory=ServeSchema)

    def to_model(self) -> Targeting:
        return Targeting(
            enabled=self.enabled,
            killed=self.killed,
            exclude_tenants=tuple(self.exclude_tenants),
            rules=tuple(r.to_model() for r in self.rules),
            default=self.default.to_model(),
        )

    @classmethod
    def of(cls, t: Targeting) -> TargetingSchema:
        return cls(
            enabled=t.enabled,
            killed=t.killed,
            exclude_tenants=list(t.exclude_tenants),
            rules=[RuleSchema.of(r) for r in t.rules],
            default=ServeSchema.of(t.default),
        )


class FlagConfigSchema(BaseModel):
    """A snapshot entry: one flag in one environment."""

    key: str
    type: str
    value_type: ValueType
    variants: dict[str, Any]
    off_variant: str
    targeting: TargetingSchema

    def to_model(self) -> FlagConfig:
        variants: dict[str, FlagValue] = dict(self.variants)
        if self.value_type is ValueType.FLOAT:
            variants = {
                k: float(v) if isinstance(v, int) and not isinstance(v, bool) else v
                for k, v in variants.items()
            }
        return FlagConfig(
            key=self.key,
            kind=self.type,
            value_type=self.value_type,
            variants=variants,
            off_variant=self.off_variant,
            targeting=self.targeting.to_model(),
        )

    @classmethod
    def of(cls, f: FlagConfig) -> FlagConfigSchema:
        return cls(
            key=f.key,
            type=f.kind,
            value_type=f.value_type,
            variants=dict(f.variants),
            off_variant=f.off_variant,
            targeting=TargetingSchema.of(f.targeting),
        )


class SnapshotSchema(BaseModel):
    """The flags of one environment, as ``GET /api/v1/flags/snapshot`` serves them."""

    format: int = 1
    environment: str
    generated_at: datetime
    flags: list[FlagConfigSchema]
    archived: list[str] = Field(default_factory=list)

    def to_model(self, etag: str = "") -> Snapshot:
        return Snapshot(
            environment=self.environment,
            flags={f.key: f.to_model() for f in self.flags},
            archived=frozenset(self.archived),
            generated_at=self.generated_at,
            etag=etag,
        )


# -- API inputs --------------------------------------------------------------------------------


class FlagCreate(_In):
    key: str = Field(min_length=1, max_length=100, examples=["new-billing"])
    type: str = Field(min_length=1, max_length=50, examples=["release"])
    description: str = Field(default="", max_length=2000)
    owner: str | None = Field(default=None, max_length=200)
    value_type: ValueType = ValueType.BOOLEAN
    variants: dict[str, Any] | None = None  # boolean flags default to on/off
    off_variant: str | None = Field(default=None, max_length=64)
    environments: dict[str, TargetingSchema] = Field(default_factory=dict)
    reason: Reason


class FlagUpdate(_In):
    type: str | None = Field(default=None, min_length=1, max_length=50)
    description: str | None = Field(default=None, max_length=2000)
    owner: str | None = Field(default=None, max_length=200)
    variants: dict[str, Any] | None = None
    off_variant: str | None = Field(default=None, max_length=64)
    expected_version: int | None = None
    reason: Reason


class TargetingIn(_In):
    targeting: TargetingSchema
    expected_version: int | None = None
    reason: Reason
    change_id: ChangeId


class ToggleIn(_In):
    environment: EnvName
    enabled: StrictBool
    reason: Reason
    change_id: ChangeId


class KillIn(_In):
    environment: EnvName
    killed: StrictBool = True
    reason: Reason
    change_id: ChangeId


class TenantsIn(_In):
    environment: EnvName
    add: list[str] = Field(default_factory=list)
    remove: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    include: list[str] = Field(default_factory=list)  # undo an exclusion
    variant: str | None = Field(default=None, max_length=64)
    reason: Reason
    change_id: ChangeId


class RolloutIn(_In):
    environment: EnvName
    percentage: float = Field(ge=0, le=100)
    variant: str | None = Field(default=None, max_length=64)
    stickiness: str = Field(default=TARGETING_KEY, min_length=1, max_length=100)
    reason: Reason
    change_id: ChangeId


class ArchiveIn(_In):
    reason: Reason


class FlagRequest(_In):
    key: str = Field(min_length=1, max_length=200)
    type: ValueType | None = None
    default: Any = None


class EvaluateIn(_In):
    environment: EnvName = Field(examples=["production"])
    context: dict[str, Any] = Field(
        default_factory=dict, examples=[{"tenantId": "example-makler-nord", "targetingKey": "u1"}]
    )
    flags: list[Annotated[str, Field(min_length=1, max_length=200)] | FlagRequest] | None = Field(
        default=None, description="Keys (or key, type, default); none: every flag"
    )


# -- API outputs -------------------------------------------------------------------------------


class EvaluationOut(BaseModel):
    key: str
    value: Any
    variant: str | None
    reason: str
    error_code: str | None = None
    error_message: str | None = None
    rule: str | None = None

    @classmethod
    def of(cls, key: str, resolution: Resolution, default: Any = None) -> EvaluationOut:
        return cls(
            key=key,
            value=default if resolution.error_code else resolution.value,
            variant=resolution.variant,
            reason=resolution.reason.value,
            error_code=resolution.error_code.value if resolution.error_code else None,
            error_message=resolution.error_message,
            rule=resolution.rule,
        )


class EvaluateOut(BaseModel):
    environment: str
    etag: str
    results: list[EvaluationOut]


class FlagOut(BaseModel):
    key: str
    type: str
    value_type: ValueType
    description: str
    owner: str | None
    variants: dict[str, Any]
    off_variant: str
    version: int
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None
    environments: dict[str, TargetingSchema]
    full_rollout_since: dict[str, datetime | None]
    tenant_states: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="environment -> tenant -> state (off, on, 25% on)"
    )

    @classmethod
    def of(
        cls, flag: FlagRecord, *, environments: Sequence[str], tenants: Sequence[str]
    ) -> FlagOut:
        """A flag for the API, with each tenant's state per environment."""
        return cls(
            key=flag.key,
            type=flag.kind,
            value_type=flag.value_type,
            description=flag.description,
            owner=flag.owner,
            variants=dict(flag.variants),
            off_variant=flag.off_variant,
            version=flag.version,
            created_at=flag.created_at,
            updated_at=flag.updated_at,
            archived_at=flag.archived_at,
            environments={env: TargetingSchema.of(flag.targeting(env)) for env in environments},
            full_rollout_since={env: flag.full_rollout_since.get(env) for env in environments},
            tenant_states={
                env: {t: tenant_state(flag.config(env), t) for t in tenants} for env in environments
            },
        )


class StaleFlagOut(BaseModel):
    """A flag that should leave the code and be archived."""

    key: str
    type: str
    reason: str = Field(description="past_lifetime or fully_rolled_out")
    since: str = Field(description="creation, or the start of the full rollout (ISO 8601)")
    age: str
    limit: str
    message: str
    owner: str | None

    @classmethod
    def of(cls, stale: StaleFlag) -> StaleFlagOut:
        return cls(
            key=stale.key,
            type=stale.kind,
            reason=stale.reason.value,
            since=stale.since.isoformat(),
            age=format_duration(stale.age),
            limit=format_duration(stale.limit),
            message=stale.message,
            owner=stale.owner,
        )


class StaleOut(BaseModel):
    """Stale flags and what the quality gate makes of them (policy ``stale_gate``)."""

    stale: list[StaleFlagOut]
    gate: str
    fails: bool
