"""Alerts: one mechanism, two entry points (Alertmanager's webhook and other domains' calls).

Every alert goes through ``_fire``/``_resolve``: store, deduplicate by fingerprint, record in the
ledger, start or stop its escalation. ``raise_alert``/``resolve_alert``/``notify`` run in the
caller's transaction, so a backup failure and its alert commit together.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from leitstand.alerting import store
from leitstand.alerting.escalation import Escalator
from leitstand.alerting.evidence import record_alert
from leitstand.alerting.facts import AlertFacts, AlertRef, IntakeResult, group_id
from leitstand.alerting.incident_port import IncidentResponse
from leitstand.alerting.model import (
    AlertStatus,
    ChainStep,
    EscalationState,
    RoleMessage,
    build_chain,
    level_key_for,
    notification_due,
    recipients_for,
)
from leitstand.alerting.model import (
    fingerprint as make_fingerprint,
)
from leitstand.alerting.oncall import Shift, current_shift
from leitstand.alerting.outbox import Notice, Outbox
from leitstand.alerting.queries import AlertQueries
from leitstand.alerting.rule_notices import rule_notices
from leitstand.alerting.schemas import AmWebhook
from leitstand.alerting.store import AlertRow, EscalationRow
from leitstand.clock import Clock
from leitstand.db import Database, IntegrityError, Session
from leitstand.errors import ConflictError, Issue, NotFoundError, StoreError, ValidationError
from leitstand.identity import Actor
from leitstand.ledger.service import Ledger
from leitstand.policy.base import Role
from leitstand.policy.model import Policy

__all__ = ["AlertFacts", "AlertRef", "AlertingService", "IntakeResult", "group_id"]

_RULES_ACTOR = Actor(name="leitstand:escalation", role="system")


@dataclass(kw_only=True, eq=False, repr=False)
class AlertingService:
    """Receive, raise, resolve, acknowledge and list alerts; send role notifications."""

    db: Database
    ledger: Ledger
    clock: Clock
    policy: Policy
    escalator: Escalator
    outbox: Outbox
    queries: AlertQueries = field(init=False)

    def __post_init__(self) -> None:
        self.queries = AlertQueries(self.db)

    def connect_incidents(self, incidents: IncidentResponse) -> None:
        """Hand escalations that reach an incident level to ``incidents`` (the incident
        domain's wiring calls this with its service)."""
        self.escalator.connect(incidents)

    # -- entry point 1: Alertmanager -------------------------------------------------------

    def receive_alertmanager(self, payload: AmWebhook, *, actor: Actor) -> IntakeResult:
        """Store one webhook delivery in one transaction (all alerts or none).

        PostgreSQL may pick this transaction as a deadlock victim when deliveries race; it was
        rolled back whole, so it is simply run again (a few times).
        """
        for attempt in range(4):
            try:
                return self._receive(payload, actor=actor)
            except StoreError as exc:
                if "deadlock" not in exc.message or attempt == 3:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _receive(self, payload: AmWebhook, *, actor: Actor) -> IntakeResult:
        counts = {"new": 0, "duplicates": 0, "resolved": 0, "ignored": 0}
        ids: list[int] = []
        firing: list[AlertFacts] = []
        resolving: list[str] = []
        group = group_id(payload.group_key)
        for position, alert in enumerate(payload.alerts):
            labels = dict(alert.labels)
            name = labels.get("alertname", "")
            if alert.status != "firing":
                resolving.append(alert.fingerprint)
                continue
            if not name:
                raise ValidationError(
                    [Issue(f"alerts.{position}.labels.alertname", "required (missing)")]
                )
            firing.append(
                AlertFacts(
                    fingerprint=alert.fingerprint,
                    name=name,
                    severity=labels.get("severity", ""),
                    summary=alert.annotations.get("summary")
                    or alert.annotations.get("description", ""),
                    labels=labels,
                    annotations=dict(alert.annotations),
                    service=labels.get("service"),
                    tenant=labels.get("tenant"),
                    source="alertmanager",
                    starts_at=alert.starts_at
                    if alert.starts_at.tzinfo is not None
                    else alert.starts_at.replace(tzinfo=UTC),
                    generator_url=alert.generator_url or None,
                    group_key=group,
                )
            )
        with self.db.transaction() as session:
            # The ledger head first: racing deliveries then queue there instead of deadlocking
            # over alerts they both insert (each would hold one lock the other needs).
            self.ledger.hold_head(session)
            for ref in self._fire_many(session, firing, actor=actor):
                counts["new" if ref.created else "duplicates"] += 1
                ids.append(ref.id)
            # One fixed order (by fingerprint): concurrent deliveries lock the same rows in the
            # same order and cannot deadlock on PostgreSQL.
            for fingerprint in sorted(resolving):
                resolved = self._resolve(session, fingerprint, actor=actor)
                if resolved is None:
                    counts["ignored"] += 1
                else:
                    counts["resolved"] += 1
                    ids.append(resolved.id)
        return IntakeResult(received=len(payload.alerts), alerts=ids, **counts)

    # -- entry point 2: other domains, in their own transaction ----------------------------

    def raise_alert(
        self,
        session: Session,
        *,
        name: str,
        severity: str,
        summary: str,
        labels: Mapping[str, str] | None = None,
        service: str | None = None,
        tenant: str | None = None,
        source: str = "leitstand",
        actor: Actor,
    ) -> AlertRef:
        """Raise an alert in the caller's transaction; the same path as Alertmanager's alerts."""
        if not name.strip():
            raise ValidationError([Issue("name", "an alert name (got an empty string)")])
        full = {**dict(labels or {}), "alertname": name, "severity": severity}
        if service:
            full["service"] = service
        if tenant:
            full["tenant"] = tenant
        return self._fire(
            session,
            AlertFacts(
                fingerprint=make_fingerprint(name, full),
                name=name,
                severity=severity,
                summary=summary,
                labels=full,
                annotations={"summary": summary},
                service=service,
                tenant=tenant,
                source=source,
                starts_at=self.clock.now(),
            ),
            actor=actor,
        )

    def resolve_alert(
        self,
        session: Session,
        *,
        actor: Actor,
        fingerprint: str | None = None,
        name: str | None = None,
        severity: str | None = None,
        labels: Mapping[str, str] | None = None,
        service: str | None = None,
        tenant: str | None = None,
    ) -> AlertRef | None:
        """Resolve an open alert by fingerprint, or by the name and labels it was raised with."""
        if fingerprint is None:
            if not name or severity is None:
                raise ValidationError(
                    [Issue("fingerprint", "a fingerprint, or name and severity (got neither)")]
                )
            full = {**dict(labels or {}), "alertname": name, "severity": severity}
            if service:
                full["service"] = service
            if tenant:
                full["tenant"] = tenant
            fingerprint = make_fingerprint(name, full)
        return self._resolve(session, fingerprint, actor=actor)

    def notify(
        self,
        session: Session,
        *,
        roles: Sequence[Role | str],
        subject: str,
        body: str,
        channels: Sequence[str] | None = None,
        tenant: str | None = None,
        actor: Actor,
    ) -> dict[str, str]:
        """Send a plain message to everyone holding ``roles`` (e.g. the compliance officer)."""
        message = RoleMessage(
            roles=tuple(roles),
            subject=subject,
            body=body,
            channels=tuple(channels) if channels is not None else None,
            tenant=tenant,
        )
        return self.notify_many(session, [message], actor=actor)[0]

    def notify_many(
        self, session: Session, messages: Sequence[RoleMessage], *, actor: Actor
    ) -> list[dict[str, str]]:
        """``notify`` for many messages: one insert per kind of row; states in order."""
        shift = current_shift(self.policy.alerting.oncall, self.clock.now())
        oncall = shift.person if shift is not None else None
        lowest = min(self.policy.alerting.levels.values(), key=lambda lvl: lvl.level)
        notices: list[Notice] = []
        for message in messages:
            wanted = tuple(Role(r) for r in message.roles)
            recipients, _ = recipients_for(wanted, self.policy.alerting.people, oncall)
            channels = message.channels
            if channels is None:
                channels = tuple(c.value for c in lowest.channels)
            notices.append(
                Notice(
                    alert_id=None,
                    purpose="message",
                    level=None,
                    channels=channels,
                    roles=tuple(r.value for r in wanted),
                    recipients=tuple(recipients),
                    subject=message.subject,
                    body=message.body,
                    tenant=message.tenant,
                )
            )
        states = self.outbox.enqueue_many(session, notices)
        for notice, state in zip(notices, states, strict=True):
            self.ledger.record(
                session,
                actor,
                "notification.requested",
                f"roles:{','.join(notice.roles)}",
                tenant=notice.tenant,
                payload={
                    "subject": notice.subject,
                    "roles": list(notice.roles),
                    "recipients": sorted(r.person for r in notice.recipients),
                    "channels": state,
                },
            )
        return states

    # -- the one mechanism -----------------------------------------------------------------

    def _open(self, session: Session, fingerprint: str) -> AlertRow | None:
        return store.open_alert(session, fingerprint)

    def _fire(self, session: Session, facts: AlertFacts, *, actor: Actor) -> AlertRef:
        return self._fire_many(session, [facts], actor=actor)[0]

    def _fire_many(
        self, session: Session, batch: Sequence[AlertFacts], *, actor: Actor
    ) -> list[AlertRef]:
        """Store firing alerts set-wise: one query, one insert and one flush per table.

        An alert already open (same fingerprint) is a repeat: counted, not notified again. A
        new alert is deduplicated against the last notification of its fingerprint within the
        policy's window, gets its escalation, and a ledger entry. Refs come back in ``batch``
        order.
        """
        if not batch:
            return []
        now = self.clock.now()
        fingerprints = sorted({f.fingerprint for f in batch})
        open_rows: dict[str, AlertRow] = {
            row.fingerprint: row for row in store.open_alerts_for_update(session, fingerprints)
        }
        # Each position's row and whether this call created it; refs are made after the flush
        # (a repeat of an alert that is new in the same batch has no id before it).
        touched: list[tuple[AlertRow, bool]] = []
        new: list[tuple[AlertFacts, AlertRow, str, bool]] = []
        for facts in batch:
            existing = open_rows.get(facts.fingerprint)
            if existing is not None:
                self._repeat(existing, now)
                touched.append((existing, False))
                continue
            level_key, known = level_key_for(self.policy.alerting, facts.severity)
            row = self._new_row(facts, self.policy.alerting.levels[level_key].level, now)
            open_rows[facts.fingerprint] = row
            new.append((facts, row, level_key, known))
            touched.append((row, True))
        if new:
            # Deduplication against the last notification of each fingerprint, decided before
            # the insert so that the rows go in complete (no UPDATE after it).
            last_notified = store.last_notified(session, sorted({f.fingerprint for f, *_ in new}))
            for facts, row, _key, _known in new:
                due = notification_due(
                    last_notified.get(facts.fingerprint), now, self.policy.alerting.dedup_window
                )
                row.deduplicated = not due
                row.notified_at = now if due else None
        if new and not self._insert(session, [row for _, row, _, _ in new]):
            # Another delivery stored one of these alerts first (PostgreSQL, rare): alert by
            # alert, each in a savepoint, the loser of a race becomes a repeat.
            # Repeats of alerts that were already open stay counted as they are.
            created_here = {id(row) for _, row, _, _ in new}
            return [
                self._fire_one_raced(session, facts, actor=actor)
                if id(row) in created_here
                else AlertRef(row.id, row.fingerprint, row.level, row.status, False, False)
                for facts, (row, _created) in zip(batch, touched, strict=True)
            ]
        starts = [(row, level_key, not row.deduplicated) for _, row, level_key, _ in new]
        escalations = self.escalator.start_many(session, starts)
        for (facts, row, _key, known), (escalation, summary) in zip(new, escalations, strict=True):
            self._record_fired(session, facts, row, known, escalation, summary, actor=actor)
        self._fire_rules(session, [(f, r) for f, r, _, _ in new if not r.deduplicated])
        return [
            AlertRef(
                row.id,
                row.fingerprint,
                row.level,
                row.status,
                created,
                created and not row.deduplicated,
            )
            for row, created in touched
        ]

    def _fire_rules(self, session: Session, fired: Sequence[tuple[AlertFacts, AlertRow]]) -> None:
        """Tell whom the seed's escalation rules name about new critical alerts (rule_notices)."""
        found = [
            (row, notice)
            for facts, row in fired
            for notice in rule_notices(
                self.policy,
                alert_id=row.id,
                name=facts.name,
                severity=facts.severity,
                summary=facts.summary,
                labels=facts.labels,
                tenant=facts.tenant,
            )
        ]
        if not found:
            return
        states = self.notify_many(session, [n.message for _, n in found], actor=_RULES_ACTOR)
        for (row, notice), state in zip(found, states, strict=True):
            record_alert(
                self.ledger,
                session,
                _RULES_ACTOR,
                "alert.escalation_rule",
                row,
                {
                    "rule": notice.rule,
                    "roles": [str(r) for r in notice.message.roles],
                    "subject": notice.message.subject,
                    "notifications": state,
                },
            )

    @staticmethod
    def _new_row(facts: AlertFacts, level: int, now: datetime) -> AlertRow:
        return AlertRow(
            fingerprint=facts.fingerprint,
            open_key=facts.fingerprint,
            name=facts.name[:200],
            severity=facts.severity[:32],
            level=level,
            status=AlertStatus.FIRING.value,
            summary=facts.summary,
            labels=json.dumps(dict(facts.labels), sort_keys=True),
            annotations=json.dumps(dict(facts.annotations), sort_keys=True),
            service=facts.service,
            tenant=facts.tenant,
            source=facts.source,
            generator_url=facts.generator_url,
            starts_at=facts.starts_at,
            group_key=facts.group_key,
            received_at=now,
            last_seen_at=now,
            occurrences=1,
        )

    def _insert(self, session: Session, rows: list[AlertRow]) -> bool:
        """Insert new alert rows in one flush; False when a concurrent insert won a race."""
        return store.insert_alerts(session, rows)

    def _fire_one_raced(self, session: Session, facts: AlertFacts, *, actor: Actor) -> AlertRef:
        existing = self._open(session, facts.fingerprint)
        if existing is not None:
            return self._repeat(existing, self.clock.now())
        try:
            with session.begin_nested():
                return self._fire_many(session, [facts], actor=actor)[0]
        except IntegrityError:
            existing = self._open(session, facts.fingerprint)
            if existing is None:
                raise
            return self._repeat(existing, self.clock.now())

    def _record_fired(
        self,
        session: Session,
        facts: AlertFacts,
        row: AlertRow,
        known: bool,
        escalation: EscalationRow,
        summary: dict[str, Any],
        *,
        actor: Actor,
    ) -> None:
        record_alert(
            self.ledger,
            session,
            actor,
            "alert.fired",
            row,
            {
                "name": facts.name,
                "severity": facts.severity,
                "severity_known": known,
                "level": row.level,
                "summary": facts.summary,
                "labels": dict(facts.labels),
                "service": facts.service,
                "source": facts.source,
                "starts_at": facts.starts_at.isoformat(),
                "deduplicated": row.deduplicated,
                "incident_id": escalation.incident_id,
                **summary,
            },
        )

    @staticmethod
    def _repeat(row: AlertRow, now: datetime) -> AlertRef:
        # The same alert again (Alertmanager repeats, a retry): counted, not notified again.
        row.last_seen_at = now
        row.occurrences += 1
        return AlertRef(row.id, row.fingerprint, row.level, row.status, False, False)

    def _resolve(self, session: Session, fingerprint: str, *, actor: Actor) -> AlertRef | None:
        row = self._open(session, fingerprint)
        if row is None:
            return None
        now = self.clock.now()
        row.status = AlertStatus.RESOLVED.value
        row.open_key = None
        row.resolved_at = row.ends_at = now
        escalation = store.escalation_of(session, row.id)
        states: dict[str, str] = {}
        if escalation is not None:
            self.escalator.stop(session, escalation, EscalationState.RESOLVED)
            if row.notified_at is not None:
                states = self.escalator.notify_resolved(session, row, escalation)
        record_alert(
            self.ledger,
            session,
            actor,
            "alert.resolved",
            row,
            {
                "name": row.name,
                "level": row.level,
                "firing_seconds": (now - row.received_at).total_seconds(),
                "acknowledged": row.acknowledged_at is not None,
                "notifications": states,
            },
        )
        return AlertRef(row.id, fingerprint, row.level, row.status, False, bool(states))

    # -- acknowledging and reading ---------------------------------------------------------

    def acknowledge(self, *, alert_id: int, actor: Actor, note: str | None = None) -> AlertRow:
        """Acknowledge a firing alert: its escalation stops; recorded as evidence."""
        with self.db.transaction() as session:
            row = store.alert(session, alert_id)
            if row is None:
                raise NotFoundError(f"alert {alert_id} not found")
            if row.status != AlertStatus.FIRING.value:
                raise ConflictError(f"alert {alert_id} is {row.status}; only firing alerts")
            if row.acknowledged_at is not None:
                raise ConflictError(
                    f"alert {alert_id} was already acknowledged by {row.acknowledged_by}"
                )
            now = self.clock.now()
            row.acknowledged_at, row.acknowledged_by = now, actor.name
            escalation = store.escalation_of(session, row.id)
            if escalation is not None:
                self.escalator.stop(session, escalation, EscalationState.ACKNOWLEDGED)
                escalation.acknowledged_at, escalation.acknowledged_by = now, actor.name
            record_alert(
                self.ledger,
                session,
                actor,
                "alert.acknowledged",
                row,
                {
                    "level": row.level,
                    "after_seconds": (now - row.received_at).total_seconds(),
                    "note": note,
                },
            )
            return row

    def oncall(self, at: datetime | None = None) -> Shift | None:
        """Who is on call at ``at`` (default now)."""
        return current_shift(self.policy.alerting.oncall, at or self.clock.now())

    def chain(self, severity: str) -> list[ChainStep]:
        """The chain an alert of ``severity`` would get now."""
        key, _ = level_key_for(self.policy.alerting, severity)
        shift = self.oncall()
        return build_chain(self.policy.alerting, key, oncall=shift.person if shift else None)
