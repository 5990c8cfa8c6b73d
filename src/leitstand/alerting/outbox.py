"""Queue notifications per channel and deliver them from durable timers, with retries.

Each channel gets its own row and its own timer, so a failing or slow channel never holds back
another. Every attempt is a row and a ledger entry; a failure schedules the next attempt with
exponential backoff until the policy's number of attempts is used up.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from leitstand.alerting import store
from leitstand.alerting.model import Recipient
from leitstand.alerting.notify import (
    Delivery,
    DeliveryError,
    Message,
    NotConfigured,
    apprise_url,
)
from leitstand.alerting.store import AttemptRow, NotificationRow
from leitstand.clock import Clock
from leitstand.db import Session
from leitstand.identity import Actor
from leitstand.ledger.service import Ledger
from leitstand.policy.model import Policy
from leitstand.scheduler.service import LeaseContext, Scheduler, Timer

__all__ = ["DELIVER", "Notice", "Outbox"]

DELIVER = "alerting.deliver"
_DELIVERY_ACTOR = Actor(name="leitstand:notifications", role="system")


@dataclass(frozen=True, slots=True)
class Notice:
    """One message to queue on each of its channels."""

    alert_id: int | None
    purpose: str
    level: int | None
    channels: tuple[str, ...]
    roles: tuple[str, ...]
    recipients: tuple[Recipient, ...]
    subject: str
    body: str
    tenant: str | None


class Outbox:
    """Notifications to channels: enqueue in the caller's transaction, deliver from timers."""

    def __init__(
        self,
        *,
        ledger: Ledger,
        clock: Clock,
        scheduler: Scheduler,
        policy: Policy,
        delivery: Delivery,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.ledger = ledger
        self.clock = clock
        self.scheduler = scheduler
        self.policy = policy
        self.delivery = delivery
        self._environ = environ

    @property
    def environ(self) -> Mapping[str, str]:
        return self._environ if self._environ is not None else os.environ

    def enqueue_many(self, session: Session, notices: Sequence[Notice]) -> list[dict[str, str]]:
        """Queue many messages with one insert per kind of row; states in ``notices`` order.

        Core inserts rather than ORM objects: a delivery of 50 alerts queues hundreds of rows.
        Only the rows to deliver need their ids back (for their delivery timers).
        """
        now = self.clock.now()
        settings = self.policy.alerting.notifications.channels
        pending: list[dict[str, Any]] = []
        skipped: list[dict[str, Any]] = []
        states: list[dict[str, str]] = [{} for _ in notices]
        for n, notice in enumerate(notices):
            emails = sorted({r.email for r in notice.recipients if r.email})
            common = {
                "alert_id": notice.alert_id,
                "purpose": notice.purpose,
                "level": notice.level,
                "roles": json.dumps(list(notice.roles)),
                "recipients": json.dumps(
                    [{"person": r.person, "email": r.email} for r in notice.recipients]
                ),
                "subject": notice.subject,
                "body": notice.body,
                "tenant": notice.tenant,
                "attempts": 0,
                "created_at": now,
            }
            for channel in dict.fromkeys(notice.channels):
                reason: str | None = None
                config = settings.get(channel)
                if config is None:
                    reason = f"channel {channel!r} is not configured in alerting.notifications"
                else:
                    try:
                        apprise_url(
                            config, Message(notice.subject, notice.body, emails), self.environ
                        )
                    except NotConfigured as exc:
                        reason = str(exc)
                row = {**common, "channel": channel, "last_error": reason}
                if reason is None:
                    pending.append({**row, "status": "pending"})
                    states[n][channel] = "queued"
                else:
                    skipped.append({**row, "status": "skipped"})
                    states[n][channel] = f"skipped: {reason}"
        if skipped:
            store.insert_notifications(session, skipped)
        if pending:
            ids = store.insert_notifications(session, pending, ids=True)
            self.scheduler.schedule_many(session, [self._timer(i, 1, now) for i in ids])
        return states

    def handle(self, ctx: LeaseContext) -> None:
        """Long-duty handler: one delivery attempt, sent outside any transaction.

        The timer key carries the attempt number, so a re-run after a crash (lease expired) of an
        attempt that was already recorded does nothing; a crash between sending and recording
        sends once more (at-least-once, the usual promise of a pager).
        """
        notification_id = int(ctx.payload["notification_id"])
        attempt = int(ctx.payload.get("attempt", 1))
        with ctx.db.reader() as session:
            row = store.notification(session, notification_id)
            if row is None or row.status != "pending" or row.attempts != attempt - 1:
                return
            channel, subject, body = row.channel, row.subject, row.body
            emails = self._emails(row)
        config = self.policy.alerting.notifications.channels.get(channel)
        started = time.monotonic()
        outcome, error = "sent", None
        if config is None:
            outcome, error = "skipped", f"channel {channel!r} is no longer configured"
        else:
            timeout = self.policy.alerting.notifications.timeout.total_seconds()
            try:
                self.delivery.send(config, Message(subject, body, emails), timeout_s=timeout)
            except NotConfigured as exc:
                outcome, error = "skipped", str(exc)
            except DeliveryError as exc:
                outcome, error = "failed", str(exc) or "delivery failed"
            except Exception as exc:  # an extension point: any failure is a failed attempt
                outcome, error = "failed", f"{type(exc).__name__}: {exc}"[:1000]
        duration_ms = (time.monotonic() - started) * 1000
        with ctx.db.transaction() as session:
            row = store.notification(session, notification_id, lock=True)
            if row is None or row.status != "pending" or row.attempts != attempt - 1:
                return
            self._record(session, row, attempt, outcome, error, duration_ms)

    def _record(
        self,
        session: Session,
        row: NotificationRow,
        attempt: int,
        outcome: str,
        error: str | None,
        duration_ms: float,
    ) -> None:
        now = self.clock.now()
        store.add_attempt(
            session,
            AttemptRow(
                notification_id=row.id,
                attempt=attempt,
                at=now,
                outcome=outcome,
                error=error,
                duration_ms=duration_ms,
            ),
        )
        row.attempts = attempt
        row.last_error = error
        payload: dict[str, Any] = {
            "notification_id": row.id,
            "alert_id": row.alert_id,
            "purpose": row.purpose,
            "channel": row.channel,
            "attempt": attempt,
            "outcome": outcome,
            "error": error,
            "recipients": [r["person"] for r in json.loads(row.recipients)],
        }
        self.ledger.record(
            session,
            _DELIVERY_ACTOR,
            "notification.attempted",
            f"notification:{row.id}",
            tenant=row.tenant,
            payload=payload,
        )
        if outcome == "sent":
            row.status, row.sent_at = "sent", now
        elif outcome == "skipped":
            row.status = "skipped"
        elif attempt < self.policy.alerting.notifications.attempts:
            self._schedule(session, row.id, attempt + 1, now + self._backoff(attempt))
        else:
            row.status = "failed"
            self.ledger.record(
                session,
                _DELIVERY_ACTOR,
                "notification.failed",
                f"notification:{row.id}",
                tenant=row.tenant,
                payload={**payload, "attempts": attempt},
            )

    def _schedule(
        self, session: Session, notification_id: int, attempt: int, due: datetime
    ) -> None:
        self.scheduler.schedule_many(session, [self._timer(notification_id, attempt, due)])

    @staticmethod
    def _timer(notification_id: int, attempt: int, due: datetime) -> Timer:
        return Timer(
            kind=DELIVER,
            key=f"{DELIVER}:{notification_id}:{attempt}",
            due_at=due,
            payload={"notification_id": notification_id, "attempt": attempt},
        )

    def _backoff(self, attempt: int) -> timedelta:
        settings = self.policy.alerting.notifications
        delay: timedelta = settings.retry_backoff * (2 ** (attempt - 1))
        return min(delay, settings.retry_backoff_max)

    @staticmethod
    def _emails(row: NotificationRow) -> list[str]:
        # The addresses snapshotted with the chain, not today's policy.
        return sorted({r["email"] for r in json.loads(row.recipients) if r.get("email")})
