"""Read models: alerts with their escalation and notification attempts."""

from __future__ import annotations

import json

from leitstand.alerting import store
from leitstand.alerting.schemas import (
    AlertOut,
    AttemptOut,
    ChainStepOut,
    EscalationOut,
    NotificationOut,
)
from leitstand.alerting.store import AlertRow, EscalationRow, NotificationRow
from leitstand.db import Database, Session
from leitstand.errors import NotFoundError

__all__ = ["AlertQueries", "alert_out"]


def alert_out(row: AlertRow, escalation: EscalationRow | None = None) -> AlertOut:
    """An alert as the API and CLI show it."""
    return AlertOut(
        id=row.id,
        fingerprint=row.fingerprint,
        name=row.name,
        severity=row.severity,
        level=row.level,
        status=row.status,
        summary=row.summary,
        labels=json.loads(row.labels),
        service=row.service,
        tenant=row.tenant,
        source=row.source,
        starts_at=row.starts_at,
        received_at=row.received_at,
        last_seen_at=row.last_seen_at,
        occurrences=row.occurrences,
        acknowledged_at=row.acknowledged_at,
        acknowledged_by=row.acknowledged_by,
        resolved_at=row.resolved_at,
        escalation=None if escalation is None else _escalation_out(escalation),
    )


def _escalation_out(row: EscalationRow) -> EscalationOut:
    return EscalationOut(
        id=row.id,
        state=row.state,
        level=row.level,
        oncall=row.oncall,
        started_at=row.started_at,
        next_at=row.next_at,
        escalated_at=row.escalated_at,
        incident_id=row.incident_id,
        chain=[ChainStepOut.model_validate(step) for step in json.loads(row.chain)],
    )


class AlertQueries:
    """List and show alerts."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def alert_list(
        self, *, status: str | None = "firing", tenant: str | None = None, limit: int = 200
    ) -> list[AlertOut]:
        """Alerts, newest first, each with its escalation."""
        with self.db.reader() as session:
            rows = store.alerts_with_escalation(session, status=status, tenant=tenant, limit=limit)
            return [alert_out(a, e) for a, e in rows]

    def alert(self, alert_id: int) -> AlertOut:
        """One alert with its escalation, notifications and every delivery attempt."""
        with self.db.reader() as session:
            row = store.alert(session, alert_id)
            if row is None:
                raise NotFoundError(f"alert {alert_id} not found")
            found = alert_out(row, store.escalation_of(session, alert_id))
            found.notifications = [
                self._notification(session, n) for n in store.notifications_of(session, alert_id)
            ]
            return found

    def notification_list(self, *, limit: int = 200) -> list[NotificationOut]:
        """The latest notifications of every kind, newest first."""
        with self.db.reader() as session:
            rows = store.latest_notifications(session, limit=limit)
            return [self._notification(session, n) for n in rows]

    @staticmethod
    def _notification(session: Session, row: NotificationRow) -> NotificationOut:
        return NotificationOut(
            id=row.id,
            alert_id=row.alert_id,
            purpose=row.purpose,
            level=row.level,
            channel=row.channel,
            roles=json.loads(row.roles),
            recipients=[r["person"] for r in json.loads(row.recipients)],
            subject=row.subject,
            status=row.status,
            attempts=[
                AttemptOut(
                    attempt=a.attempt,
                    at=a.at,
                    outcome=a.outcome,
                    error=a.error,
                    duration_ms=round(a.duration_ms, 1),
                )
                for a in store.attempts_of(session, row.id)
            ],
            last_error=row.last_error,
            sent_at=row.sent_at,
        )
