"""Reading change records: one, a list, the gate's view, and the Änderungsprotokoll."""

from __future__ import annotations

from datetime import datetime

from leitstand.changes import store
from leitstand.changes.log import LogRow, change_log, summaries, to_csv, to_markdown
from leitstand.changes.model import ApprovalStage, Change, ChangeApproval, ChangeStatus
from leitstand.changes.store import ChangeRow
from leitstand.clock import Clock
from leitstand.db import Database, Session
from leitstand.errors import Issue, NotFoundError, ValidationError
from leitstand.gates.context import ChangeState
from leitstand.ledger.service import Ledger
from leitstand.policy.model import Policy

__all__ = ["ChangeQueries"]


class ChangeQueries:
    """Read-only views of change records (the base of ``ChangeService``)."""

    def __init__(self, *, db: Database, ledger: Ledger, clock: Clock, policy: Policy) -> None:
        self.db = db
        self.ledger = ledger
        self.clock = clock
        self.policy = policy

    def get(self, change_id: int) -> Change:
        with self.db.reader() as session:
            return self._load(session, change_id)

    def log(
        self,
        *,
        service: str | None = None,
        change_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        lang: str = "de",
    ) -> list[LogRow]:
        """The Änderungsprotokoll: the ledger's change and release entries, oldest first."""
        with self.db.reader() as session:
            return change_log(
                self.ledger,
                session,
                service=service,
                change_id=change_id,
                since=since,
                until=until,
                lang=lang,
            )

    def export_log(
        self,
        fmt: str,
        *,
        service: str | None = None,
        change_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        lang: str = "de",
    ) -> str:
        """The change log as ``md`` (with the per-change summary) or ``csv``."""
        if fmt not in ("md", "csv"):
            raise ValidationError([Issue("format", f"md or csv (got {fmt!r})")])
        window = {"since": since, "until": until}
        with self.db.reader() as session:
            rows = change_log(
                self.ledger, session, service=service, change_id=change_id, lang=lang, **window
            )
            if fmt == "csv":
                return to_csv(rows)
            return to_markdown(rows, summaries(self.ledger, session, rows), lang=lang, **window)

    def current_for(self, session: Session, *, service: str, version: str) -> Change | None:
        """The newest change record for a service version that was not rejected."""
        change_id = store.newest_change_id(
            session, service=service, version=version, include_rejected=False
        )
        return None if change_id is None else self._load(session, change_id)

    def list(
        self, *, service: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[Change]:
        with self.db.reader() as session:
            ids = store.change_ids(session, service=service, status=status, limit=limit)
            return [self._load(session, i) for i in ids]

    def state_for(self, *, service: str, version: str) -> ChangeState | None:
        """The newest change record for a service version, as the compliance gate sees it."""
        with self.db.reader() as session:
            change_id = store.newest_change_id(session, service=service, version=version)
            if change_id is None:
                return None
            change = self._load(session, change_id)
        category = self.policy.changes.categories.get(change.category)
        roles = ", ".join(r.value for r in category.approvers) if category else "?"
        detail = {
            ChangeStatus.PENDING: f"waiting for approval by {roles} (not {change.requester})",
            ChangeStatus.REJECTED: "rejected",
            ChangeStatus.APPROVED: "approved",
        }[change.status]
        return ChangeState(
            id=change.id,
            category=change.category,
            status=change.status.value,
            approved=change.status is ChangeStatus.APPROVED,
            requester=change.requester,
            approvals=tuple((a.approver, a.role) for a in change.approvals if a.approved),
            detail=detail,
        )

    @staticmethod
    def _row(session: Session, change_id: int, *, lock: bool = False) -> ChangeRow:
        row = store.change_row(session, change_id, lock=lock)
        if row is None:
            raise NotFoundError(f"change #{change_id} does not exist")
        return row

    def _load(self, session: Session, change_id: int) -> Change:
        row = self._row(session, change_id)
        approvals = store.approvals_of(session, change_id)
        return Change(
            id=row.id,
            service=row.service,
            version=row.version,
            category=row.category,
            status=ChangeStatus(row.status),
            what=row.what,
            why=row.why,
            rollback=row.rollback,
            tests=row.tests,
            requester=row.requester,
            requester_role=row.requester_role,
            created_at=row.created_at,
            retrospective_due_at=row.retrospective_due_at,
            deployed_at=row.deployed_at,
            approvals=tuple(
                ChangeApproval(
                    stage=ApprovalStage(a.stage),
                    approver=a.approver,
                    role=a.role,
                    at=a.at,
                    comment=a.comment,
                    approved=a.approved,
                )
                for a in approvals
            ),
        )
