"""Opening incidents: by hand or from escalations, one at a time or a whole burst at once.

Numbers (``INC-<year>-<nnnn>``) are allocated as one block and the rows go in with one flush;
losing a race to another instance retries with fresh numbers. An escalation opens its incident
once; an alert leitstand raised for an incident's own deadline leads back to that incident.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from leitstand.auth.model import Actor
from leitstand.clock import BERLIN
from leitstand.errors import Issue, ValidationError
from leitstand.incidents.model import (
    MILESTONES,
    IncidentStatus,
    Phase,
    check_milestones,
    format_incident_id,
    label_pair,
)
from leitstand.incidents.store import IncidentAlertRow, IncidentRow

if TYPE_CHECKING:
    from leitstand.incidents.service import IncidentService

__all__ = ["EscalationOpening", "IncidentOpener", "Opening"]


@dataclass(frozen=True, slots=True)
class EscalationOpening:
    """An escalation that reached a level which starts the incident response."""

    escalation_id: int
    alert_id: int
    fingerprint: str
    title: str
    service: str | None = None
    tenant: str | None = None
    severity: str | None = None


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
        found = _by_escalation(session, [o.escalation_id for o in openings])
        fresh = {o.escalation_id: o for o in openings if o.escalation_id not in found}
        linked = self._linked(session, {o.fingerprint for o in fresh.values()})
        new: list[Opening] = []
        for escalation_id, opening in fresh.items():
            row = linked.get(opening.fingerprint)
            if row is None:
                new.append(
                    Opening(
                        title=opening.title,
                        severity=opening.severity or self.incidents.most_severe(),
                        service=opening.service,
                        tenant=opening.tenant,
                        source="alert",
                        alert_id=opening.alert_id,
                        fingerprint=opening.fingerprint,
                        escalation_id=escalation_id,
                    )
                )
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
        for spec, row in zip(new, self.open_many(session, new, actor=actor), strict=True):
            assert spec.escalation_id is not None
            found[spec.escalation_id] = row
        return [found[o.escalation_id] for o in openings]

    def _linked(self, session: Session, fingerprints: Collection[str]) -> dict[str, IncidentRow]:
        """The incident each fingerprint leads back to (alerts of incident deadlines)."""
        if not fingerprints:
            return {}
        first: dict[str, str] = {}
        for link in session.execute(
            sa.select(IncidentAlertRow)
            .where(IncidentAlertRow.fingerprint.in_(sorted(fingerprints)))
            .order_by(IncidentAlertRow.id)
        ).scalars():
            first.setdefault(link.fingerprint, link.incident_id)
        if not first:
            return {}
        rows = {
            row.id: row
            for row in session.execute(
                sa.select(IncidentRow).where(IncidentRow.id.in_(sorted(set(first.values()))))
            ).scalars()
        }
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
            last = session.execute(
                sa.select(sa.func.coalesce(sa.func.max(IncidentRow.sequence), 0)).where(
                    IncidentRow.year == year
                )
            ).scalar_one()
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
                meanwhile = _by_escalation(session, escalations)
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
            systems=json.dumps(systems),
            tenants=json.dumps(tenants),
            detected_at=now,
            aware_at=now,
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
                "systems": json.loads(row.systems),
                "tenants": json.loads(row.tenants),
                "source": spec.source,
                "alert_id": spec.alert_id,
                "alert_fingerprint": spec.fingerprint,
                "escalation_id": spec.escalation_id,
                **label_pair(
                    f"Incident eröffnet ({spec.severity}): {row.title}",
                    f"Incident opened ({spec.severity}): {row.title}",
                ),
            },
        )


def _by_escalation(session: Session, escalation_ids: Collection[int]) -> dict[int, IncidentRow]:
    """The incidents already opened for these escalations, by escalation id."""
    if not escalation_ids:
        return {}
    rows = session.execute(
        sa.select(IncidentRow).where(IncidentRow.escalation_id.in_(sorted(set(escalation_ids))))
    ).scalars()
    return {row.escalation_id: row for row in rows if row.escalation_id is not None}
