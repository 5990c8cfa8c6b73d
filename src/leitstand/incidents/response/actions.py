"""Action items (Maßnahmen): owner, due date, status; overdue items alert through the timers."""

from __future__ import annotations

from datetime import date

from leitstand.auth.model import Actor
from leitstand.errors import ConflictError, Issue, NotFoundError, ValidationError
from leitstand.incidents import store
from leitstand.incidents.model import ActionItem, ActionStatus
from leitstand.incidents.parts import IncidentFacade
from leitstand.incidents.schemas import ActionOut
from leitstand.incidents.store import ActionItemRow

__all__ = ["ActionItems", "action_out"]


def action_out(row: ActionItemRow, today: date) -> ActionOut:
    """The read model of an action item (overdue as of ``today``)."""
    item = ActionItem(row.number, row.title, row.owner, row.due_date, ActionStatus(row.status))
    return ActionOut(
        number=row.number,
        title=row.title,
        owner=row.owner,
        due_date=row.due_date,
        status=row.status,
        overdue=item.overdue(today),
        created_at=row.created_at,
        created_by=row.created_by,
        done_at=row.done_at,
    )


class ActionItems:
    """Add, change and list the action items of an incident."""

    def __init__(self, incidents: IncidentFacade) -> None:
        self.incidents = incidents

    def _today(self) -> date:
        return self.incidents.clocks.calendar.local(self.incidents.clock.now()).date()

    def add(
        self, incident_id: str, *, title: str, owner: str, due_date: date, actor: Actor
    ) -> ActionOut:
        """Add an action item; its due date is tracked and alerts when passed."""
        if not title.strip() or not owner.strip():
            field = "title" if not title.strip() else "owner"
            raise ValidationError([Issue(field, "must not be empty")])
        with self.incidents.changing(incident_id) as (session, incident):
            number = store.response.next_action_number(session, incident_id)
            now = self.incidents.clock.now()
            row = ActionItemRow(
                incident_id=incident_id,
                number=number,
                title=title.strip(),
                owner=owner.strip(),
                due_date=due_date,
                status=ActionStatus.OPEN.value,
                created_at=now,
                created_by=actor.name,
            )
            session.add(row)
            session.flush()
            self.incidents.ledger.record(
                session,
                actor,
                "incident.action_added",
                f"incident:{incident_id}",
                payload={
                    "number": number,
                    "title": row.title,
                    "owner": row.owner,
                    "due_date": due_date.isoformat(),
                    "label_de": f"Maßnahme {number}: {row.title} ({row.owner}, bis {due_date})",
                    "label_en": f"Action item {number}: {row.title} ({row.owner}, by {due_date})",
                },
            )
            self.incidents.after_change(session, incident, why="action")
            return action_out(row, self._today())

    def change(
        self,
        incident_id: str,
        number: int,
        *,
        actor: Actor,
        status: str | None = None,
        owner: str | None = None,
        due_date: date | None = None,
    ) -> ActionOut:
        """Change an item's status, owner or due date."""
        if status is not None and status not in {s.value for s in ActionStatus}:
            known = ", ".join(s.value for s in ActionStatus)
            raise ValidationError([Issue("status", f"one of {known} (got {status!r})")])
        with self.incidents.changing(incident_id) as (session, incident):
            row = store.response.action(session, incident_id, number)
            if row is None:
                raise NotFoundError(f"incident {incident_id} has no action item {number}")
            if row.status in (ActionStatus.DONE.value, ActionStatus.CANCELLED.value) and (
                status is None or status == row.status
            ):
                raise ConflictError(f"action item {number} is already {row.status}")
            before = {"status": row.status, "owner": row.owner, "due_date": row.due_date}
            now = self.incidents.clock.now()
            if status is not None:
                row.status = status
                row.done_at = now if status == ActionStatus.DONE.value else None
            row.owner = owner.strip() if owner else row.owner
            row.due_date = due_date or row.due_date
            after = {"status": row.status, "owner": row.owner, "due_date": row.due_date}
            self.incidents.ledger.record(
                session,
                actor,
                "incident.action_changed",
                f"incident:{incident_id}",
                payload={
                    "number": number,
                    "before": {k: str(v) for k, v in before.items()},
                    "after": {k: str(v) for k, v in after.items()},
                    "label_de": f"Maßnahme {number}: {row.status}",
                    "label_en": f"Action item {number}: {row.status}",
                },
            )
            self.incidents.after_change(session, incident, why="action")
            return action_out(row, self._today())

    def list(self, incident_id: str) -> list[ActionOut]:
        with self.incidents.db.reader() as session:
            self.incidents.load_row(session, incident_id)
            rows = store.response.actions(session, incident_id)
            today = self._today()
            return [action_out(r, today) for r in rows]
