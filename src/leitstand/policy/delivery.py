"""Change management and deployment: categories, strategies, rollback, feature flags."""

from __future__ import annotations

import re
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Self

from pydantic import AfterValidator, Field, StrictInt, model_validator
from pydantic_core import PydanticCustomError

from leitstand.policy.base import (
    Flag,
    Number,
    PolicyModel,
    Role,
    RoleList,
    Rules,
    Text,
    TextList,
    unique_list,
)
from leitstand.policy.durations import DurationOrUnlimited, PositiveDuration
from leitstand.policy.pipeline import GateStage
from leitstand.policy.releases import ReleaseTarget
from leitstand.policy.values import describe, number

__all__ = [
    "ApprovalMode",
    "AutomaticRollback",
    "BlueGreenPolicy",
    "CanaryPolicy",
    "ChangeCategory",
    "ChangeField",
    "ChangesPolicy",
    "DatabaseRollback",
    "DeploymentPolicy",
    "FeatureFlagPolicy",
    "FlagReferencePolicy",
    "InconclusiveAction",
    "ManualRollback",
    "SnapshotMethod",
    "StaleFlagGate",
    "Strategy",
]


class ApprovalMode(StrEnum):
    """How a change category is approved."""

    AUTOMATIC = "automatic"  # the pipeline's gates are the approval
    BEFORE_DEPLOYMENT = "before_deployment"
    RETROSPECTIVE = "retrospective"  # deploy first (emergency), approve afterwards


class ChangeCategory(PolicyModel):
    """A change category (standard, normal, emergency) and its approval."""

    name: Text
    approval: ApprovalMode
    approvers: RoleList
    retrospective_approvers: RoleList = Field(default_factory=list)
    retrospective_deadline: PositiveDuration | None = None
    examples: TextList
    # Gate stages a release of this category may start without (they follow retrospectively);
    # every other stage the environment requires must have passed first.
    gates_may_follow: Annotated[list[GateStage], AfterValidator(unique_list)] = Field(
        default_factory=list
    )

    @model_validator(mode="after")
    def _approval_complete(self) -> Self:
        rules = Rules()
        if self.approval is ApprovalMode.AUTOMATIC and self.approvers:
            rules.add(
                "approvers",
                f"no approvers for automatic approval (got {describe(list(self.approvers))})",
            )
        if self.approval is not ApprovalMode.AUTOMATIC and not self.approvers:
            rules.add("approvers", f"at least one role for {self.approval} approval (got [])")
        if self.approval is ApprovalMode.RETROSPECTIVE:
            if not self.retrospective_approvers:
                rules.add(
                    "retrospective_approvers",
                    "at least one role to approve afterwards (got [])",
                )
            if self.retrospective_deadline is None:
                rules.add(
                    "retrospective_deadline",
                    "a deadline for the retrospective approval (got null)",
                )
        rules.check()
        return self


class ChangeField(StrEnum):
    """What every change record must state."""

    WHAT = "what"  # technical change
    WHY = "why"  # business or regulatory reason
    APPROVED_BY = "approved_by"
    DEPLOYED_AT = "deployed_at"
    ROLLBACK = "rollback"  # how to undo it
    TESTS = "tests"


class ChangesPolicy(PolicyModel):
    """Change categories, the mandatory change documentation and the four-eyes rule."""

    categories: dict[str, ChangeCategory]
    required_fields: Annotated[list[ChangeField], AfterValidator(unique_list)]
    four_eyes: Flag  # the approver must not be the requester


class Strategy(StrEnum):
    """Deployment strategies."""

    BLUE_GREEN = "blue_green"
    CANARY = "canary"


class BlueGreenPolicy(PolicyModel):
    """Blue-green: deploy to the idle colour, check, switch; the old colour stays for rollback."""

    max_rollback_time: PositiveDuration
    health_checks_before_switch: Flag
    keep_previous_for_rollback: Flag
    # How long the previous colour stays warm as the instant rollback target, health-checked
    # traffic on the new one meanwhile (leitstand's default; the seed names no duration).
    rollback_window: PositiveDuration = timedelta(minutes=30)


class InconclusiveAction(StrEnum):
    """What a canary paused by an inconclusive analysis does when nobody decided in time."""

    ROLLBACK = "rollback"
    PROMOTE = "promote"


class CanaryPolicy(PolicyModel):
    """Canary: traffic percentages per step, each watched for ``analysis_window``."""

    steps: Annotated[list[Number], Field(min_length=1)]
    analysis_window: PositiveDuration
    rollback_on_anomaly: Flag
    # An inconclusive analysis pauses for a person at most this long, then
    # ``inconclusive_action`` is taken (leitstand's defaults; the seed rolls back on doubt).
    inconclusive_max_wait: PositiveDuration = timedelta(minutes=30)
    inconclusive_action: InconclusiveAction = InconclusiveAction.ROLLBACK

    @model_validator(mode="after")
    def _steps_increase_to_100(self) -> Self:
        rules = Rules()
        previous: float = 0
        for index, step in enumerate(self.steps):
            if not 0 < step <= 100:
                rules.add(
                    f"steps.{index}", f"a percentage above 0 and at most 100 (got {number(step)})"
                )
            elif step <= previous:
                rules.add(
                    f"steps.{index}",
                    f"must be greater than the previous step ({number(previous)}) "
                    f"(got {number(step)})",
                )
            previous = max(previous, step)
        if self.steps and self.steps[-1] != 100:
            rules.add(
                f"steps.{len(self.steps) - 1}",
                f"the last step must be 100 (got {number(self.steps[-1])})",
            )
        rules.check()
        return self


class AutomaticRollback(PolicyModel):
    """What happens when a health check fails after a deployment."""

    on_health_check_failure: Flag
    notify: RoleList
    record_in_change_log: Flag


class ManualRollback(PolicyModel):
    """Who decides a manual rollback, its steps, and when the root-cause analysis must start."""

    deciders: Annotated[RoleList, Field(min_length=1)]
    steps: TextList
    root_cause_analysis_within: PositiveDuration
    # "Alle Stakeholder informieren": leitstand's default roles.
    stakeholders: RoleList = Field(
        default_factory=lambda: [
            Role.DEVOPS,
            Role.DEVELOPER,
            Role.COMPLIANCE_OFFICER,
            Role.PRODUCT_OWNER,
        ]
    )


class SnapshotMethod(StrEnum):
    """How the database is copied before a release's migrations."""

    DUMP = "dump"
    BACKUP = "backup"


class DatabaseRollback(PolicyModel):
    """Safeguards around database migrations."""

    rollback_script_required: Flag
    snapshot_before_migration: Flag
    rollback_test_in_pipeline: Flag
    # How the snapshot is taken: ``dump`` (pg_dump custom format / SQLite backup API into the
    # leitstand home) or ``backup`` (a pgBackRest backup of the service's system through the
    # backups domain, schedule row ``snapshot_backup_row`` or its first database row).
    snapshot_method: SnapshotMethod = SnapshotMethod.DUMP
    snapshot_backup_row: str | None = None


class StaleFlagGate(StrEnum):
    """What the quality gate does when stale feature flags exist."""

    WARN = "warn"
    FAIL = "fail"


def _reference_patterns(patterns: list[str]) -> list[str]:
    for index, pattern in enumerate(patterns):
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise PydanticCustomError(
                "pattern", f"item {index}: a valid regular expression ({exc}) (got {pattern!r})"
            ) from None
        if "key" not in compiled.groupindex:
            raise PydanticCustomError(
                "pattern", f"item {index}: a named group (?P<key>...) (got {pattern!r})"
            )
    return patterns


# OpenFeature evaluation calls: Python, JavaScript/TypeScript, Java, Kotlin, C# (first pattern),
# Go (second: the context comes first).
_DEFAULT_REFERENCE_PATTERNS = [
    r"""(?:get|Get)_?(?:boolean|Boolean|string|String|integer|Integer|int|Int|float|Float"""
    r"""|number|Number|object|Object)_?(?:value|Value|details|Details)(?:Async)?\s*\(\s*"""
    r"""["'`](?P<key>[A-Za-z0-9][A-Za-z0-9._-]*)["'`]""",
    r"""\b(?:Boolean|String|Int|Float|Object)Value(?:Details)?\(\s*\w+\s*,\s*"""
    r'"(?P<key>[A-Za-z0-9][A-Za-z0-9._-]*)"',
]


class FlagReferencePolicy(PolicyModel):
    """How ``leitstand flag refs`` finds flag keys in a code tree (leitstand's defaults)."""

    patterns: Annotated[list[str], AfterValidator(_reference_patterns)] = Field(
        default_factory=lambda: list(_DEFAULT_REFERENCE_PATTERNS)
    )
    # A known key between these quotes anywhere (a constant, a config file) also counts.
    quoted_keys: Flag = True
    exclude: list[str] = Field(
        default_factory=lambda: [
            ".git",
            ".hg",
            ".venv",
            "venv",
            "node_modules",
            "__pycache__",
            "dist",
            "build",
            "*.min.js",
            "*.lock",
        ]
    )
    max_file_bytes: Annotated[StrictInt, Field(ge=1)] = 2_000_000


class FeatureFlagPolicy(PolicyModel):
    """Feature flag rules; ``lifetimes`` says when a flag of each type counts as stale."""

    new_features_behind_flags: Flag
    per_tenant_activation: Flag
    remove_after_full_rollout: Flag
    lifetimes: dict[str, DurationOrUnlimited]
    # leitstand's defaults (the seed is silent): who changes flags, the gate, the code scan.
    editors: RoleList = Field(default_factory=lambda: [Role.DEVOPS, Role.DEVELOPER])
    production_editors: RoleList = Field(default_factory=lambda: [Role.DEVOPS, Role.ONCALL])
    # None: a flag fully rolled out in production is stale after its type's lifetime.
    full_rollout_grace: DurationOrUnlimited | None = None
    stale_gate: StaleFlagGate = StaleFlagGate.WARN
    references: FlagReferencePolicy = Field(default_factory=FlagReferencePolicy)

    @model_validator(mode="after")
    def _lifetimes_positive(self) -> Self:
        rules = Rules()
        for key, lifetime in self.lifetimes.items():
            if isinstance(lifetime, timedelta) and lifetime <= timedelta(0):
                rules.add(f"lifetimes.{key}", "a duration longer than 0s or 'unlimited' (got 0s)")
        grace = self.full_rollout_grace
        if isinstance(grace, timedelta) and grace <= timedelta(0):
            rules.add("full_rollout_grace", "a duration longer than 0s or 'unlimited' (got 0s)")
        rules.check()
        return self


class DeploymentPolicy(PolicyModel):
    """Deployment strategies, rollback procedures and feature flags."""

    default_strategy: Strategy
    blue_green: BlueGreenPolicy
    canary: CanaryPolicy
    automatic_rollback: AutomaticRollback
    manual_rollback: ManualRollback
    database_rollback: DatabaseRollback
    feature_flags: FeatureFlagPolicy
    # Where each service's versions run and which router fronts them (see policy.releases).
    releases: dict[str, ReleaseTarget] = Field(default_factory=dict)
