"""The evidence of one alert: every ``alert.*`` ledger entry has the same subject and head."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from leitstand.alerting.store import AlertRow
from leitstand.db import Session
from leitstand.identity import Actor
from leitstand.ledger.service import Ledger

__all__ = ["record_alert"]


def record_alert(
    ledger: Ledger,
    session: Session,
    actor: Actor,
    action: str,
    alert: AlertRow,
    payload: Mapping[str, Any],
) -> None:
    """Record ``action`` on ``alert`` (subject ``alert:<id>``, the alert's tenant); the payload
    starts with the alert's id and fingerprint, then ``payload`` in its order."""
    ledger.record(
        session,
        actor,
        action,
        f"alert:{alert.id}",
        tenant=alert.tenant,
        payload={"alert_id": alert.id, "fingerprint": alert.fingerprint, **payload},
    )
