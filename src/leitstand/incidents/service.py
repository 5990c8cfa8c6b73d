"""Incidents: open (by hand or from an escalation), move through the phases, note, close.

Every change is one transaction with its evidence entry (``incident.*``, each with a German and
English label for the timeline), re-arms the incident's deadline timers and fires the escalation
rules that apply. Opening lives in ``response.opening``, DORA assessments and reports in
``reporting``, action items in ``response.actions``, deadline timers in
``response.deadline_timers``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from leitstand.auth.model import Actor
from leitstand.clock import Clock
from leitstand.db import Database, Session
from leitstand.errors import ConfigError, ConflictError, Issue, NotFoundError, ValidationError
from leitstand.incidents import store
from leitstand.incidents.model import (
    MILESTONES,
    IncidentStatus,
    Phase,
    check_milestones,
    check_transition,
    label_pair,
    phase_milestones,
)
from leitstand.incidents.parts import IncidentPart
from leitstand.incidents.response.deadline_timers import IncidentClocks
from leitstand.incidents.response.opening import EscalationOpening, IncidentOpener, Opening
from leitstand.incidents.schemas import IncidentOut
from leitstand.incidents.store import IncidentRow
from leitstand.ledger.service import Ledger
from leitstand.policy.model import Policy

__all__ = ["EDITABLE", "EscalationOpening", "IncidentOut", "IncidentPart", "IncidentService"]

#: Fields ``update`` may change (milestones that phases stamp are set by phases, or here).
EDITABLE = frozenset(
    {
        "title",
        "severity",
        "systems",
        "tenants",
        "commander",
        "scribe",
        "communication",
        "description",
        "root_cause",
        "root_cause_key",
        "impact",
        "personal_data_affected",
        *MILESTONES[:-1],
    }
)


#: Detection and awareness start the DORA and GDPR clocks: changed only by ``correct_times``.
CORRECTED = frozenset({"detected_at", "aware_at"})


class IncidentService:
    """Incidents and their response process."""

    def __init__(self, *, db: Database, ledger: Ledger, clock: Clock, policy: Policy) -> None:
        self.db = db
        self.ledger = ledger
        self.clock = clock
        self.policy = policy
        self._clocks: IncidentClocks | None = None
        self.opener = IncidentOpener(self)
        # Called after every change with (session, rows, why), e.g. notices.TenantNotices.
        self.hooks: list[Callable[[Session, list[IncidentRow], str], None]] = []

    def bind(self, clocks: IncidentClocks) -> None:
        """Attach deadline timers and alerting (they need the alerting service built first)."""
        self._clocks = clocks

    @property
    def clocks(self) -> IncidentClocks:
        if self._clocks is None:
            raise ConfigError("incident deadlines are not wired (IncidentService.bind)")
        return self._clocks

    def most_severe(self) -> str:
        """The most severe severity of the policy (rank 1, "SEV-1")."""
        severities = self.policy.incidents.severities
        return min(severities, key=lambda key: severities[key].rank)

    # -- opening -------------------------------------------------------------------------------

    def open_from_escalation(
        self,
        session: Session,
        *,
        escalation_id: int,
        alert_id: int,
        fingerprint: str,
        title: str,
        actor: Actor,
        service: str | None = None,
        tenant: str | None = None,
        severity: str | None = None,
    ) -> IncidentOut:
        """Open the incident of an escalation in the caller's transaction; once per escalation.

        An alert leitstand raised for an incident's own deadline leads back to that incident.
        """
        opening = EscalationOpening(
            escalation_id=escalation_id,
            alert_id=alert_id,
            fingerprint=fingerprint,
            title=title,
            service=service,
            tenant=tenant,
            severity=severity,
        )
        return IncidentOut.model_validate(
            self.opener.from_escalations(session, [opening], actor=actor)[0]
        )

    def open(
        self,
        session: Session,
        *,
        title: str,
        severity: str,
        actor: Actor,
        service: str | None = None,
        tenant: str | None = None,
        source: str = "manual",
        alert_id: int | None = None,
        fingerprint: str | None = None,
        escalation_id: int | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> IncidentOut:
        """Open an incident in the caller's transaction and record ``incident.opened``."""
        spec = Opening(
            title=title,
            severity=severity,
            service=service,
            tenant=tenant,
            source=source,
            alert_id=alert_id,
            fingerprint=fingerprint,
            escalation_id=escalation_id,
            details=dict(details or {}),
        )
        return IncidentOut.model_validate(self.opener.open_many(session, [spec], actor=actor)[0])

    def create(
        self, *, title: str, severity: str, actor: Actor, details: Mapping[str, Any] | None = None
    ) -> IncidentOut:
        """Open an incident by hand (CLI, API) in its own transaction."""
        if not title.strip():
            raise ValidationError([Issue("title", "a title (got an empty string)")])
        self._check_refs((details or {}).get("systems") or [], (details or {}).get("tenants") or [])
        with self.db.transaction() as session:
            return self.open(
                session, title=title.strip(), severity=severity, actor=actor, details=details
            )

    # -- changing ------------------------------------------------------------------------------

    @contextmanager
    def changing(self, incident_id: str) -> Iterator[tuple[Session, IncidentRow]]:
        with self.db.transaction() as session:
            yield session, self.load_row(session, incident_id, lock=True)

    def update(self, incident_id: str, changes: Mapping[str, Any], *, actor: Actor) -> IncidentOut:
        """Change details, roles, systems, tenants or milestones; every change is evidence."""
        unknown = sorted(set(changes) - EDITABLE)
        if unknown:
            raise ValidationError([Issue(k, "not a field that can be changed") for k in unknown])
        timed = sorted(set(changes) & CORRECTED)
        if timed:
            hint = "corrected by the commander with a reason (`leitstand incident times`, /times)"
            raise ValidationError([Issue(k, hint) for k in timed])
        with self.changing(incident_id) as (session, row):
            self._refuse_closed(row)
            if "severity" in changes:
                self.check_severity(str(changes["severity"]))
            self._check_refs(changes.get("systems") or [], changes.get("tenants") or [])
            before: dict[str, Any] = {}
            after: dict[str, Any] = {}
            for key, value in changes.items():
                if key == "systems":  # rows of their own (``IncidentRow.system_names``)
                    if row.system_names == list(value):
                        continue
                    before[key], after[key] = row.system_names, value
                    row.system_names = list(value)
                    continue
                old = getattr(row, key)
                stored = json.dumps(list(value)) if key == "tenants" else value
                if old == stored:
                    continue
                before[key] = json.loads(old) if key == "tenants" else old
                after[key] = value
                setattr(row, key, stored)
            check_milestones({m: getattr(row, m) for m in MILESTONES}, now=self.clock.now())
            if not after:
                return IncidentOut.model_validate(row)
            row.updated_at = self.clock.now()
            shown = ", ".join(sorted(after))
            self.ledger.record(
                session,
                actor,
                "incident.updated",
                f"incident:{row.id}",
                payload={
                    "before": _jsonable(before),
                    "after": _jsonable(after),
                    **label_pair(f"Geändert: {shown}", f"Changed: {shown}"),
                },
            )
            self.after_change(session, row, why="updated")
            return IncidentOut.model_validate(row)

    def set_phase(
        self,
        incident_id: str,
        phase: str,
        *,
        actor: Actor,
        at: datetime | None = None,
        note: str | None = None,
    ) -> IncidentOut:
        """Move to the next phase; stamps the milestones the phase implies."""
        try:
            target = Phase(phase)
        except ValueError:
            known = ", ".join(p.value for p in Phase)
            raise ValidationError([Issue("phase", f"one of {known} (got {phase!r})")]) from None
        with self.changing(incident_id) as (session, row):
            check_transition(row.id, row.status, Phase(row.phase), target)
            now = self.clock.now()
            when = at or now
            stamped = []
            for milestone in phase_milestones(target):
                if getattr(row, milestone) is None:
                    setattr(row, milestone, when)
                    stamped.append(milestone)
            check_milestones({m: getattr(row, m) for m in MILESTONES}, now=now)
            previous = row.phase
            row.phase = target.value
            if target is Phase.FOLLOW_UP:
                row.status = IncidentStatus.RESOLVED.value
            row.commander = row.commander or actor.name
            row.updated_at = now
            names = self.policy.incidents.phases
            de = names[target.value].name.de if target.value in names else target.value
            en = names[target.value].name.en if target.value in names else target.value
            self.ledger.record(
                session,
                actor,
                "incident.phase_changed",
                f"incident:{row.id}",
                payload={
                    "from": previous,
                    "to": target.value,
                    "at": when.isoformat(),
                    "stamped": stamped,
                    "note": note,
                    **label_pair(f"Phase: {de}", f"Phase: {en}"),
                },
            )
            self.after_change(session, row, why="phase")
            return IncidentOut.model_validate(row)

    def acknowledge(self, incident_id: str, *, actor: Actor) -> IncidentOut:
        """Take the incident: the reaction time is met; the actor becomes commander if none."""
        with self.changing(incident_id) as (session, row):
            self._refuse_closed(row)
            if row.acknowledged_at is not None:
                when = f"{row.acknowledged_at:%Y-%m-%d %H:%M} UTC"
                raise ConflictError(f"incident {row.id} was already acknowledged at {when}")
            now = self.clock.now()
            row.acknowledged_at = now
            row.commander = row.commander or actor.name
            row.updated_at = now
            self.ledger.record(
                session,
                actor,
                "incident.acknowledged",
                f"incident:{row.id}",
                payload={
                    "after_seconds": (now - row.opened_at).total_seconds(),
                    "commander": row.commander,
                    **label_pair(
                        f"Übernommen von {actor.name} (Incident Commander {row.commander})",
                        f"Acknowledged by {actor.name} (incident commander {row.commander})",
                    ),
                },
            )
            self.after_change(session, row, why="acknowledged")
            return IncidentOut.model_validate(row)

    def correct_times(
        self,
        incident_id: str,
        *,
        reason: str,
        actor: Actor,
        detected_at: datetime | None = None,
        aware_at: datetime | None = None,
    ) -> IncidentOut:
        """The commander corrects detection and awareness, with a reason (recorded).

        The DORA and GDPR clocks run from these: DORA assessments that took the incident's
        awareness take the corrected one, and the deadline timers are re-armed. Only the
        incident's commander may correct them (a responder without one becomes commander).
        """
        issues = []
        if not reason.strip():
            issues.append(Issue("reason", "a reason for the correction (got an empty string)"))
        if detected_at is None and aware_at is None:
            issues.append(Issue("detected_at", "detected_at, aware_at or both (got neither)"))
        for name, value in (("detected_at", detected_at), ("aware_at", aware_at)):
            if value is not None and value.tzinfo is None:
                issues.append(Issue(name, "a time with its zone, e.g. 2026-12-07T03:10:00Z"))
        if issues:
            raise ValidationError(issues)
        with self.changing(incident_id) as (session, row):
            self._refuse_closed(row)
            if row.commander is not None and row.commander != actor.name:
                raise ConflictError(
                    f"only the incident commander ({row.commander}) of {row.id} can correct "
                    f"its detection and awareness"
                )
            before = {"detected_at": row.detected_at, "aware_at": row.aware_at}
            after = {
                "detected_at": detected_at or row.detected_at,
                "aware_at": aware_at or row.aware_at,
            }
            now = self.clock.now()
            milestones = {m: getattr(row, m) for m in MILESTONES} | after
            check_milestones(milestones, now=now)
            row.detected_at, row.aware_at = after["detected_at"], after["aware_at"]
            row.commander = row.commander or actor.name
            row.updated_at = now
            moved = self.reporting_awareness(session, row, before["aware_at"], row.aware_at)
            self.ledger.record(
                session,
                actor,
                "incident.times_corrected",
                f"incident:{row.id}",
                payload={
                    "before": _jsonable(before),
                    "after": _jsonable(after),
                    "reason": reason.strip()[:2000],
                    "dora_assessments": moved,
                    **label_pair(
                        f"Erkennung/Kenntnisnahme korrigiert: {reason.strip()[:200]}",
                        f"Detection/awareness corrected: {reason.strip()[:200]}",
                    ),
                },
            )
            self.after_change(session, row, why="updated")
            return IncidentOut.model_validate(row)

    @staticmethod
    def reporting_awareness(
        session: Session, row: IncidentRow, old: datetime | None, new: datetime | None
    ) -> list[str]:
        """Move the awareness of the DORA assessments that took the incident's; their tenants."""
        if new is None or old == new:
            return []
        moved = []
        for record in store.dora.assessments(session, row.id):
            if old is not None and record.aware_at == old:
                record.aware_at = new
                record.classified_at = max(record.classified_at, new)
                moved.append(record.tenant)
        return sorted(moved)

    def merge(self, incident_id: str, *, into: str, reason: str, actor: Actor) -> IncidentOut:
        """Merge the duplicate ``incident_id`` into ``into`` (close it as a duplicate): its clocks
        stop, its tenants, systems, alerts and timeline join ``into`` (see ``response.merging``)."""
        from leitstand.incidents.response.merging import check_reason, merge_rows

        text = check_reason(reason)
        if not into.strip():
            raise ValidationError([Issue("into", "the incident that lives on (got nothing)")])
        with self.db.transaction() as session:
            # Both rows locked, always in the same order (two opposite merges cannot deadlock).
            rows = {i: self.load_row(session, i, lock=True) for i in sorted({incident_id, into})}
            merge_rows(
                self,
                session,
                rows[incident_id],
                rows[into],
                reason=text,
                actor=actor,
                clocks=self._clocks,
            )
            return IncidentOut.model_validate(rows[incident_id])

    def note(self, incident_id: str, text: str, *, actor: Actor) -> None:
        """Add a manual note to the timeline (stored as evidence)."""
        if not text.strip():
            raise ValidationError([Issue("text", "a note (got an empty string)")])
        with self.changing(incident_id) as (session, row):
            self.ledger.record(
                session,
                actor,
                "incident.note_added",
                f"incident:{row.id}",
                payload={"text": text.strip()[:4000]},
            )
            row.updated_at = self.clock.now()

    def close(self, incident_id: str, *, actor: Actor, at: datetime | None = None) -> IncidentOut:
        """Close after follow-up, once the post-mortem has been written."""
        with self.changing(incident_id) as (session, row):
            if row.status == IncidentStatus.CLOSED.value:
                raise ConflictError(f"incident {row.id} is already closed")
            if row.phase != Phase.FOLLOW_UP.value:
                raise ConflictError(
                    f"incident {row.id} is in phase {row.phase}; it can be closed only in "
                    f"follow_up (move through the phases first)"
                )
            if row.postmortem_at is None:
                raise ConflictError(
                    f"incident {row.id} has no post-mortem yet: run "
                    f"`leitstand incident postmortem {row.id}` first"
                )
            now = self.clock.now()
            row.closed_at = at or now
            check_milestones({m: getattr(row, m) for m in MILESTONES}, now=now)
            row.status = IncidentStatus.CLOSED.value
            row.updated_at = now
            self.ledger.record(
                session,
                actor,
                "incident.closed",
                f"incident:{row.id}",
                payload={
                    "closed_at": row.closed_at.isoformat(),
                    **label_pair("Incident geschlossen", "Incident closed"),
                },
            )
            self.after_change(session, row, why="closed")
            return IncidentOut.model_validate(row)

    # -- reading -------------------------------------------------------------------------------

    def list(
        self,
        *,
        status: str | None = None,
        tenant: str | None = None,
        system: str | None = None,
        limit: int = 200,
    ) -> list[IncidentOut]:
        """Incidents, newest first; optionally of one status, tenant or affected system."""
        with self.db.reader() as session:
            rows = store.incidents.list_incidents(
                session, status=status, tenant=tenant, system=system, limit=limit
            )
            return [IncidentOut.model_validate(r) for r in rows]

    def get(self, incident_id: str) -> IncidentOut:
        """One incident by id."""
        with self.db.reader() as session:
            return IncidentOut.model_validate(self.load_row(session, incident_id))

    def duplicates(self, incident_id: str) -> Sequence[str]:
        """The ids of the duplicates merged into ``incident_id``."""
        with self.db.reader() as session:
            return store.incidents.merged_ids(session, incident_id)

    # -- helpers -------------------------------------------------------------------------------

    def load_row(self, session: Session, incident_id: str, *, lock: bool = False) -> IncidentRow:
        row = store.incidents.incident(session, incident_id, lock=lock and self.db.is_postgres)
        if row is None:
            raise NotFoundError(f"incident {incident_id!r} not found")
        return row

    def after_change(self, session: Session, row: IncidentRow, *, why: str) -> None:
        self.after_changes(session, [row], why=why)

    def after_changes(self, session: Session, rows: Sequence[IncidentRow], *, why: str) -> None:
        """Fire the escalation rules that apply and re-arm the deadline timers of ``rows``."""
        if self._clocks is None:
            return  # wired without alerting (a bare IncidentService): nothing to arm
        self.clocks.inform_many(session, rows, reportable=False, why=why)
        self.clocks.sync_many(session, rows, self.clock.now())
        for hook in self.hooks:
            hook(session, list(rows), why)

    @staticmethod
    def _refuse_closed(row: IncidentRow) -> None:
        if row.status == IncidentStatus.CLOSED.value:
            raise ConflictError(f"incident {row.id} is closed")

    def check_severity(self, severity: str) -> None:
        if severity not in self.policy.incidents.severities:
            known = ", ".join(self.policy.incidents.severities)
            raise ValidationError([Issue("severity", f"one of {known} (got {severity!r})")])

    def _check_refs(self, systems: Any, tenants: Any) -> None:
        issues = [
            Issue(f"systems.{i}", f"one of {', '.join(self.policy.services)} (got {s!r})")
            for i, s in enumerate(systems)
            if self.policy.services and s not in self.policy.services
        ]
        issues += [
            Issue(f"tenants.{i}", f"one of {', '.join(self.policy.tenants)} (got {t!r})")
            for i, t in enumerate(tenants)
            if self.policy.tenants and t not in self.policy.tenants
        ]
        if issues:
            raise ValidationError(issues)


def _jsonable(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in values.items()}
