"""Read models: alerts with their escalation and notification attempts."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from leitstand.alerting.store import AlertRow, AttemptRow, EscalationRow, NotificationRow
from leitstand.db import Database
from leitstand.errors import NotFoundError

__all__ = ["AlertQueries", "alert_dict"]


def alert_dict(row: AlertRow, escalation: EscalationRow | None = None) -> dict[str, Any]:
    """An alert as the API and CLI show it."""
    data: dict[str, Any] = {
        "id": row.id,
        "fingerprint": row.fingerprint,
        "name": row.name,
        "severity": row.severity,
        "level": row.level,
        "status": row.status,
        "summary": row.summary,
        "labels": json.loads(row.labels),
        "service": row.service,
        "tenant": row.tenant,
        "source": row.source,
        "starts_at": row.starts_at,
        "received_at": row.received_at,
        "last_seen_at": row.last_seen_at,
        "occurrences": row.occurrences,
        "acknowledged_at": row.acknowledged_at,
        "acknowledged_by": row.acknowledged_by,
        "resolved_at": row.resolved_at,
    }
    if escalation is not None:
        data["escalation"] = {
            "id": escalation.id,
            "state": escalation.state,
            "level": escalation.level,
            "oncall": escalation.oncall,
            "started_at": escalation.started_at.isoformat(),
            "next_at": escalation.next_at.isoformat() if escalation.next_at else None,
            "escalated_at": escalation.escalated_at.isoformat()
            if escalation.escalated_at
            else None,
            "incident_id": escalation.incident_id,
            "chain": json.loads(escalation.chain),
        }
    return data


class AlertQueries:
    """List and show alerts."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def alerts(
        self, *, status: str | None = "firing", tenant: str | None = None, limit: int = 200
    ) -> list[dict[str, Any]]:
        """Alerts, newest first, each with its escalation."""
        stmt = (
            sa.select(AlertRow, EscalationRow)
            .outerjoin(EscalationRow, EscalationRow.alert_id == AlertRow.id)
            .order_by(AlertRow.received_at.desc(), AlertRow.id.desc())
            .limit(limit)
        )
        if status is not None:
            stmt = stmt.where(AlertRow.status == status)
        if tenant is not None:
            stmt = stmt.where(AlertRow.tenant == tenant)
        with self.db.reader() as session:
            return [alert_dict(a, e) for a, e in session.execute(stmt).all()]

    def get(self, alert_id: int) -> dict[str, Any]:
        """One alert with its escalation, notifications and every delivery attempt."""
        with self.db.reader() as session:
            row = session.get(AlertRow, alert_id)
            if row is None:
                raise NotFoundError(f"alert {alert_id} not found")
            escalation = session.execute(
                sa.select(EscalationRow).where(EscalationRow.alert_id == alert_id)
            ).scalar_one_or_none()
            data = alert_dict(row, escalation)
            notes = session.execute(
                sa.select(NotificationRow)
                .where(NotificationRow.alert_id == alert_id)
                .order_by(NotificationRow.id)
            ).scalars()
            data["notifications"] = [self._notification(session, n) for n in notes]
            return data

    def notifications(self, *, limit: int = 200) -> list[dict[str, Any]]:
        """The latest notifications of every kind, newest first."""
        with self.db.reader() as session:
            rows = session.execute(
                sa.select(NotificationRow).order_by(NotificationRow.id.desc()).limit(limit)
            ).scalars()
            return [self._notification(session, n) for n in rows]

    @staticmethod
    def _notification(session: sa.orm.Session, row: NotificationRow) -> dict[str, Any]:
        attempts = session.execute(
            sa.select(AttemptRow)
            .where(AttemptRow.notification_id == row.id)
            .order_by(AttemptRow.attempt)
        ).scalars()
        return {
            "id": row.id,
            "alert_id": row.alert_id,
            "purpose": row.purpose,
            "level": row.level,
            "channel": row.channel,
            "roles": json.loads(row.roles),
            "recipients": [r["person"] for r in json.loads(row.recipients)],
            "subject": row.subject,
            "status": row.status,
            "attempts": [
                {
                    "attempt": a.attempt,
                    "at": a.at.isoformat(),
                    "outcome": a.outcome,
                    "error": a.error,
                    "duration_ms": round(a.duration_ms, 1),
                }
                for a in attempts
            ],
            "last_error": row.last_error,
            "sent_at": row.sent_at.isoformat() if row.sent_at else None,
        }
