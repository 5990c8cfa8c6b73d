"""The incident's timeline, read from the evidence ledger, and the post-mortem written from it.

The timeline window runs from the earliest of occurrence, detection and opening (less the
policy's lookback) to closing, or now while the incident is open; which entries belong to it
is decided by ``timeline``, the post-mortem text by ``postmortem``.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from leitstand.auth.model import Actor
from leitstand.errors import Issue, ValidationError
from leitstand.incidents.documents import curate
from leitstand.incidents.merging import merged_ids
from leitstand.incidents.model import ActionItem, ActionStatus
from leitstand.incidents.postmortem import Reporting, render_postmortem
from leitstand.incidents.readmodel import view_of
from leitstand.incidents.service import IncidentPart
from leitstand.incidents.store import (
    ActionItemRow,
    DoraAssessmentRow,
    DoraReportRow,
    IncidentAlertRow,
    IncidentRow,
    ledger_window,
)
from leitstand.incidents.timeline import Scope, TimelineEntry, assemble, prefixes

__all__ = ["IncidentHistory"]


class IncidentHistory(IncidentPart):
    """Timeline and post-mortem of an incident."""

    def entries(self, session: Session, row: IncidentRow) -> list[TimelineEntry]:
        """The timeline of ``row`` within ``session``."""
        lookback = self.policy.incidents.response.timeline_lookback
        start = min(t for t in (row.occurred_at, row.detected_at, row.opened_at) if t is not None)
        end = row.closed_at or self.clock.now()
        merged = merged_ids(session, row.id)
        alert_ids = {row.alert_id} if row.alert_id else set()
        alert_ids |= {
            a
            for a in session.execute(
                sa.select(IncidentAlertRow.alert_id).where(IncidentAlertRow.incident_id == row.id)
            ).scalars()
            if a is not None
        }
        if merged:  # the duplicates' alerts are this incident's, and so is their time
            for dup in session.execute(
                sa.select(IncidentRow).where(IncidentRow.id.in_(merged))
            ).scalars():
                alert_ids |= {dup.alert_id} if dup.alert_id else set()
                start = min(
                    [start] + [t for t in (dup.occurred_at, dup.detected_at, dup.opened_at) if t]
                )
        scope = Scope(
            incident_id=row.id,
            since=_earlier(start, lookback),
            until=end + timedelta(seconds=1),
            systems=frozenset(json.loads(row.systems or "[]")),
            tenants=frozenset(json.loads(row.tenants or "[]")),
            alert_ids=frozenset(alert_ids),
            merged=frozenset(merged),
        )
        entries = ledger_window(
            session,
            since=scope.since,
            until=scope.until,
            prefixes=prefixes(),
            subject=f"incident:{row.id}",
            also=[f"incident:{i}" for i in merged],
        )
        return assemble(entries, scope)

    def story(self, session: Session, row: IncidentRow, lang: str = "de") -> list[TimelineEntry]:
        """The curated timeline a document shows: only this incident's story (documents.py)."""
        merged = merged_ids(session, row.id)
        alert_ids: set[int | None] = {row.alert_id}
        alert_ids |= set(
            session.execute(
                sa.select(IncidentAlertRow.alert_id).where(IncidentAlertRow.incident_id == row.id)
            ).scalars()
        )
        alert_ids |= set(
            session.execute(
                sa.select(IncidentRow.alert_id).where(IncidentRow.id.in_(merged))
            ).scalars()
        )
        return curate(
            self.entries(session, row),
            incident_id=row.id,
            alert_subjects={f"alert:{a}" for a in alert_ids if a is not None},
            systems=json.loads(row.systems or "[]"),
            lang=lang,
            merged=merged,
        )

    def timeline(self, incident_id: str) -> list[TimelineEntry]:
        """The incident's timeline, assembled from the evidence ledger."""
        with self.db.reader() as session:
            return self.entries(session, self.incidents.load_row(session, incident_id))

    def postmortem(self, incident_id: str, *, actor: Actor, lang: str = "de") -> dict[str, Any]:
        """Generate the post-mortem; with root cause and impact filled in it meets its deadline."""
        if lang not in ("de", "en"):
            raise ValidationError([Issue("lang", f"de or en (got {lang!r})")])
        with self.incidents.changing(incident_id) as (session, row):
            incident = view_of(row)
            actions = [
                ActionItem(a.number, a.title, a.owner, a.due_date, ActionStatus(a.status))
                for a in session.execute(
                    sa.select(ActionItemRow)
                    .where(ActionItemRow.incident_id == incident_id)
                    .order_by(ActionItemRow.number)
                ).scalars()
            ]
            dora = (
                session.execute(
                    sa.select(DoraAssessmentRow).where(DoraAssessmentRow.incident_id == incident_id)
                )
                .scalars()
                .all()
            )
            submitted = [
                (r.tenant, r.stage, r.submitted_at)
                for r in session.execute(
                    sa.select(DoraReportRow)
                    .where(DoraReportRow.incident_id == incident_id)
                    .order_by(DoraReportRow.submitted_at)
                ).scalars()
            ]
            now = self.clock.now()
            text = render_postmortem(
                incident,
                self.story(session, row, lang),
                actions,
                Reporting(
                    dora_major_tenants=sorted(d.tenant for d in dora if d.major),
                    dora_submitted=submitted,
                    gdpr_required=bool(row.personal_data_affected),
                    gdpr_notified_at=row.gdpr_notified_at,
                ),
                now=now,
                tz=self.incidents.clocks.calendar.tz,
                lang=lang,
            )
            digest = hashlib.sha256(text.encode()).hexdigest()
            complete = bool(row.root_cause and row.impact)
            missing = [n for n in ("root_cause", "impact") if not getattr(row, n)]
            if complete and row.postmortem_at is None:
                row.postmortem_at = now
            if complete:
                row.postmortem_sha256 = digest
            self.ledger.record(
                session,
                actor,
                "incident.postmortem_generated",
                f"incident:{incident_id}",
                payload={
                    "lang": lang,
                    "sha256": digest,
                    "complete": complete,
                    "missing": missing,
                    "label_de": "Post-Mortem erstellt" + ("" if complete else " (Entwurf)"),
                    "label_en": "Post-mortem written" + ("" if complete else " (draft)"),
                },
            )
            self.incidents.after_change(session, row, why="postmortem")
            return {"markdown": text, "sha256": digest, "complete": complete, "missing": missing}


def _earlier(when: datetime, span: timedelta) -> datetime:
    # A row from before input bounds existed (occurred_at in the year 1) must not break the
    # timeline: the window then starts at that row's own time.
    try:
        return when - span
    except OverflowError:
        return when
