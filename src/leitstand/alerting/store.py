"""Alert, escalation and notification tables."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

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
