"""Wire schemas of the change API: change records in and out, and the change log's rows."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from leitstand.changes.log import LogRow
from leitstand.changes.model import Change

__all__ = ["ChangeApprovalOut", "ChangeIn", "ChangeLogRowOut", "ChangeOut", "DecisionIn"]


class ChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service: str = Field(min_length=1, max_length=200, examples=["enterprise-api"])
    version: str = Field(min_length=1, max_length=100, examples=["2.4.0"])
    category: str = Field(min_length=1, max_length=64, examples=["normal"])
    what: str = Field(default="", max_length=10_000)
    why: str = Field(default="", max_length=10_000)
    rollback: str = Field(default="", max_length=10_000)
    tests: str = Field(default="", max_length=10_000)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str = Field(default="", max_length=2_000)


class ChangeApprovalOut(BaseModel):
    """One decision on a change: its stage, who gave it and when."""

    stage: str
    approved: bool
    approver: str
    role: str
    at: datetime
    comment: str


class ChangeOut(BaseModel):
    """A change record with its approvals."""

    id: int
    service: str
    version: str
    category: str
    status: str
    what: str
    why: str
    rollback: str
    tests: str
    requester: str
    requester_role: str
    created_at: datetime
    retrospective_due_at: datetime | None
    deployed_at: datetime | None
    approved_by: list[str]
    approvals: list[ChangeApprovalOut]

    @classmethod
    def of(cls, change: Change) -> ChangeOut:
        """The wire form of a change record."""
        return cls(
            id=change.id,
            service=change.service,
            version=change.version,
            category=change.category,
            status=change.status.value,
            what=change.what,
            why=change.why,
            rollback=change.rollback,
            tests=change.tests,
            requester=change.requester,
            requester_role=change.requester_role,
            created_at=change.created_at,
            retrospective_due_at=change.retrospective_due_at,
            deployed_at=change.deployed_at,
            approved_by=change.approved_by,
            approvals=[
                ChangeApprovalOut(
                    stage=a.stage.value,
                    approved=a.approved,
                    approver=a.approver,
                    role=a.role,
                    at=a.at,
                    comment=a.comment,
                )
                for a in change.approvals
            ],
        )


class ChangeLogRowOut(BaseModel):
    """One line of the Änderungsprotokoll: a ledger entry in words."""

    ledger_index: int
    time: str
    change_id: int | None
    service: str
    version: str
    env: str
    action: str
    event: str
    actor: str
    role: str
    detail: str

    @classmethod
    def of(cls, row: LogRow) -> ChangeLogRowOut:
        return cls(
            ledger_index=row.index,
            time=row.time,
            change_id=row.change_id,
            service=row.service,
            version=row.version,
            env=row.env,
            action=row.action,
            event=row.event,
            actor=row.actor,
            role=row.role,
            detail=row.detail,
        )
