"""Opening incidents: by hand or from escalations, one at a time or a whole burst at once.

Numbers (``INC-<year>-<nnnn>``) are allocated as one block and the rows go in with one flush;
losing a race to another instance retries with fresh numbers. An escalation opens its incident
once; an alert leitstand raised for an incident's own deadline leads back to that incident.

An alert group (Alertmanager's ``groupKey``) opens at most one incident: escalations of one group
in one burst open it together (every tenant and system of their alerts), and a later alert of a
group whose incident is still open joins it (its tenant and system are added, the join is on
the incident's timeline). Detection and awareness come from the alerts (``detected_at``,
``aware_at`` of the opening), not from the moment the escalation reached the incident level.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from leitstand.alerting.incident_port import EscalationOpening
from leitstand.auth.model import Actor
from leitstand.clock import BERLIN
from leitstand.db import IntegrityError, Session
from leitstand.errors import Issue, ValidationError
from leitstand.incidents import store
from leitstand.incidents.model import (
    MILESTONES,
    IncidentStatus,
    Phase,
    check_milestones,
    format_incident_id,
    label_pair,
)
from leitstand.incidents.store import IncidentRow

if TYPE_CHECKING:
    from leitstand.incidents.service import IncidentService

__all__ = ["EscalationOpening", "IncidentOpener", "Opening"]


@dataclass(frozen=True, slots=True)
class Opening:
    """An incident to open (by hand, or from an escalation)."""

    title: str
    severity: str
    service: str | None = None
    tenant: str | None = None
    source: str = "manual"
    alert_id: int | None = None
    fingerprint: str | None = None
    escalation_id: int | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    detected_at: datetime | None = None  # None: when it opens
    aware_at: datetime | None = None  # None: when it opens


class IncidentOpener:
    """Insert incidents for an ``IncidentService`` (its ledger, clock, policy and timers)."""

    def __init__(self, incidents: IncidentService) -> None:
        self.incidents = incidents

    def from_escalations(
        self, session: Session, openings: Sequence[EscalationOpening], *, actor: Actor
    ) -> list[IncidentRow]:
        """The incident of each escalation, opened where there is none yet; rows in order.

        A burst of escalations (an outage pages a thousand alerts at once) opens its incidents
        together: numbers are allocated as one block and the rows go in with one flush.
        """
        found = store.incidents.by_escalation(session, [o.escalation_id for o in openings])
        fresh = {o.escalation_id: o for o in openings if o.escalation_id not in found}
        joined = self.join_groups(session, list(fresh.values()), actor=actor)
        for opening, incident in zip(fresh.values(), joined, strict=True):
            if incident is not None:
                found[opening.escalation_id] = incident
        fresh = {k: o for k, o in fresh.items() if k not in found}
        linked = self._linked(session, {o.fingerprint for o in fresh.values()})
        # One new incident per alert group (an alert without a group is a group of its own).
        buckets: dict[str, list[EscalationOpening]] = {}
        for escalation_id, opening in fresh.items():
            row = linked.get(opening.fingerprint)
            if row is None:
                key = f"g:{opening.group_key}" if opening.group_key else f"e:{escalation_id}"
                buckets.setdefault(key, []).append(opening)
                continue
            self.incidents.ledger.record(
                session,
                actor,
                "incident.alert_escalated",
                f"incident:{row.id}",
                payload={
                    "alert_id": opening.alert_id,
                    "escalation_id": escalation_id,
                    **label_pair(f"Eskalation: {opening.title}", f"Escalation: {opening.title}"),
                },
            )
            found[escalation_id] = row
        groups = list(buckets.values())
        new = [self._group_opening(group) for group in groups]
        for group, row in zip(groups, self.open_many(session, new, actor=actor), strict=True):
            for opening in group:
                found[opening.escalation_id] = row
            self._record_joined(session, [(row, o) for o in group[1:]], actor=actor)
        return [found[o.escalation_id] for o in openings]

    def join_groups(
        self, session: Session, openings: Sequence[EscalationOpening], *, actor: Actor
    ) -> list[IncidentRow | None]:
        """Join each alert to the open incident its group already has (None: there is none).

        The alert's tenant and system are added to the incident, the join is recorded on its
        timeline (``incident.alert_joined``) and its deadlines are re-armed.
        """
        candidates = sorted({i for o in openings if o.group_key for i in o.group_incidents})
        if not candidates:
            return [None] * len(openings)
        # A group's incident merged into another one: its alerts join the survivor (merging.py).
        survivor = store.incidents.survivors(session, candidates)
        candidates = sorted({survivor.get(i, i) for i in candidates})
        lock = session.get_bind().dialect.name == "postgresql"
        rows = {
            row.id: row
            for row in store.incidents.open_incidents(
                session, candidates, status=IncidentStatus.OPEN.value, lock=lock
            )
        }
        result: list[IncidentRow | None] = []
        pairs: list[tuple[IncidentRow, EscalationOpening]] = []
        for opening in openings:
            ids = [survivor.get(i, i) for i in opening.group_incidents]
            row = next((rows[i] for i in ids if i in rows), None)
            result.append(row)
            if row is not None:
                pairs.append((row, opening))
        self._record_joined(session, pairs, actor=actor)
        return result

    def _group_opening(self, group: Sequence[EscalationOpening]) -> Opening:
        """The incident an alert group opens: the first alert's title, every tenant and system,
        detection and awareness from the earliest alert."""
        first = group[0]
        tenants = list(dict.fromkeys(o.tenant for o in group if o.tenant))
        systems = list(dict.fromkeys(o.service for o in group if o.service))
        detected = [o.detected_at for o in group if o.detected_at is not None]
        aware = [o.aware_at for o in group if o.aware_at is not None]
        return Opening(
            title=first.title,
            severity=first.severity or self.incidents.most_severe(),
            service=first.service,
            tenant=tenants[0] if len(tenants) == 1 else None,
            source="alert",
            alert_id=first.alert_id,
            fingerprint=first.fingerprint,
            escalation_id=first.escalation_id,
            details={"tenants": tenants, "systems": systems},
            detected_at=min(detected) if detected else None,
            aware_at=min(aware) if aware else None,
        )

    def _record_joined(
        self,
        session: Session,
        pairs: Sequence[tuple[IncidentRow, EscalationOpening]],
        *,
        actor: Actor,
    ) -> None:
        """Add each alert's tenant and system to its incident and put the join on the timeline."""
        if not pairs:
            return
        now = self.incidents.clock.now()
        changed: dict[str, IncidentRow] = {}
        for row, opening in pairs:
            added: dict[str, str] = {}
            tenants: list[str] = json.loads(row.tenants or "[]")
            if opening.tenant and opening.tenant not in tenants:
                tenants.append(opening.tenant)
                row.tenants = json.dumps(tenants)
                added["tenants"] = opening.tenant
            if opening.service and opening.service not in row.system_names:
                row.system_names = [*row.system_names, opening.service]
                added["systems"] = opening.service
            row.tenant = tenants[0] if len(tenants) == 1 else None  # else: see ``tenants``
            row.updated_at = now
            changed[row.id] = row
            self.incidents.ledger.record(
                session,
                actor,
                "incident.alert_joined",
                f"incident:{row.id}",
                tenant=opening.tenant,
                payload={
                    "alert_id": opening.alert_id,
                    "alert_fingerprint": opening.fingerprint,
                    "escalation_id": opening.escalation_id,
                    "tenant": opening.tenant,
                    "service": opening.service,
                    "added": added,
                    **label_pair(
                        f"Alarm der Gruppe hinzugefügt: {opening.title}",
                        f"Alert of the group joined: {opening.title}",
                    ),
                },
            )
        self.incidents.after_changes(session, list(changed.values()), why="updated")

    def _linked(self, session: Session, fingerprints: Collection[str]) -> dict[str, IncidentRow]:
        """The incident each fingerprint leads back to (alerts of incident deadlines)."""
        first = store.response.deadline_alert_links(session, fingerprints)
        if not first:
            return {}
        rows = {row.id: row for row in store.incidents.incidents(session, first.values())}
        return {fp: rows[incident] for fp, incident in first.items() if incident in rows}

    def open_many(
        self, session: Session, specs: Sequence[Opening], *, actor: Actor
    ) -> list[IncidentRow]:
        """Insert incidents with consecutive numbers in one flush; rows in ``specs`` order.

        Losing a race (another instance took a number, or opened one of these escalations'
        incidents first) retries with fresh numbers; an escalation's incident that appeared
        meanwhile is returned as it is.
        """
        if not specs:
            return []
        for spec in specs:
            self.incidents.check_severity(spec.severity)
        now = self.incidents.clock.now()
        year = now.astimezone(BERLIN).year
        done: dict[int, IncidentRow] = {}
        todo = list(range(len(specs)))
        for _ in range(5):
            last = store.incidents.last_sequence(session, year)
            rows = [
                self._new_row(specs[n], year, last + 1 + k, now, actor) for k, n in enumerate(todo)
            ]
            try:
                # A savepoint: losing the race for a number retries with the next ones.
                with session.begin_nested():
                    session.add_all(rows)
                    session.flush()
            except IntegrityError:
                escalations = [e for n in todo if (e := specs[n].escalation_id) is not None]
                meanwhile = store.incidents.by_escalation(session, escalations)
                for n in list(todo):
                    escalation = specs[n].escalation_id
                    if escalation is not None and escalation in meanwhile:
                        done[n] = meanwhile[escalation]
                        todo.remove(n)
                if not todo:
                    break
                continue
            for n, row in zip(todo, rows, strict=True):
                self._record_opened(session, row, specs[n], actor)
                done[n] = row
            self.incidents.after_changes(session, rows, why="opened")
            break
        else:
            raise ValidationError([Issue("id", "could not allocate an incident number; try again")])
        return [done[n] for n in range(len(specs))]

    def _new_row(
        self, spec: Opening, year: int, sequence: int, now: datetime, actor: Actor
    ) -> IncidentRow:
        extra = dict(spec.details)
        systems = list(extra.pop("systems", None) or ([spec.service] if spec.service else []))
        tenants = list(extra.pop("tenants", None) or ([spec.tenant] if spec.tenant else []))
        row = IncidentRow(
            id=format_incident_id(year, sequence),
            year=year,
            sequence=sequence,
            title=spec.title[:500],
            severity=spec.severity,
            status=IncidentStatus.OPEN.value,
            phase=Phase.DETECTION.value,
            opened_at=now,
            opened_by=actor.name,
            service=spec.service or (systems[0] if systems else None),
            tenant=spec.tenant or (tenants[0] if len(tenants) == 1 else None),
            source=spec.source,
            alert_id=spec.alert_id,
            alert_fingerprint=spec.fingerprint,
            escalation_id=spec.escalation_id,
            system_names=systems,
            tenants=json.dumps(tenants),
            detected_at=spec.detected_at or now,
            aware_at=spec.aware_at or now,
            informed="[]",
            personal_data_affected=False,
            updated_at=now,
        )
        for key, value in extra.items():
            setattr(row, key, value)
        check_milestones({m: getattr(row, m) for m in MILESTONES}, now=now)
        return row

    def _record_opened(
        self, session: Session, row: IncidentRow, spec: Opening, actor: Actor
    ) -> None:
        self.incidents.ledger.record(
            session,
            actor,
            "incident.opened",
            f"incident:{row.id}",
            tenant=spec.tenant,
            payload={
                "title": row.title,
                "severity": spec.severity,
                "service": spec.service,
                "systems": row.system_names,
                "tenants": json.loads(row.tenants),
                "source": spec.source,
                "alert_id": spec.alert_id,
                "alert_fingerprint": spec.fingerprint,
                "escalation_id": spec.escalation_id,
                "detected_at": row.detected_at.isoformat() if row.detected_at else None,
                "aware_at": row.aware_at.isoformat() if row.aware_at else None,
                **label_pair(
                    f"Incident eröffnet ({spec.severity}): {row.title}",
                    f"Incident opened ({spec.severity}): {row.title}",
                ),
            },
        )
