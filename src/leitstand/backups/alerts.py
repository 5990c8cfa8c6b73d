"""How the backup domain raises alerts and informs people, behind one small protocol.

``AlertingSink`` hands everything to the alerting domain (escalation levels, notifications,
the incident log). ``LedgerSink`` is the fallback when no alerting service is wired: it records
the alert and the notification request as evidence, so nothing is silently dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from leitstand.auth.model import Actor
from leitstand.db import Session
from leitstand.ledger.service import Ledger

__all__ = ["SOURCE", "AlertSink", "AlertingSink", "LedgerSink"]

SOURCE = "backups"


class AlertSink(Protocol):
    """Raise and resolve alerts and notify roles, inside the caller's transaction."""

    def raise_alert(
        self,
        session: Session,
        *,
        name: str,
        severity: str,
        summary: str,
        labels: Mapping[str, str],
        service: str | None,
        actor: Actor,
    ) -> None: ...

    def resolve_alert(
        self,
        session: Session,
        *,
        name: str,
        severity: str,
        labels: Mapping[str, str],
        service: str | None,
        actor: Actor,
    ) -> None: ...

    def notify(
        self, session: Session, *, roles: Sequence[str], subject: str, body: str, actor: Actor
    ) -> None: ...


class AlertingSink:
    """The alerting domain's service (``container.alerting``)."""

    def __init__(self, alerting: Any) -> None:
        self.alerting = alerting

    def raise_alert(
        self,
        session: Session,
        *,
        name: str,
        severity: str,
        summary: str,
        labels: Mapping[str, str],
        service: str | None,
        actor: Actor,
    ) -> None:
        self.alerting.raise_alert(
            session,
            name=name,
            severity=severity,
            summary=summary,
            labels=dict(labels),
            service=service,
            source=SOURCE,
            actor=actor,
        )

    def resolve_alert(
        self,
        session: Session,
        *,
        name: str,
        severity: str,
        labels: Mapping[str, str],
        service: str | None,
        actor: Actor,
    ) -> None:
        self.alerting.resolve_alert(
            session, name=name, severity=severity, labels=dict(labels), service=service, actor=actor
        )

    def notify(
        self, session: Session, *, roles: Sequence[str], subject: str, body: str, actor: Actor
    ) -> None:
        self.alerting.notify(session, roles=list(roles), subject=subject, body=body, actor=actor)


class LedgerSink:
    """Fallback: alerts and notification requests become evidence entries."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def raise_alert(
        self,
        session: Session,
        *,
        name: str,
        severity: str,
        summary: str,
        labels: Mapping[str, str],
        service: str | None,
        actor: Actor,
    ) -> None:
        self.ledger.record(
            session,
            actor,
            "backups.alert.raised",
            f"alert:{name}",
            payload={
                "name": name,
                "severity": severity,
                "summary": summary,
                "labels": dict(labels),
                "service": service,
                "source": SOURCE,
            },
        )

    def resolve_alert(
        self,
        session: Session,
        *,
        name: str,
        severity: str,
        labels: Mapping[str, str],
        service: str | None,
        actor: Actor,
    ) -> None:
        self.ledger.record(
            session,
            actor,
            "backups.alert.resolved",
            f"alert:{name}",
            payload={
                "name": name,
                "severity": severity,
                "labels": dict(labels),
                "service": service,
            },
        )

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
