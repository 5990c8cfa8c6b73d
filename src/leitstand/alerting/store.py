"""Alert, escalation and notification tables."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from leitstand.db import Base, UTCDateTime

__all__ = ["AlertRow", "AttemptRow", "EscalationRow", "NotificationRow"]


class AlertRow(Base):
    """One alert episode: from the first firing receipt until it resolves."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(sa.String(64), index=True)
    # The fingerprint while firing, NULL once resolved: one open episode per fingerprint,
    # enforced by the database even when two requests race.
    open_key: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    severity: Mapped[str] = mapped_column(sa.String(32))
    level: Mapped[int] = mapped_column(sa.Integer)
    status: Mapped[str] = mapped_column(sa.String(16), index=True)
    summary: Mapped[str] = mapped_column(sa.Text, default="")
    labels: Mapped[str] = mapped_column(sa.Text, default="{}")
    annotations: Mapped[str] = mapped_column(sa.Text, default="{}")
    service: Mapped[str | None] = mapped_column(sa.String(100))
    tenant: Mapped[str | None] = mapped_column(sa.String(100), index=True)
    source: Mapped[str] = mapped_column(sa.String(32))
    generator_url: Mapped[str | None] = mapped_column(sa.Text)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    occurrences: Mapped[int] = mapped_column(sa.Integer, default=1)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deduplicated: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(sa.String(200))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # SHA-256 of Alertmanager's groupKey (alerting_0002): one incident per alert group.
    group_key: Mapped[str | None] = mapped_column(sa.String(64), index=True)


class EscalationRow(Base):
    """The escalation of one alert with its chain snapshotted when it started."""

    __tablename__ = "alert_escalations"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(
        sa.ForeignKey("alerts.id", ondelete="CASCADE"), unique=True
    )
    state: Mapped[str] = mapped_column(sa.String(16), index=True)
    level: Mapped[int] = mapped_column(sa.Integer)
    chain: Mapped[str] = mapped_column(sa.Text)
    oncall: Mapped[str | None] = mapped_column(sa.String(100))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(sa.String(200))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    incident_id: Mapped[str | None] = mapped_column(sa.String(32), index=True)


class NotificationRow(Base):
    """One message to one channel; sent by a durable timer, retried with backoff."""

    __tablename__ = "alert_notifications"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    alert_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("alerts.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[str] = mapped_column(sa.String(32))
    level: Mapped[int | None] = mapped_column(sa.Integer)
    channel: Mapped[str] = mapped_column(sa.String(64))
    roles: Mapped[str] = mapped_column(sa.Text, default="[]")
    recipients: Mapped[str] = mapped_column(sa.Text, default="[]")
    subject: Mapped[str] = mapped_column(sa.Text)
    body: Mapped[str] = mapped_column(sa.Text)
    tenant: Mapped[str | None] = mapped_column(sa.String(100))
    status: Mapped[str] = mapped_column(sa.String(16), index=True)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AttemptRow(Base):
    """Every delivery attempt of a notification, successful or not."""

    __tablename__ = "alert_notification_attempts"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    notification_id: Mapped[int] = mapped_column(
        sa.ForeignKey("alert_notifications.id", ondelete="CASCADE"), index=True
    )
    attempt: Mapped[int] = mapped_column(sa.Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(sa.String(16))
    error: Mapped[str | None] = mapped_column(sa.Text)
    duration_ms: Mapped[float] = mapped_column(sa.Float, default=0.0)


# -- reading (the read models of ``leitstand.alerting.queries``) -------------------------------


def alerts_with_escalation(
    session: Session, *, status: str | None, tenant: str | None, limit: int
) -> list[tuple[AlertRow, EscalationRow | None]]:
    """Alerts, newest first, each with its escalation (if it has one)."""
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
    return [(a, e) for a, e in session.execute(stmt).all()]


def alert(session: Session, alert_id: int) -> AlertRow | None:
    """One alert by id."""
    return session.get(AlertRow, alert_id)


def escalation_of(session: Session, alert_id: int) -> EscalationRow | None:
    """The escalation of an alert, if it has one."""
    return session.execute(
        sa.select(EscalationRow).where(EscalationRow.alert_id == alert_id)
    ).scalar_one_or_none()


def notifications_of(session: Session, alert_id: int) -> list[NotificationRow]:
    """The notifications of one alert, oldest first."""
    return list(
        session.execute(
            sa.select(NotificationRow)
            .where(NotificationRow.alert_id == alert_id)
            .order_by(NotificationRow.id)
        ).scalars()
    )


def latest_notifications(session: Session, *, limit: int) -> list[NotificationRow]:
    """The latest notifications of every kind, newest first."""
    return list(
        session.execute(
            sa.select(NotificationRow).order_by(NotificationRow.id.desc()).limit(limit)
        ).scalars()
    )


def attempts_of(session: Session, notification_id: int) -> list[AttemptRow]:
    """Every delivery attempt of a notification, in order."""
    return list(
        session.execute(
            sa.select(AttemptRow)
            .where(AttemptRow.notification_id == notification_id)
            .order_by(AttemptRow.attempt)
        ).scalars()
    )


# -- alerts and escalations --------------------------------------------------------------------


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def open_alert(session: Session, fingerprint: str) -> AlertRow | None:
    """The open (firing) episode of a fingerprint."""
    return session.execute(
        sa.select(AlertRow).where(AlertRow.open_key == fingerprint)
    ).scalar_one_or_none()


def open_alerts_for_update(session: Session, fingerprints: Sequence[str]) -> list[AlertRow]:
    """The open episodes of these fingerprints, locked in one fixed order on PostgreSQL."""
    stmt = sa.select(AlertRow).where(AlertRow.open_key.in_(sorted(fingerprints)))
    if _postgres(session):
        # Lock the open rows in one fixed order: racing deliveries cannot deadlock.
        stmt = stmt.order_by(AlertRow.open_key).with_for_update()
    return list(session.execute(stmt).scalars())


def last_notified(session: Session, fingerprints: Sequence[str]) -> dict[str, datetime | None]:
    """The last notification time of each fingerprint (for deduplication)."""
    rows = session.execute(
        sa.select(AlertRow.fingerprint, sa.func.max(AlertRow.notified_at))
        .where(AlertRow.fingerprint.in_(sorted(fingerprints)))
        .group_by(AlertRow.fingerprint)
    ).all()
    return {row[0]: row[1] for row in rows}


def insert_alerts(session: Session, rows: Sequence[AlertRow]) -> bool:
    """Insert new alert rows in one flush; False when a concurrent insert won a race."""
    if not _postgres(session):
        # SQLite holds the write lock for the whole transaction: no race there.
        session.add_all(rows)
        session.flush()
        return True
    try:
        with session.begin_nested():
            session.add_all(rows)
            session.flush()
    except IntegrityError:
        return False
    return True


def alerts_by_id(session: Session, ids: Collection[int]) -> dict[int, AlertRow]:
    """Alerts by id."""
    if not ids:
        return {}
    stmt = sa.select(AlertRow).where(AlertRow.id.in_(sorted(ids)))
    return {row.id: row for row in session.execute(stmt).scalars()}


def insert_escalations(session: Session, rows: Sequence[EscalationRow]) -> None:
    """Insert escalation rows in one flush (their ids are set afterwards)."""
    session.add_all(rows)
    session.flush()


def escalations_for_update(session: Session, ids: Collection[int]) -> dict[int, EscalationRow]:
    """Escalations by id, locked on PostgreSQL (in id order)."""
    stmt = (
        sa.select(EscalationRow).where(EscalationRow.id.in_(sorted(ids))).order_by(EscalationRow.id)
    )
    if _postgres(session):
        stmt = stmt.with_for_update()
    return {row.id: row for row in session.execute(stmt).scalars()}


def group_incidents(session: Session, keys: Collection[str]) -> list[tuple[str, str]]:
    """(group key, incident id) of the escalations of these alert groups, newest first."""
    rows = session.execute(
        sa.select(AlertRow.group_key, EscalationRow.incident_id)
        .join(EscalationRow, EscalationRow.alert_id == AlertRow.id)
        .where(AlertRow.group_key.in_(sorted(keys)), EscalationRow.incident_id.is_not(None))
        .order_by(EscalationRow.id.desc())
    ).all()
    return [(key, incident) for key, incident in rows if key is not None and incident is not None]


# -- notifications -------------------------------------------------------------------------------

_NOTIFICATIONS = cast(sa.Table, NotificationRow.__table__)


def insert_notifications(
    session: Session, rows: Sequence[Mapping[str, Any]], *, ids: bool = False
) -> list[int]:
    """Insert notification rows with one statement; their ids (in order) when ``ids``."""
    if not rows:
        return []
    values = [dict(r) for r in rows]
    if not ids:
        session.execute(sa.insert(_NOTIFICATIONS), values)
        return []
    return list(
        session.execute(
            sa.insert(_NOTIFICATIONS).returning(_NOTIFICATIONS.c.id, sort_by_parameter_order=True),
            values,
        ).scalars()
    )


def notification(
    session: Session, notification_id: int, *, lock: bool = False
) -> NotificationRow | None:
    """One notification (locked on PostgreSQL when ``lock``)."""
    if not lock:
        return session.get(NotificationRow, notification_id)
    stmt = sa.select(NotificationRow).where(NotificationRow.id == notification_id)
    if _postgres(session):
        stmt = stmt.with_for_update()
    return session.execute(stmt).scalar_one_or_none()


def add_attempt(session: Session, row: AttemptRow) -> None:
    """Record a delivery attempt."""
    session.add(row)
