"""How the backup domain raises alerts and informs people, behind one small protocol.

``AlertingSink`` hands everything to the alerting domain (escalation levels, notifications,
the incident log). ``LedgerSink`` is the fallback when no alerting service is wired: it records
the alert and the notification request as evidence, so nothing is silently dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from leitstand.auth.model import Actor
from leitstand.db import Session
from leitstand.ledger.service import Ledger

__all__ = ["SOURCE", "AlertSink", "AlertingSink", "BackupAlert", "LedgerSink"]

SOURCE = "backups"


@dataclass(frozen=True, slots=True)
class BackupAlert:
    """One backup alert: what it is called, how bad, for which labels and service."""

    name: str
    severity: str
    labels: Mapping[str, str] = field(default_factory=dict)
    service: str | None = None
    summary: str = ""

    @property
    def subject(self) -> str:
        """The ledger subject of the alert."""
        return f"alert:{self.name}"


class AlertSink(Protocol):
    """Raise and resolve alerts and notify roles, inside the caller's transaction."""

    def raise_alert(self, session: Session, alert: BackupAlert, *, actor: Actor) -> None: ...

    def resolve_alert(self, session: Session, alert: BackupAlert, *, actor: Actor) -> None: ...

    def notify(
        self, session: Session, *, roles: Sequence[str], subject: str, body: str, actor: Actor
    ) -> None: ...


class AlertingSink:
    """The alerting domain's service (``container.alerting``)."""

    def __init__(self, alerting: Any) -> None:
        self.alerting = alerting

    def raise_alert(self, session: Session, alert: BackupAlert, *, actor: Actor) -> None:
        self.alerting.raise_alert(
            session,
            name=alert.name,
            severity=alert.severity,
            summary=alert.summary,
            labels=dict(alert.labels),
            service=alert.service,
            source=SOURCE,
            actor=actor,
        )

    def resolve_alert(self, session: Session, alert: BackupAlert, *, actor: Actor) -> None:
        self.alerting.resolve_alert(
            session,
            name=alert.name,
            severity=alert.severity,
            labels=dict(alert.labels),
            service=alert.service,
            actor=actor,
        )

    def notify(
        self, session: Session, *, roles: Sequence[str], subject: str, body: str, actor: Actor
    ) -> None:
        self.alerting.notify(session, roles=list(roles), subject=subject, body=body, actor=actor)


class LedgerSink:
    """Fallback: alerts and notification requests become evidence entries."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def raise_alert(self, session: Session, alert: BackupAlert, *, actor: Actor) -> None:
        payload = {
            "name": alert.name,
            "severity": alert.severity,
            "summary": alert.summary,
            "labels": dict(alert.labels),
            "service": alert.service,
            "source": SOURCE,
        }
        self.ledger.record(session, actor, "backups.alert.raised", alert.subject, payload=payload)

    def resolve_alert(self, session: Session, alert: BackupAlert, *, actor: Actor) -> None:
        payload = {
            "name": alert.name,
            "severity": alert.severity,
            "labels": dict(alert.labels),
            "service": alert.service,
        }
        self.ledger.record(session, actor, "backups.alert.resolved", alert.subject, payload=payload)

    def notify(
        self, session: Session, *, roles: Sequence[str], subject: str, body: str, actor: Actor
    ) -> None:
        self.ledger.record(
            session,
            actor,
            "backups.notification.requested",
            f"roles:{','.join(roles)}",
            payload={"roles": list(roles), "subject": subject, "body": body},
        )
