"""Open and close backup alerts once per condition, so a re-check never raises twice."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from leitstand.auth.model import Actor
from leitstand.backups import store
from leitstand.backups.alerts import AlertSink, BackupAlert
from leitstand.backups.store import BackupStateRow, dump
from leitstand.db import Session

__all__ = ["AlertBook"]


class AlertBook:
    """Remembers which backup alerts are open (a state row per alert) and talks to the sink."""

    def __init__(self, sink: AlertSink) -> None:
        self.sink = sink

    @staticmethod
    def _key(name: str, labels: Mapping[str, str]) -> str:
        return "alert:" + name + ":" + ",".join(f"{k}={v}" for k, v in sorted(labels.items()))

    def is_open(self, session: Session, name: str, labels: Mapping[str, str]) -> bool:
        row = store.state(session, self._key(name, labels))
        return row is not None and row.status == "open"

    def open(
        self,
        session: Session,
        *,
        name: str,
        severity: str,
        summary: str,
        labels: Mapping[str, str],
        service: str | None,
        actor: Actor,
        now: datetime,
        again: bool = False,
    ) -> bool:
        """Raise the alert unless it is already open (``again`` raises it anyway)."""
        key = self._key(name, labels)
        row = store.state(session, key)
        if row is not None and row.status == "open" and not again:
            return False
        alert = BackupAlert(name, severity, labels, service, summary)
        self.sink.raise_alert(session, alert, actor=actor)
        detail = dump({"severity": severity, "summary": summary, "labels": dict(labels)})
        if row is None:
            store.add_state(
                session,
                BackupStateRow(
                    key=key,
                    system=service or "",
                    kind="alert",
                    status="open",
                    since=now,
                    measured_at=now,
                    detail=detail,
                ),
            )
        else:
            row.status, row.since, row.measured_at, row.detail = "open", now, now, detail
        session.flush()
        return True

    def close(
        self,
        session: Session,
        *,
        name: str,
        severity: str,
        labels: Mapping[str, str],
        service: str | None,
        actor: Actor,
        now: datetime,
    ) -> bool:
        """Resolve the alert if it is open."""
        row = store.state(session, self._key(name, labels))
        if row is None or row.status != "open":
            return False
        self.sink.resolve_alert(session, BackupAlert(name, severity, labels, service), actor=actor)
        row.status, row.since, row.measured_at = "resolved", now, now
        session.flush()
        return True
