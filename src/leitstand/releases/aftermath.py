"""What a rollback leaves behind: alert, notification, change-log entry, root-cause task.

The seed's procedures: an automatic rollback alerts DevOps and the responsible developers and
writes the change-log entry itself; a manual rollback informs all stakeholders and documents the
reason; both start a root-cause analysis within 24 hours (the policy's values). Everything here
runs in the transaction that decided the rollback.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from leitstand.auth.model import Actor
from leitstand.clock import Clock
from leitstand.db import Session
from leitstand.ledger.service import Ledger
from leitstand.policy.model import Policy
from leitstand.releases.flow import SYSTEM, evidence
from leitstand.releases.store import ReleaseRow, TaskRow, add_task, task_row
from leitstand.scheduler.service import JobContext, Scheduler

if TYPE_CHECKING:
    from leitstand.alerting.service import AlertingService
    from leitstand.changes.service import ChangeService

__all__ = ["TASK_DUE", "Aftermath"]

TASK_DUE = "releases.task_due"
_OVERDUE = {"root_cause": "RootCauseAnalysisOverdue", "handover": "HandoverItemOverdue"}


class Aftermath:
    """Alerts, notifications, change-log entries and follow-up tasks of releases."""

    def __init__(
        self,
        *,
        ledger: Ledger,
        clock: Clock,
        policy: Policy,
        scheduler: Scheduler,
        alerting: AlertingService | None,
        changes: ChangeService | None,
    ) -> None:
        self.ledger = ledger
        self.clock = clock
        self.policy = policy
        self.scheduler = scheduler
        self.alerting = alerting
        self.changes = changes

    def decided(
        self,
        session: Session,
        row: ReleaseRow,
        *,
        trigger: str,
        reason: str,
        actor: Actor,
        version: str | None = None,
        restored: str | None = None,
    ) -> None:
        """Step 1 of the procedure: the decision (who, why, from which version to which)."""
        self.ledger.record(
            session,
            actor,
            "release.rollback_decided",
            f"release:{row.id}",
            payload=evidence(
                row,
                trigger=trigger,
                reason=reason,
                automatic=trigger != "manual",
                rolled_back_version=version or row.version,
                restored_version=restored or row.stable_version,
            ),
        )

    def rolled_back(
        self,
        session: Session,
        row: ReleaseRow,
        *,
        trigger: str,
        reason: str,
        actor: Actor,
        version: str | None = None,
        restored: str | None = None,
    ) -> None:
        """Tell people, document the rollback in the change log, open the root-cause task.

        ``version`` is the version rolled back (default: the release's), ``restored`` the one
        traffic goes back to (default: the release's stable version).
        """
        deployment = self.policy.deployment
        automatic = trigger != "manual"
        version = version or row.version
        restored = restored or row.stable_version or "?"
        subject = (
            f"Rollback {row.service} {version} ({row.env}): "
            f"{'automatisch' if automatic else 'manuell'}"
        )
        body = (
            f"{row.service} {version} in {row.env} wurde zurückgerollt auf {restored}.\n"
            f"Grund: {reason}\nRelease #{row.id}, ausgelöst durch {actor.name} ({trigger})."
        )
        if self.alerting is not None:
            if automatic:
                self.alerting.raise_alert(
                    session,
                    name="ReleaseRolledBack",
                    severity="warning",
                    summary=f"{row.service} {version} rolled back in {row.env}: {reason}",
                    labels={"env": row.env, "version": version, "release": str(row.id)},
                    service=row.service,
                    source="leitstand.releases",
                    actor=actor,
                )
            roles = (
                deployment.automatic_rollback.notify
                if automatic
                else deployment.manual_rollback.stakeholders
            )
            if roles:
                self.alerting.notify(session, roles=roles, subject=subject, body=body, actor=actor)
        if self.changes is not None and (
            not automatic or deployment.automatic_rollback.record_in_change_log
        ):
            self.changes.record_rollback(
                session,
                change_id=row.change_id,
                service=row.service,
                version=version,
                env=row.env,
                release_id=row.id,
                reason=reason,
                automatic=automatic,
                actor=actor,
            )
        self._root_cause_task(session, row, version, reason)

    def _root_cause_task(
        self, session: Session, row: ReleaseRow, version: str, reason: str
    ) -> None:
        self.open_task(
            session,
            row,
            kind="root_cause",
            title=f"Root-Cause-Analyse: Rollback {row.service} {version} ({reason})",
            within=self.policy.deployment.manual_rollback.root_cause_analysis_within,
        )

    def open_task(
        self,
        session: Session,
        row: ReleaseRow,
        *,
        kind: str,
        title: str,
        within: timedelta,
        owner: str | None = None,
    ) -> int:
        """A follow-up task of ``row`` due in ``within``, its due timer and its evidence."""
        now = self.clock.now()
        task = TaskRow(
            release_id=row.id,
            service=row.service,
            env=row.env,
            kind=kind,
            title=title,
            owner=owner,
            status="open",
            due_at=now + within,
            created_at=now,
        )
        add_task(session, task)
        self.scheduler.schedule(
            session,
            kind=TASK_DUE,
            key=f"release-task:{task.id}:due",
            due_at=task.due_at,
            payload={"task_id": task.id},
        )
        self.ledger.record(
            session,
            SYSTEM,
            "release.task_opened",
            f"release:{row.id}",
            payload=evidence(
                row, task_id=task.id, task=task.title, kind=kind, owner=owner,
                due_at=task.due_at.isoformat(),
            ),
        )  # fmt: skip
        return task.id

    def task_due(self, ctx: JobContext) -> None:
        """A root-cause task reached its due time: if still open, it is overdue and alerted."""
        task = task_row(ctx.session, int(ctx.payload["task_id"]))
        if task is None or task.status != "open":
            return
        self.ledger.record(
            ctx.session,
            SYSTEM,
            "release.task_overdue",
            f"release:{task.release_id}",
            payload={
                "task_id": task.id,
                "service": task.service,
                "env": task.env,
                "due_at": task.due_at.isoformat(),
            },
        )
        if self.alerting is not None:
            self.alerting.raise_alert(
                ctx.session,
                name=_OVERDUE.get(task.kind, "ReleaseTaskOverdue"),
                severity="warning",
                summary=f"{task.title}: due {task.due_at.isoformat()}, still open",
                labels={"task": str(task.id), "env": task.env},
                service=task.service,
                source="leitstand.releases",
                actor=SYSTEM,
            )
