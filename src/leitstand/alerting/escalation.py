"""Escalation: snapshot the chain, notify each level, move up on a durable timer.

A pending step is one scheduler timer keyed ``alerting.escalate:<escalation>:<step>``: scheduling
is idempotent per key, a committed firing never repeats, and acknowledging or resolving cancels
it. The handler also checks the escalation's state and level, so a late or repeated firing
cannot escalate twice.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from leitstand.alerting import store
from leitstand.alerting.evidence import record_alert
from leitstand.alerting.incident_port import EscalationOpening, IncidentResponse
from leitstand.alerting.messages import AlertText, alert_message
from leitstand.alerting.model import ChainStep, EscalationState, build_chain, level_key_for
from leitstand.alerting.oncall import current_shift
from leitstand.alerting.outbox import Notice, Outbox
from leitstand.alerting.store import AlertRow, EscalationRow
from leitstand.clock import Clock
from leitstand.db import Session
from leitstand.errors import ConfigError
from leitstand.identity import Actor
from leitstand.ledger.service import Ledger
from leitstand.policy.labels import human_duration
from leitstand.policy.model import Policy
from leitstand.scheduler.service import JobContext, Scheduler, Timer

__all__ = ["ESCALATE", "Escalator", "chain_of"]

ESCALATE = "alerting.escalate"
_ESCALATION_ACTOR = Actor(name="leitstand:escalation", role="system")


def chain_of(row: EscalationRow) -> list[ChainStep]:
    """The snapshotted chain of an escalation."""
    return [ChainStep.from_dict(step) for step in json.loads(row.chain)]


def _text(alert: AlertRow) -> AlertText:
    return AlertText(
        alert_id=alert.id,
        name=alert.name,
        severity=alert.severity,
        summary=alert.summary,
        labels=json.loads(alert.labels),
        service=alert.service,
        tenant=alert.tenant,
    )


@dataclass(kw_only=True, eq=False, repr=False)
class Escalator:
    """Start, advance, stop and close escalations."""

    ledger: Ledger
    clock: Clock
    scheduler: Scheduler
    policy: Policy
    outbox: Outbox
    # What an escalation reaching an incident level opens incidents with: incidents' wiring
    # connects it (``connect``), as alerting sits below incidents.
    incident_response: IncidentResponse | None = None

    def connect(self, incidents: IncidentResponse) -> None:
        """The incident response escalations open incidents with (incidents' wiring)."""
        self.incident_response = incidents

    @property
    def incidents(self) -> IncidentResponse:
        if self.incident_response is None:
            raise ConfigError("escalation has no incident response (connect_incidents)")
        return self.incident_response

    @staticmethod
    def timer_key(escalation_id: int, step: int) -> str:
        return f"{ESCALATE}:{escalation_id}:{step}"

    def start_many(
        self, session: Session, starts: Sequence[tuple[AlertRow, str, bool]]
    ) -> list[tuple[EscalationRow, dict[str, Any]]]:
        """Snapshot the chain of each alert (alert, level key, notify) and run its first step,
        with one flush per table; returns each escalation row with a summary, in order."""
        if not starts:
            return []
        now = self.clock.now()
        shift = current_shift(self.policy.alerting.oncall, now)
        oncall = shift.person if shift else None
        chains: dict[str, tuple[list[ChainStep], str]] = {}
        rows: list[EscalationRow] = []
        for alert, level_key, _notify in starts:
            if level_key not in chains:
                chain = build_chain(self.policy.alerting, level_key, oncall=oncall)
                chains[level_key] = (chain, json.dumps([step.as_dict() for step in chain]))
            chain, snapshot = chains[level_key]
            rows.append(
                EscalationRow(
                    alert_id=alert.id,
                    state=EscalationState.ACTIVE.value,
                    level=chain[0].level,
                    chain=snapshot,
                    oncall=oncall,
                    started_at=now,
                    # Known before the insert, so the row goes in complete.
                    next_at=self._next_due(chain, 0, now),
                )
            )
        store.insert_escalations(session, rows)
        # A new alert of a group whose incident is still open joins that incident at once.
        self._join_groups(
            session, [(row, alert) for (alert, _, _), row in zip(starts, rows, strict=True)]
        )
        notices: list[tuple[int, Notice]] = []
        timers: list[Timer] = []
        summaries: list[dict[str, Any]] = []
        for n, ((alert, level_key, notify), row) in enumerate(zip(starts, rows, strict=True)):
            chain = chains[level_key][0]
            summaries.append(
                {
                    "escalation_id": row.id,
                    "oncall": row.oncall,
                    "chain": [
                        {"level": s.level, "recipients": [r.person for r in s.recipients]}
                        for s in chain
                    ],
                }
            )
            if notify:
                notices.append((n, self._notice(alert, chain[0], "fired", row.incident_id)))
            if row.next_at is not None:
                timers.append(self._timer(row.id, 1, row.next_at))
        self._open_incidents(
            session,
            [
                (row, alert)
                for (alert, level_key, _), row in zip(starts, rows, strict=True)
                if chains[level_key][0][0].start_incident
            ],
        )
        states = self.outbox.enqueue_many(session, [notice for _, notice in notices])
        for (n, _), state in zip(notices, states, strict=True):
            summaries[n]["notifications"] = state
        self.scheduler.schedule_many(session, timers)
        return list(zip(rows, summaries, strict=True))

    def _next_due(self, chain: list[ChainStep], index: int, now: datetime) -> datetime | None:
        """When the step after ``index`` is due if nobody acknowledges, or None (last step)."""
        step = chain[index]
        if step.escalate_after_s is None or index + 1 >= len(chain):
            return None
        return now + timedelta(seconds=step.escalate_after_s)

    def _timer(self, escalation_id: int, step: int, due: datetime) -> Timer:
        return Timer(
            kind=ESCALATE,
            key=self.timer_key(escalation_id, step),
            due_at=due,
            payload={"escalation_id": escalation_id, "step": step},
        )

    def _opening(
        self, row: EscalationRow, alert: AlertRow, groups: dict[str, tuple[str, ...]]
    ) -> EscalationOpening:
        """What the incident of an escalation is opened (or joined) with.

        Detection is the alert's start (its receipt if it claims to start later); awareness is
        detection for the levels of ``alerting.aware_at_detection``, otherwise now (the moment
        the escalation reached the incident level).
        """
        detected = min(alert.starts_at, alert.received_at)
        key, _ = level_key_for(self.policy.alerting, alert.severity)
        aware = detected if key in self.policy.alerting.aware_at_detection else self.clock.now()
        return EscalationOpening(
            escalation_id=row.id,
            alert_id=alert.id,
            fingerprint=alert.fingerprint,
            title=f"{alert.name}: {alert.summary}" if alert.summary else alert.name,
            service=alert.service,
            tenant=alert.tenant,
            group_key=alert.group_key,
            group_incidents=groups.get(alert.group_key, ()) if alert.group_key else (),
            detected_at=detected,
            aware_at=max(aware, detected),
        )

    def _group_incidents(self, session: Session, keys: set[str]) -> dict[str, tuple[str, ...]]:
        """The incidents each alert group already has, newest first.

        The ledger head is taken first: a concurrent transaction opening this group's incident
        (it appends to the ledger too) has committed before the lookup, so it is seen.
        """
        if not keys:
            return {}
        self.ledger.hold_head(session)
        found: dict[str, list[str]] = {}
        for key, incident in store.group_incidents(session, keys):
            if incident not in found.get(key, []):
                found.setdefault(key, []).append(incident)
        return {key: tuple(ids) for key, ids in found.items()}

    def _join_groups(
        self, session: Session, pairs: Sequence[tuple[EscalationRow, AlertRow]]
    ) -> None:
        """Join new alerts to the open incident of their group, where it has one."""
        pairs = [(row, alert) for row, alert in pairs if alert.group_key and not row.incident_id]
        groups = self._group_incidents(session, {a.group_key for _, a in pairs if a.group_key})
        pairs = [(row, alert) for row, alert in pairs if alert.group_key in groups]
        if not pairs:
            return
        openings = [self._opening(row, alert, groups) for row, alert in pairs]
        joined = self.incidents.opener.join_groups(session, openings, actor=_ESCALATION_ACTOR)
        for (row, _), incident in zip(pairs, joined, strict=True):
            if incident is not None:
                row.incident_id = incident.id

    def _open_incidents(
        self, session: Session, pairs: Sequence[tuple[EscalationRow, AlertRow]]
    ) -> None:
        """Open (or find) the incident of each escalation and set the row's ``incident_id``.

        Escalations of one alert group share one incident; one that joined its group's incident
        already keeps it.
        """
        pairs = [(row, alert) for row, alert in pairs if row.incident_id is None]
        if not pairs:
            return
        groups = self._group_incidents(session, {a.group_key for _, a in pairs if a.group_key})
        openings = [self._opening(row, alert, groups) for row, alert in pairs]
        opened = self.incidents.opener.from_escalations(session, openings, actor=_ESCALATION_ACTOR)
        for (row, _), incident in zip(pairs, opened, strict=True):
            row.incident_id = incident.id

    def _notice(
        self, alert: AlertRow, step: ChainStep, purpose: str, incident_id: str | None = None
    ) -> Notice:
        ack = (
            human_duration(timedelta(seconds=step.escalate_after_s), "de")
            if step.escalate_after_s and purpose != "resolved"
            else None
        )
        subject, body = alert_message(
            _text(alert),
            purpose=purpose,
            level=step.level,
            level_name=step.name,
            ack_within=ack,
            incident_id=incident_id,
            base_url=self.policy.alerting.notifications.base_url,
        )
        return Notice(
            alert_id=alert.id,
            purpose=purpose,
            level=step.level,
            channels=tuple(step.channels),
            roles=tuple(step.roles),
            recipients=tuple(step.recipients),
            subject=subject,
            body=body,
            tenant=alert.tenant,
        )

    def _notify_step(
        self,
        session: Session,
        alert: AlertRow,
        step: ChainStep,
        purpose: str,
        incident_id: str | None = None,
    ) -> dict[str, str]:
        notice = self._notice(alert, step, purpose, incident_id)
        return self.outbox.enqueue_many(session, [notice])[0]

    def handle(self, ctx: JobContext) -> None:
        """Timer handler: nobody acknowledged in time, so move to the next level."""
        self.handle_many([ctx])

    def handle_many(self, contexts: Sequence[JobContext]) -> None:
        """``handle`` for all escalation timers a batch claimed: one query per table.

        The state and level are checked per timer, so a late or repeated firing cannot escalate
        twice; two steps of one escalation in one batch are taken in order.
        """
        if not contexts:
            return
        session = contexts[0].session
        ordered = sorted(
            contexts, key=lambda c: (int(c.payload["escalation_id"]), int(c.payload["step"]))
        )
        rows = store.escalations_for_update(
            session, {int(c.payload["escalation_id"]) for c in ordered}
        )
        alerts = store.alerts_by_id(session, {r.alert_id for r in rows.values()})
        chains: dict[str, list[ChainStep]] = {}
        moves: list[tuple[EscalationRow, AlertRow, list[ChainStep], int, int]] = []
        for ctx in ordered:
            row = rows.get(int(ctx.payload["escalation_id"]))
            if row is None or row.state != EscalationState.ACTIVE.value:
                continue
            if row.chain not in chains:
                chains[row.chain] = chain_of(row)
            chain = chains[row.chain]
            index = int(ctx.payload["step"])
            if index >= len(chain) or row.level >= chain[index].level:
                continue  # already there: never escalate twice
            alert = alerts.get(row.alert_id)
            if alert is None:
                continue
            moves.append((row, alert, chain, index, row.level))
            row.level = alert.level = chain[index].level
            row.escalated_at = ctx.now
        self._open_incidents(
            session,
            list(
                {
                    row.id: (row, alert)
                    for row, alert, chain, index, _ in moves
                    if chain[index].start_incident
                }.values()
            ),
        )
        now = self.clock.now()
        timers: list[Timer] = []
        notices: list[Notice] = []
        incident_ids: list[str | None] = []  # the incident a step opened (or found), per move
        for row, alert, chain, index, _ in moves:
            incident_ids.append(row.incident_id if chain[index].start_incident else None)
            notices.append(self._notice(alert, chain[index], "escalated", incident_ids[-1]))
            row.next_at = self._next_due(chain, index, now)
            if row.next_at is not None:
                timers.append(self._timer(row.id, index + 1, row.next_at))
        self.scheduler.schedule_many(session, timers)
        states = self.outbox.enqueue_many(session, notices)
        for (row, alert, chain, index, previous), state, incident_id in zip(
            moves, states, incident_ids, strict=True
        ):
            step = chain[index]
            record_alert(
                self.ledger,
                session,
                _ESCALATION_ACTOR,
                "alert.escalated",
                alert,
                {
                    "escalation_id": row.id,
                    "from_level": previous,
                    "to_level": step.level,
                    "reason": "not acknowledged in time",
                    "recipients": [r.person for r in step.recipients],
                    "unresolved_roles": step.unresolved_roles,
                    "notifications": state,
                    "incident_id": incident_id,
                },
            )

    def stop(self, session: Session, row: EscalationRow, state: EscalationState) -> None:
        """Stop an escalation (acknowledged or resolved): cancel every pending step."""
        for index in range(1, len(chain_of(row))):
            self.scheduler.cancel(session, self.timer_key(row.id, index))
        row.state = state.value
        row.next_at = None
        if state is EscalationState.RESOLVED:
            row.closed_at = self.clock.now()

    def notify_resolved(
        self, session: Session, alert: AlertRow, row: EscalationRow
    ) -> dict[str, str]:
        """Tell whoever was paged at the current level that the alert resolved."""
        chain = chain_of(row)
        step = next((s for s in chain if s.level == row.level), chain[0])
        return self._notify_step(session, alert, step, "resolved")
