"""Use cases of change management: open, approve or reject, show, list; each step is evidence."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from leitstand.changes import store
from leitstand.changes.model import (
    ApprovalStage,
    Change,
    ChangeStatus,
    RuleBroken,
    approval_stage,
    fields_required_at_open,
)
from leitstand.changes.queries import ChangeQueries
from leitstand.changes.store import ChangeApprovalRow, ChangeRow
from leitstand.clock import Clock
from leitstand.db import Database, Session
from leitstand.errors import ConflictError, ForbiddenError, Issue, ValidationError
from leitstand.identity import Actor
from leitstand.ledger.service import Ledger
from leitstand.policy.delivery import ApprovalMode
from leitstand.policy.model import Policy
from leitstand.scheduler.service import JobContext, Scheduler
from leitstand.validators import service_issue, version_issue

if TYPE_CHECKING:
    from leitstand.alerting.service import AlertingService

__all__ = ["RETROSPECTIVE_DUE", "ChangeService"]

RETROSPECTIVE_DUE = "changes.retrospective_due"
_PIPELINE = Actor(name="pipeline", role="system")


class ChangeService(ChangeQueries):
    """Change records with the policy's categories and the four-eyes approval."""

    def __init__(
        self,
        *,
        db: Database,
        ledger: Ledger,
        clock: Clock,
        policy: Policy,
        scheduler: Scheduler,
        alerting: AlertingService | None = None,
    ) -> None:
        super().__init__(db=db, ledger=ledger, clock=clock, policy=policy)
        self.scheduler = scheduler
        self.alerting = alerting

    def register_jobs(self) -> None:
        self.scheduler.register(RETROSPECTIVE_DUE, self._retrospective_due)

    def open(
        self,
        *,
        service: str,
        version: str,
        category: str,
        fields: Mapping[str, str],
        actor: Actor,
    ) -> Change:
        """Open a change record; a standard change is approved by the pipeline at once."""
        policy = self.policy.changes
        issues: list[Issue] = []
        if category not in policy.categories:
            choices = ", ".join(policy.categories)
            issues.append(Issue("category", f"one of {choices} (got {category!r})"))
        for issue in (
            service_issue(service, self.policy.services),
            version_issue(version),
        ):
            if issue is not None:
                issues.append(issue)
        for name in fields_required_at_open(list(policy.required_fields)):
            if not str(fields.get(name, "")).strip():
                issues.append(Issue(name, "required by changes.required_fields (got nothing)"))
        if issues:
            raise ValidationError(issues, summary="the change record is incomplete:")
        now = self.clock.now()
        automatic = policy.categories[category].approval is ApprovalMode.AUTOMATIC
        with self.db.transaction() as session:
            clash = store.newest_change_id(
                session, service=service, version=version, include_rejected=False
            )
            if clash is not None:
                raise ConflictError(f"change #{clash} already covers {service} {version}")
            row = store.insert_change(
                session,
                ChangeRow(
                    service=service,
                    version=version,
                    category=category,
                    status=(ChangeStatus.APPROVED if automatic else ChangeStatus.PENDING).value,
                    what=fields.get("what", ""),
                    why=fields.get("why", ""),
                    rollback=fields.get("rollback", ""),
                    tests=fields.get("tests", ""),
                    requester=actor.name,
                    requester_role=actor.role,
                    created_at=now,
                    updated_at=now,
                ),
            )
            self.ledger.record(
                session,
                actor,
                "change.opened",
                f"change:{row.id}",
                payload={
                    "service": service,
                    "version": version,
                    "category": category,
                    "what": row.what,
                    "why": row.why,
                    "rollback": row.rollback,
                    "tests": row.tests,
                },
            )
            if automatic:
                self._add_approval(session, row, ApprovalStage.AUTOMATIC, _PIPELINE, "", True)
            return self._load(session, row.id)

    def decide(self, *, change_id: int, actor: Actor, approve: bool, comment: str = "") -> Change:
        """Approve or reject: the category's roles, never the requester (four eyes)."""
        with self.db.transaction() as session:
            row = self._row(session, change_id, lock=True)
            change = self._load(session, change_id)
            category = self.policy.changes.categories.get(row.category)
            if category is None:
                raise ConflictError(
                    f"change #{change_id} has category {row.category!r}, "
                    "which the policy no longer has"
                )
            try:
                stage = approval_stage(
                    change,
                    category,
                    approver=actor.name,
                    role=actor.role,
                    four_eyes=self.policy.changes.four_eyes,
                )
            except RuleBroken as exc:
                if exc.forbidden:
                    raise ForbiddenError(str(exc)) from None
                raise ConflictError(str(exc)) from None
            if not approve and stage is not ApprovalStage.BEFORE:
                raise ConflictError(
                    f"change #{change_id} is deployed on approval; it can no longer be rejected"
                )
            self._add_approval(session, row, stage, actor, comment, approve)
            return self._load(session, change_id)

    def _add_approval(
        self,
        session: Session,
        row: ChangeRow,
        stage: ApprovalStage,
        actor: Actor,
        comment: str,
        approve: bool,
    ) -> None:
        now = self.clock.now()
        store.insert_approval(
            session,
            ChangeApprovalRow(
                change_id=row.id,
                stage=stage.value,
                approved=approve,
                approver=actor.name,
                role=actor.role,
                comment=comment,
                at=now,
            ),
        )
        category = self.policy.changes.categories[row.category]
        if stage is ApprovalStage.RETROSPECTIVE:
            self.scheduler.cancel(session, _due_key(row.id))
        elif approve:
            row.status = ChangeStatus.APPROVED.value
            deadline = category.retrospective_deadline
            if category.approval is ApprovalMode.RETROSPECTIVE and deadline is not None:
                row.retrospective_due_at = now + deadline
                self.scheduler.schedule(
                    session,
                    kind=RETROSPECTIVE_DUE,
                    key=_due_key(row.id),
                    due_at=row.retrospective_due_at,
                    payload={"change_id": row.id},
                )
        else:
            row.status = ChangeStatus.REJECTED.value
        row.updated_at = now
        action = {
            ApprovalStage.AUTOMATIC: "change.approved",
            ApprovalStage.BEFORE: "change.approved" if approve else "change.rejected",
            ApprovalStage.RETROSPECTIVE: "change.reviewed",
        }[stage]
        self.ledger.record(
            session,
            actor,
            action,
            f"change:{row.id}",
            payload={
                "service": row.service,
                "version": row.version,
                "category": row.category,
                "stage": stage.value,
                "comment": comment,
                "requester": row.requester,
            },
        )

    def _retrospective_due(self, ctx: JobContext) -> None:
        change_id = int(ctx.payload["change_id"])
        change = self._load(ctx.session, change_id)
        if change.reviewed:
            return
        system = Actor(name="leitstand", role="system")
        self.ledger.record(
            ctx.session,
            system,
            "change.review_overdue",
            f"change:{change_id}",
            payload={
                "service": change.service,
                "version": change.version,
                "due_at": ctx.due_at.isoformat(),
            },
        )
        if self.alerting is not None:
            category = self.policy.changes.categories.get(change.category)
            roles = list(category.retrospective_approvers) if category else []
            summary = (
                f"change #{change_id} ({change.category}, {change.service} {change.version}) "
                f"still lacks its retrospective approval, due {ctx.due_at.isoformat()}"
            )
            self.alerting.raise_alert(
                ctx.session,
                name="ChangeReviewOverdue",
                severity="warning",
                summary=summary,
                labels={"change": str(change_id)},
                service=change.service,
                source="leitstand.changes",
                actor=system,
            )
            if roles:
                self.alerting.notify(
                    ctx.session,
                    roles=roles,
                    subject=f"Nachträgliche Genehmigung überfällig: Change #{change_id}",
                    body=summary,
                    actor=system,
                )

    def mark_deployed(
        self,
        session: Session,
        *,
        change_id: int,
        env: str,
        release_id: int,
        at: datetime,
        production: bool,
        actor: Actor,
    ) -> None:
        """Record "when deployed": the moment all traffic reached the change's version."""
        row = self._row(session, change_id, lock=True)
        if production:
            row.deployed_at = at
            row.updated_at = at
        self.ledger.record(
            session,
            actor,
            "change.deployed",
            f"change:{change_id}",
            payload={
                "service": row.service,
                "version": row.version,
                "env": env,
                "release_id": release_id,
                "deployed_at": at.isoformat(),
            },
        )

    def record_rollback(
        self,
        session: Session,
        *,
        change_id: int | None,
        service: str,
        version: str,
        env: str,
        release_id: int,
        reason: str,
        automatic: bool,
        actor: Actor,
    ) -> None:
        """The change-log entry of a rollback (automatic or manual), with its reason."""
        self.ledger.record(
            session,
            actor,
            "change.rolled_back",
            f"change:{change_id}" if change_id is not None else f"release:{release_id}",
            payload={
                "change_id": change_id,
                "service": service,
                "version": version,
                "env": env,
                "release_id": release_id,
                "reason": reason,
                "automatic": automatic,
            },
        )


def _due_key(change_id: int) -> str:
    return f"change:{change_id}:retrospective"
