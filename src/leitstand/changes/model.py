"""Change records and the approval rules (pure: no I/O).

Categories and who approves them come from the policy (``changes.categories``): standard changes
are approved by the pipeline, normal ones before deployment by the listed roles, emergency ones
before deployment by DevOps and afterwards (within a deadline) by the compliance officer. The
approver is never the requester when the policy's four-eyes rule is on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from leitstand.policy.delivery import ApprovalMode, ChangeCategory, ChangeField

__all__ = [
    "ApprovalStage",
    "Change",
    "ChangeApproval",
    "ChangeStatus",
    "RuleBroken",
    "approval_stage",
    "fields_required_at_open",
]


class ChangeStatus(StrEnum):
    PENDING = "pending"  # waiting for approval
    APPROVED = "approved"
    REJECTED = "rejected"


class ApprovalStage(StrEnum):
    AUTOMATIC = "automatic"  # a standard change: the pipeline's gates are the approval
    BEFORE = "before_deployment"
    RETROSPECTIVE = "retrospective"


class RuleBroken(Exception):
    """An approval the policy does not admit; ``forbidden`` tells who-rules from state rules."""

    def __init__(self, message: str, *, forbidden: bool) -> None:
        super().__init__(message)
        self.forbidden = forbidden


@dataclass(frozen=True, slots=True)
class ChangeApproval:
    stage: ApprovalStage
    approver: str
    role: str
    at: datetime
    comment: str = ""
    approved: bool = True


@dataclass(frozen=True, slots=True)
class Change:
    """A change record: what, why, rollback, tests; its approvals; its status."""

    id: int
    service: str
    version: str
    category: str
    status: ChangeStatus
    what: str
    why: str
    rollback: str
    tests: str
    requester: str
    requester_role: str
    created_at: datetime
    retrospective_due_at: datetime | None
    approvals: tuple[ChangeApproval, ...] = ()
    deployed_at: datetime | None = None

    @property
    def approved_by(self) -> list[str]:
        return [a.approver for a in self.approvals if a.approved]

    @property
    def reviewed(self) -> bool:
        """True when the retrospective approval an emergency change needs has been given."""
        return any(a.stage is ApprovalStage.RETROSPECTIVE for a in self.approvals)


def fields_required_at_open(required: list[ChangeField]) -> list[str]:
    """Fields a requester must fill (approval and deployment are recorded later)."""
    later = {ChangeField.APPROVED_BY, ChangeField.DEPLOYED_AT}
    return [f.value for f in required if f not in later]


def approval_stage(
    change: Change,
    category: ChangeCategory,
    *,
    approver: str,
    role: str,
    four_eyes: bool,
) -> ApprovalStage:
    """The approval ``approver`` may give now, or RuleBroken saying why not."""
    if change.status is ChangeStatus.REJECTED:
        raise RuleBroken(f"change #{change.id} was rejected", forbidden=False)
    if category.approval is ApprovalMode.AUTOMATIC:
        raise RuleBroken(
            f"change #{change.id} is a {change.category} change: the pipeline approves it",
            forbidden=False,
        )
    if change.status is ChangeStatus.PENDING:
        stage, roles = ApprovalStage.BEFORE, category.approvers
    elif category.approval is ApprovalMode.RETROSPECTIVE and not change.reviewed:
        stage, roles = ApprovalStage.RETROSPECTIVE, category.retrospective_approvers
    else:
        raise RuleBroken(f"change #{change.id} is already approved", forbidden=False)
    if four_eyes and approver == change.requester:
        raise RuleBroken(
            f"four-eyes rule: {approver} requested change #{change.id} and cannot approve it",
            forbidden=True,
        )
    if role not in {r.value for r in roles}:
        allowed = ", ".join(r.value for r in roles)
        raise RuleBroken(
            f"role {role!r} may not give the {stage.value.replace('_', ' ')} approval of a "
            f"{change.category} change (allowed: {allowed})",
            forbidden=True,
        )
    return stage
