"""Who may release what where: the change record, the gates, and the manual approval."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from leitstand.auth.model import Actor
from leitstand.errors import ConflictError
from leitstand.gates.service import RUN_ACTION
from leitstand.ledger.service import EntryQuery, Ledger
from leitstand.policy.delivery import ApprovalMode
from leitstand.policy.model import Policy
from leitstand.policy.pipeline import DeployMode

if TYPE_CHECKING:
    from leitstand.changes.model import Change
    from leitstand.changes.service import ChangeService

__all__ = ["Admission"]


class Admission:
    """The rules a release must meet before it starts (production: change, gates, approval)."""

    def __init__(self, *, ledger: Ledger, policy: Policy, changes: ChangeService | None) -> None:
        self.ledger = ledger
        self.policy = policy
        self.changes = changes

    def production(self, env: str) -> bool:
        environment = self.policy.environments.get(env)
        return bool(environment and environment.production)

    def check(
        self, session: Session, service: str, version: str, env: str, actor: Actor
    ) -> tuple[Change | None, str | None]:
        """The change record that covers the release, and the approval it already has."""
        change = (
            self.changes.current_for(session, service=service, version=version)
            if self.changes is not None
            else None
        )
        deployment = self.policy.pipeline.deployment
        mode = deployment.production if self.production(env) else deployment.staging
        if not self.production(env):
            return change, (actor.name if mode is DeployMode.AUTOMATIC else None)
        if change is None:
            raise ConflictError(
                f"production needs an approved change record for {service} {version}: "
                f"`leitstand change open --service {service} --version {version} ...`"
            )
        if change.status.value != "approved":
            raise ConflictError(
                f"change #{change.id} for {service} {version} is {change.status.value}, "
                "not approved"
            )
        category = self.policy.changes.categories.get(change.category)
        if category is not None and category.approval is ApprovalMode.AUTOMATIC:
            self.gates_passed(session, change.id)
        if mode is DeployMode.AUTOMATIC:
            return change, actor.name
        allowed = {r.value for r in deployment.production_approvers}
        if (
            category is not None
            and category.approval is ApprovalMode.RETROSPECTIVE
            and actor.role in allowed
        ):
            # An emergency change: DevOps may deploy at once; the approval follows afterwards.
            return change, actor.name
        return change, None

    def gates_passed(self, session: Session, change_id: int) -> None:
        # A standard change is approved by the pipeline: its newest gate run must have passed.
        runs = self.ledger.entries(session, EntryQuery(action=RUN_ACTION, limit=None))
        linked = [e for e in runs if e.payload.get("change_id") == change_id]
        if not linked:
            raise ConflictError(
                f"change #{change_id} is a standard change: no quality-gate run is recorded "
                "for it (`leitstand gate run`)"
            )
        if linked[0].payload.get("status") != "pass":
            raise ConflictError(
                f"change #{change_id}: its newest quality-gate run did not pass "
                f"(ledger entry {linked[0].index})"
            )
