"""The incident's timeline, read from the evidence ledger, and the post-mortem written from it.

The timeline window runs from the earliest of occurrence, detection and opening (less the
policy's lookback) to closing, or now while the incident is open; which entries belong to it
is decided by ``timeline``, the post-mortem text by ``postmortem``.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

from leitstand.auth.model import Actor
from leitstand.db import Session
from leitstand.errors import Issue, ValidationError
from leitstand.incidents import store
from leitstand.incidents.model import ActionItem, ActionStatus
from leitstand.incidents.reporting.documents import curate
from leitstand.incidents.reporting.postmortem import Reporting, render_postmortem
from leitstand.incidents.reporting.timeline import Scope, TimelineEntry, assemble, prefixes
from leitstand.incidents.schemas import IncidentOut, PostmortemOut
from leitstand.incidents.service import IncidentPart
from leitstand.incidents.store import IncidentRow, ledger_window

__all__ = ["IncidentHistory"]


class IncidentHistory(IncidentPart):
    """Timeline and post-mortem of an incident."""

    def entries(self, session: Session, row: IncidentRow) -> list[TimelineEntry]:
        """The timeline of ``row`` within ``session``."""
        lookback = self.policy.incidents.response.timeline_lookback
        start = min(t for t in (row.occurred_at, row.detected_at, row.opened_at) if t is not None)
        end = row.closed_at or self.clock.now()
        merged = store.incidents.merged_ids(session, row.id)
        alert_ids = {row.alert_id} if row.alert_id else set()
        alert_ids |= {
            a for a in store.response.deadline_alert_ids(session, row.id) if a is not None
        }
        if merged:  # the duplicates' alerts are this incident's, and so is their time
            for dup in store.incidents.incidents(session, merged):
                alert_ids |= {dup.alert_id} if dup.alert_id else set()
                start = min(
                    [start] + [t for t in (dup.occurred_at, dup.detected_at, dup.opened_at) if t]
                )
        scope = Scope(
            incident_id=row.id,
            since=_earlier(start, lookback),
            until=end + timedelta(seconds=1),
            systems=frozenset(row.system_names),
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
        """The curated timeline a document shows: only this incident's story (documents)."""
        merged = store.incidents.merged_ids(session, row.id)
        alert_ids: set[int | None] = {row.alert_id}
        alert_ids |= set(store.response.deadline_alert_ids(session, row.id))
        alert_ids |= set(store.incidents.alert_ids(session, merged))
        return curate(
            self.entries(session, row),
            incident_id=row.id,
            alert_subjects={f"alert:{a}" for a in alert_ids if a is not None},
            systems=row.system_names,
            lang=lang,
            merged=merged,
        )

    def timeline(self, incident_id: str) -> list[TimelineEntry]:
        """The incident's timeline, assembled from the evidence ledger."""
        with self.db.reader() as session:
            return self.entries(session, self.incidents.load_row(session, incident_id))

    def postmortem(self, incident_id: str, *, actor: Actor, lang: str = "de") -> PostmortemOut:
        """Generate the post-mortem; with root cause and impact filled in it meets its deadline."""
        if lang not in ("de", "en"):
            raise ValidationError([Issue("lang", f"de or en (got {lang!r})")])
        with self.incidents.changing(incident_id) as (session, row):
            incident = IncidentOut.model_validate(row)
            actions = [
                ActionItem(a.number, a.title, a.owner, a.due_date, ActionStatus(a.status))
                for a in store.response.actions(session, incident_id)
            ]
            dora = store.dora.assessments(session, incident_id)
            submitted = [
                (r.tenant, r.stage, r.submitted_at)
                for r in store.dora.reports(session, incident_id)
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
            return PostmortemOut(markdown=text, sha256=digest, complete=complete, missing=missing)


def _earlier(when: datetime, span: timedelta) -> datetime:
    # A row from before input bounds existed (occurred_at in the year 1) must not break the
    # timeline: the window then starts at that row's own time.
    try:
        return when - span
    except OverflowError:
        return when
