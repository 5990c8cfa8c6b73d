"""Deadlines on durable timers, the alerts they raise, and the seed's escalation rules.

After every change to an incident, ``sync`` arms one timer per open deadline (and one for its
warning). Keys carry the due time, so arming is idempotent and a moved deadline simply gets new
timers; a stale timer finds its deadline met or moved when it fires and does nothing. A near
or missed deadline raises an alert through the alerting service, so it escalates like any alert;
meeting the deadline resolves it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from leitstand.alerting.model import RoleMessage
from leitstand.alerting.model import fingerprint as alert_fingerprint
from leitstand.db import Session
from leitstand.display import fmt_time
from leitstand.incidents import store
from leitstand.incidents.model import ActionItem, ActionStatus
from leitstand.incidents.parts import ACTOR
from leitstand.incidents.response.deadlines import (
    ClockState,
    Deadline,
    DoraState,
    calendar_of,
    deadlines,
)
from leitstand.incidents.store import IncidentAlertRow, IncidentRow
from leitstand.ledger.service import Ledger
from leitstand.policy.incidents import EscalationRule
from leitstand.policy.model import Policy
from leitstand.scheduler.service import JobContext, Scheduler, Timer

if TYPE_CHECKING:
    from leitstand.alerting.service import AlertingService

__all__ = ["DEADLINE", "IncidentClocks", "clock_state", "clock_states"]

DEADLINE = "incidents.deadline"


def clock_state(session: Session, row: IncidentRow) -> ClockState:
    """The incident's state as the deadline rules need it."""
    return clock_states(session, [row])[0]


def clock_states(session: Session, rows: Sequence[IncidentRow]) -> list[ClockState]:
    """``clock_state`` of many incidents with one query per table."""
    ids = sorted({row.id for row in rows})
    dora = store.dora.assessments_by_incident(session, ids)
    actions = store.response.actions_by_incident(session, ids)
    return [
        ClockState(
            incident_id=row.id,
            severity=row.severity,
            opened_at=row.opened_at,
            acknowledged_at=row.acknowledged_at,
            aware_at=row.aware_at or row.opened_at,
            resolved_at=row.resolved_at,
            postmortem_at=row.postmortem_at,
            personal_data_affected=bool(row.personal_data_affected),
            gdpr_notified_at=row.gdpr_notified_at,
            dora=[
                DoraState(
                    tenant=d.tenant,
                    entity_type=d.entity_type,
                    major=d.major,
                    aware_at=d.aware_at,
                    classified_at=d.classified_at,
                    initial_submitted_at=d.initial_submitted_at,
                    intermediate_submitted_at=d.intermediate_submitted_at,
                    final_submitted_at=d.final_submitted_at,
                )
                for d in dora[row.id]
            ],
            actions=[
                (
                    ActionItem(a.number, a.title, a.owner, a.due_date, ActionStatus(a.status)),
                    a.done_at,
                )
                for a in actions[row.id]
            ],
        )
        for row in rows
    ]


class IncidentClocks:
    """Arm, fire and settle the timers of incident deadlines; inform roles by rule."""

    def __init__(
        self, *, ledger: Ledger, policy: Policy, scheduler: Scheduler, alerts: AlertingService
    ) -> None:
        self.ledger = ledger
        self.policy = policy
        self.scheduler = scheduler
        self.alerts = alerts
        self.calendar = calendar_of(policy.incidents)

    def deadlines(self, session: Session, row: IncidentRow) -> list[Deadline]:
        if row.merged_into is not None:
            return []  # a merged duplicate's clocks stopped: its survivor's run
        return deadlines(clock_state(session, row), self.policy.incidents, self.calendar)

    def stop(self, session: Session, row: IncidentRow, now: datetime) -> int:
        """Stop every clock of ``row`` (a merged duplicate): cancel its pending deadline timers
        and resolve the deadline alerts it still has open; returns how many timers were pending.
        """
        cancelled = self.scheduler.cancel_prefix(session, f"{DEADLINE}:{row.id}:")
        for alert in store.response.unresolved_deadline_alerts(session, row.id):
            self.alerts.resolve_alert(session, actor=ACTOR, fingerprint=alert.fingerprint)
            alert.resolved_at = now
        return cancelled

    # -- arming and settling -------------------------------------------------------------------

    def sync(self, session: Session, row: IncidentRow, now: datetime) -> None:
        """Arm timers for open deadlines; resolve the alerts of met ones."""
        self.sync_many(session, [row], now)

    def sync_many(self, session: Session, rows: Sequence[IncidentRow], now: datetime) -> None:
        """``sync`` for many incidents: one query per table, one insert for all timers."""
        session.flush()
        timers: list[Timer] = []
        rows = [row for row in rows if row.merged_into is None]  # merged: its clocks stopped
        for row, state in zip(rows, clock_states(session, rows), strict=True):
            for deadline in deadlines(state, self.policy.incidents, self.calendar):
                if not deadline.open:
                    self._settle(session, row.id, deadline, now)
                    continue
                stamp = int(deadline.due_at.timestamp())
                base = f"{DEADLINE}:{row.id}:{deadline.key}:{stamp}"
                payload = {
                    "incident_id": row.id,
                    "key": deadline.key,
                    "due": deadline.due_at.isoformat(),
                }
                if deadline.warn_before > timedelta(0) and deadline.due_at > now:
                    timers.append(
                        Timer(
                            kind=DEADLINE,
                            key=f"{base}:near",
                            due_at=max(now, deadline.due_at - deadline.warn_before),
                            payload={**payload, "stage": "near"},
                        )
                    )
                timers.append(
                    Timer(
                        kind=DEADLINE,
                        key=f"{base}:missed",
                        due_at=deadline.due_at,
                        payload={**payload, "stage": "missed"},
                    )
                )
        # One insert for all of them; a key armed before stays as it is.
        self.scheduler.schedule_many(session, timers)

    def _settle(
        self, session: Session, incident_id: str, deadline: Deadline, now: datetime
    ) -> None:
        open_alerts = store.response.unresolved_deadline_alerts(
            session, incident_id, clock=deadline.clock, tenant=deadline.tenant
        )
        for alert in open_alerts:
            self.alerts.resolve_alert(session, actor=ACTOR, fingerprint=alert.fingerprint)
            alert.resolved_at = now

    # -- firing --------------------------------------------------------------------------------

    def handle(self, ctx: JobContext) -> None:
        """Timer handler: warn of, or alert on, a deadline that is still open."""
        session = ctx.session
        row = session.get(IncidentRow, str(ctx.payload["incident_id"]))
        if row is None or row.merged_into is not None:
            return  # gone, or merged into another incident (its clocks stopped)
        found = next((d for d in self.deadlines(session, row) if d.key == ctx.payload["key"]), None)
        if found is None or not found.open or found.due_at.isoformat() != ctx.payload["due"]:
            return  # met, moved or gone since the timer was armed
        stage = str(ctx.payload["stage"])
        if stage == "missed":
            self._settle_stage(session, row.id, found, "near", ctx.now)
        self._raise(session, row, found, stage, ctx.now)

    def _settle_stage(
        self, session: Session, incident_id: str, deadline: Deadline, stage: str, now: datetime
    ) -> None:
        for alert in store.response.unresolved_deadline_alerts(
            session, incident_id, clock=deadline.clock, stage=stage
        ):
            if alert.tenant == deadline.tenant:
                self.alerts.resolve_alert(session, actor=ACTOR, fingerprint=alert.fingerprint)
                alert.resolved_at = now

    def _severity(self, row: IncidentRow, deadline: Deadline, stage: str) -> str:
        response = self.policy.incidents.response
        if stage == "near":
            return response.near_deadline_alert
        if deadline.clock == "reaction":
            return response.reaction_breach_alert.get(row.severity, response.missed_deadline_alert)
        return response.missed_deadline_alert

    def _raise(
        self, session: Session, row: IncidentRow, deadline: Deadline, stage: str, now: datetime
    ) -> None:
        name = "IncidentDeadlineNear" if stage == "near" else "IncidentDeadlineMissed"
        severity = self._severity(row, deadline, stage)
        systems = row.system_names
        service = systems[0] if systems else None
        labels = {"incident": row.id, "deadline": deadline.clock}
        due = fmt_time(deadline.due_at, "de", self.calendar.tz)
        verb = "fällig" if stage == "near" else "überschritten"
        summary = f"{row.id}: {deadline.label_de} {verb} ({due})"
        # The alert's fingerprint, known before raising: if the alert starts at the level that
        # opens incidents, its escalation finds this incident instead of opening another one.
        full = {**labels, "alertname": name, "severity": severity}
        if service:
            full["service"] = service
        if deadline.tenant:
            full["tenant"] = deadline.tenant
        link = IncidentAlertRow(
            incident_id=row.id,
            fingerprint=alert_fingerprint(name, full),
            clock=deadline.clock,
            tenant=deadline.tenant,
            stage=stage,
            raised_at=now,
        )
        session.add(link)
        session.flush()
        ref = self.alerts.raise_alert(
            session,
            name=name,
            severity=severity,
            summary=summary,
            labels=labels,
            service=service,
            tenant=deadline.tenant,
            source="incidents",
            actor=ACTOR,
        )
        link.fingerprint, link.alert_id = ref.fingerprint, ref.id
        action = "incident.deadline_near" if stage == "near" else "incident.deadline_missed"
        self.ledger.record(
            session,
            ACTOR,
            action,
            f"incident:{row.id}",
            tenant=deadline.tenant,
            payload={
                "clock": deadline.clock,
                "due_at": deadline.due_at.isoformat(),
                "alert_id": link.alert_id,
                "alert_severity": severity,
                "label_de": summary,
                "label_en": f"{row.id}: {deadline.label_en} "
                f"{'due soon' if stage == 'near' else 'missed'} "
                f"({fmt_time(deadline.due_at, 'en', self.calendar.tz)})",
            },
        )

    # -- escalation rules ----------------------------------------------------------------------

    def inform(self, session: Session, row: IncidentRow, *, reportable: bool, why: str) -> None:
        """Fire the escalation rules that apply (once per incident and rule)."""
        self.inform_many(session, [row], reportable=reportable, why=why)

    def inform_many(
        self, session: Session, rows: Sequence[IncidentRow], *, reportable: bool, why: str
    ) -> None:
        """``inform`` for many incidents: their messages go out with one insert."""
        fired: list[tuple[IncidentRow, str, EscalationRule]] = []
        messages: list[RoleMessage] = []
        for row in rows:
            informed: list[str] = json.loads(row.informed or "[]")
            for key, rule in self.policy.incidents.escalation_rules.items():
                applies = rule.severity == row.severity or (reportable and rule.reportable)
                if not applies or not rule.immediately or key in informed:
                    continue
                actions = "\n".join(f"- {a.de}" for a in rule.actions)
                systems = ", ".join(row.system_names) or "-"
                tenants = ", ".join(json.loads(row.tenants or "[]")) or "-"
                body = (
                    f"{rule.trigger.de} ({why})\n\n{row.id} · {row.severity} · {row.title}\n"
                    f"Systeme: {systems}\nMandanten: {tenants}\n\nJetzt zu tun:\n{actions}\n\n"
                    f"Details: leitstand incident show {row.id}"
                )
                messages.append(
                    RoleMessage(
                        roles=tuple(rule.inform),
                        subject=f"[leitstand] {rule.trigger.de}: {row.id} {row.title}",
                        body=body,
                    )
                )
                fired.append((row, key, rule))
                informed.append(key)
            row.informed = json.dumps(informed)
        if not messages:
            return
        self.alerts.notify_many(session, messages, actor=ACTOR)
        for row, key, rule in fired:
            roles = ", ".join(r.value for r in rule.inform)
            self.ledger.record(
                session,
                ACTOR,
                "incident.informed",
                f"incident:{row.id}",
                payload={
                    "rule": key,
                    "roles": [r.value for r in rule.inform],
                    "why": why,
                    "label_de": f"{rule.trigger.de}: informiert {roles}",
                    "label_en": f"{rule.trigger.en}: informed {roles}",
                },
            )
