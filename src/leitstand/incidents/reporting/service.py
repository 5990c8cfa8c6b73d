"""DORA per tenant, the GDPR clock, report drafts and submissions, and the whole picture.

The SaaS is the ICT provider of its tenants, so the reporting duty stays with each tenant
(financial entity): every affected tenant gets its own classification, deadlines and drafts.
``IncidentReporting`` is the service the entry points use; it hands the timeline and the
post-mortem to ``history`` and the monthly recurring-incident check to ``recurring``.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from leitstand.alerting.outbox import Outbox
from leitstand.auth.model import Actor
from leitstand.db import Session
from leitstand.errors import ConflictError, Issue, NotFoundError, ValidationError
from leitstand.incidents import store
from leitstand.incidents.dora.classification import assessment_of, classify
from leitstand.incidents.dora.due_dates import ReportStage
from leitstand.incidents.dora.duration import incident_duration_hours
from leitstand.incidents.dora.recurring import RecurringIncidents
from leitstand.incidents.reporting.documents import recovery_measures
from leitstand.incidents.reporting.dora_reports import ReportContext, build_report
from leitstand.incidents.reporting.gdpr_notification import gdpr_markdown
from leitstand.incidents.reporting.history import IncidentHistory
from leitstand.incidents.response.actions import action_out
from leitstand.incidents.response.approvals import FixApprovals
from leitstand.incidents.response.notices import TenantNotices
from leitstand.incidents.schemas import (
    AssessmentIn,
    AssessmentOut,
    DeadlineOut,
    DetailOut,
    DoraReportOut,
    IncidentOut,
    PostmortemOut,
    SubmissionOut,
    SubmittedOut,
    TimelineEntryOut,
)
from leitstand.incidents.service import IncidentPart, IncidentService
from leitstand.incidents.store import DoraAssessmentRow, DoraReportRow, IncidentRow
from leitstand.scheduler.service import JobContext

__all__ = ["IncidentReporting"]


def _stage(value: str) -> ReportStage:
    try:
        return ReportStage(value)
    except ValueError:
        known = ", ".join(s.value for s in ReportStage)
        raise ValidationError([Issue("stage", f"one of {known} (got {value!r})")]) from None


class IncidentReporting(IncidentPart):
    """Assess, draft, submit, notify; the detail view, timeline, post-mortem, recurring check."""

    def __init__(self, incidents: IncidentService, *, outbox: Outbox | None = None) -> None:
        super().__init__(incidents)
        self.notices = TenantNotices(incidents, outbox=outbox)
        incidents.hooks.append(self.notices.on_change)
        self.history = IncidentHistory(incidents)
        self.fixes = FixApprovals(incidents)
        self.recurrences = RecurringIncidents(incidents, entity_type=self.entity_type)

    # -- DORA per tenant -----------------------------------------------------------------------

    def entity_type(self, tenant: str, given: str | None = None) -> str:
        configured = self.policy.tenants.get(tenant)
        return (
            given
            or (configured.entity_type if configured else None)
            or self.policy.incidents.response.default_entity_type
        )

    def assess(
        self, incident_id: str, tenant: str, facts: AssessmentIn, *, actor: Actor
    ) -> AssessmentOut:
        """Classify the incident for one tenant; a major result starts its DORA deadlines."""
        with self.incidents.changing(incident_id) as (session, row):
            tenants: list[str] = json.loads(row.tenants or "[]")
            if tenant not in tenants:
                raise ValidationError(
                    [Issue("tenant", f"one of the incident's tenants {tenants} (got {tenant!r})")]
                )
            result = classify(facts.assessment())
            now = self.clock.now()
            existing = store.dora.assessment(session, incident_id, tenant)
            aware = facts.aware_at or row.aware_at or row.opened_at
            classified = facts.classified_at
            if classified is None:
                keep = existing is not None and existing.major and result.major
                classified = existing.classified_at if keep and existing else now
            if classified < aware:
                raise ValidationError([Issue("classified_at", "must not be before aware_at")])
            record = existing or DoraAssessmentRow(incident_id=incident_id, tenant=tenant)
            record.entity_type = self.entity_type(tenant, facts.entity_type)
            record.inputs = json.dumps(facts.facts(), sort_keys=True)
            record.major = result.major
            record.criteria = json.dumps([c.value for c in result.criteria_met])
            record.aware_at, record.classified_at = aware, classified
            record.assessed_at, record.assessed_by = now, actor.name
            if existing is None:
                session.add(record)
            was_major = existing is not None and existing.major
            verdict_de = "schwerwiegend" if result.major else "nicht schwerwiegend"
            verdict_en = "major" if result.major else "not major"
            self.ledger.record(
                session,
                actor,
                "incident.dora_assessed",
                f"incident:{incident_id}",
                tenant=tenant,
                payload={
                    "major": result.major,
                    "was_major": was_major,
                    "criteria_met": [c.value for c in result.criteria_met],
                    "reasons": result.reason_texts("de"),
                    "entity_type": record.entity_type,
                    "aware_at": aware.isoformat(),
                    "classified_at": classified.isoformat(),
                    "label_de": f"DORA-Bewertung {tenant}: {verdict_de}",
                    "label_en": f"DORA assessment {tenant}: {verdict_en}",
                },
            )
            if result.major:
                self.incidents.clocks.inform(
                    session, row, reportable=True, why=f"DORA: {tenant} {verdict_de}"
                )
            self.incidents.after_change(session, row, why="dora")
            return self._assessment_out(record)

    def assessments(self, incident_id: str) -> list[AssessmentOut]:
        with self.db.reader() as session:
            self.incidents.load_row(session, incident_id)
            rows = store.dora.assessments(session, incident_id)
            return [self._assessment_out(r) for r in rows]

    @staticmethod
    def _assessment_out(r: DoraAssessmentRow) -> AssessmentOut:
        result = classify(assessment_of(json.loads(r.inputs)))
        return AssessmentOut(
            tenant=r.tenant,
            entity_type=r.entity_type,
            major=r.major,
            criteria_met=json.loads(r.criteria),
            reasons=result.reason_texts("de"),
            reasons_en=result.reason_texts("en"),
            inputs=json.loads(r.inputs),
            aware_at=r.aware_at,
            classified_at=r.classified_at,
            assessed_at=r.assessed_at,
            assessed_by=r.assessed_by,
            initial_submitted_at=r.initial_submitted_at,
            intermediate_submitted_at=r.intermediate_submitted_at,
            final_submitted_at=r.final_submitted_at,
        )

    # -- drafts and submissions ----------------------------------------------------------------

    def draft(self, incident_id: str, tenant: str, stage: str) -> DoraReportOut:
        """The report draft of ``stage`` for ``tenant`` (JSON; Markdown via ``dora_reports``)."""
        with self.db.reader() as session:
            return DoraReportOut.model_validate(
                self._draft(session, incident_id, tenant, _stage(stage))
            )

    def _draft(
        self, session: Session, incident_id: str, tenant: str, stage: ReportStage
    ) -> dict[str, Any]:
        row = self.incidents.load_row(session, incident_id)
        record = self._record(session, incident_id, tenant)
        facts = json.loads(record.inputs)
        incident = IncidentOut.model_validate(row)
        configured = self.policy.tenants.get(tenant)
        clients_total = facts.get("clients_total") or 0
        latest_auth_ref = store.dora.latest_reference(session, incident_id, tenant)
        values: dict[str, Any] = {
            "entity_name": configured.name if configured else tenant,
            "entity_code": None,
            "entity_type": record.entity_type,
            "lei": None,
            "contact": None,  # the policy knows the tenant's address, not a person's name
            "contact_email": configured.contact if configured else None,
            "currency": "EUR",
            "incident_id": incident.id,
            "aware_at": record.aware_at,
            "classified_at": record.classified_at,
            "description": incident.description or incident.title,
            "criteria": json.loads(record.criteria),
            "member_states": facts.get("member_states_affected") or [],
            "member_state_impacts": facts.get("member_state_impacts") or None,
            "discovery": "monitoring" if incident.source == "alert" else "manual",
            "third_party": None,
            "bcp": None,
            "authority_reference": latest_auth_ref,
            "occurred_at": incident.occurred_at,
            "recovered_at": incident.recovered_at,
            "clients_affected": facts.get("clients_affected"),
            "clients_pct": round(100 * facts["clients_affected"] / clients_total, 2)
            if clients_total
            else None,
            "counterparts_pct": facts.get("financial_counterparts_affected_pct"),
            "relevant_clients": facts.get("relevant_clients_affected"),
            "transactions_number_pct": facts.get("transactions_number_affected_pct"),
            "transactions_value_pct": facts.get("transactions_value_affected_pct"),
            "reputation": facts.get("reputational_impact") or [],
            "duration_hours": incident_duration_hours(incident, self.clock.now()),
            "downtime_hours": facts.get("critical_function_downtime_hours"),
            "data_loss": [k for k, v in (facts.get("data_loss") or {}).items() if v],
            "critical_services": facts.get("critical_services_affected"),
            "systems": incident.systems,
            "containment": self._containment(session, row),
            "root_cause": incident.root_cause,
            "resolution": None,
            "resolved_at": incident.resolved_at,
            "economic_met": "economic_impact" in json.loads(record.criteria),
            "economic_eur": facts.get("economic_impact_eur"),
            "recurring": self.recurrences.incident_ids(session, tenant, row.root_cause_key),
        }
        ctx = ReportContext(
            incident_id=incident.id,
            tenant=tenant,
            values=values,
            authority=self.policy.incidents.dora.authority,
            timezone=self.incidents.clocks.calendar.tz.key,
        )
        return build_report(stage, ctx)

    def _containment(self, session: Session, row: IncidentRow) -> list[str]:
        return recovery_measures(self.history.story(session, row), "de")

    def _record(self, session: Session, incident_id: str, tenant: str) -> DoraAssessmentRow:
        record = store.dora.assessment(session, incident_id, tenant)
        if record is None:
            raise NotFoundError(
                f"incident {incident_id} has no DORA assessment for tenant {tenant!r}: "
                f"assess it first"
            )
        return record

    def submit(
        self,
        incident_id: str,
        tenant: str,
        stage: str,
        *,
        actor: Actor,
        submitted_at: datetime | None = None,
        reference: str | None = None,
    ) -> SubmittedOut:
        """Record that a report went to the authority: the exact draft, when and by whom."""
        wanted = _stage(stage)
        with self.incidents.changing(incident_id) as (session, row):
            record = self._record(session, incident_id, tenant)
            if not record.major:
                raise ConflictError(
                    f"incident {incident_id} is not major for {tenant}: nothing to report"
                )
            now = self.clock.now()
            when = submitted_at or now
            if when > now:
                raise ValidationError([Issue("submitted_at", "must not be in the future")])
            before = {
                ReportStage.INITIAL: None,
                ReportStage.INTERMEDIATE: record.initial_submitted_at,
                ReportStage.FINAL: record.intermediate_submitted_at,
            }[wanted]
            if wanted is not ReportStage.INITIAL and before is None:
                raise ConflictError(
                    f"the {wanted.value} report of {tenant} needs the previous stage submitted"
                )
            if before is not None and when < before:
                raise ValidationError(
                    [Issue("submitted_at", "must not be before the previous report")]
                )
            if wanted is ReportStage.INITIAL and record.initial_submitted_at is not None:
                raise ConflictError(f"the initial notification of {tenant} was already submitted")
            if wanted is ReportStage.FINAL and record.final_submitted_at is not None:
                raise ConflictError(f"the final report of {tenant} was already submitted")
            content = self._draft(session, incident_id, tenant, wanted)
            text = json.dumps(content, sort_keys=True, ensure_ascii=False)
            digest = hashlib.sha256(text.encode()).hexdigest()
            setattr(record, f"{wanted.value}_submitted_at", when)
            session.add(
                DoraReportRow(
                    incident_id=incident_id,
                    tenant=tenant,
                    stage=wanted.value,
                    submitted_at=when,
                    submitted_by=actor.name,
                    reference=reference,
                    content=text,
                    sha256=digest,
                )
            )
            self.ledger.record(
                session,
                actor,
                "incident.report_submitted",
                f"incident:{incident_id}",
                tenant=tenant,
                payload={
                    "stage": wanted.value,
                    "submitted_at": when.isoformat(),
                    "reference": reference,
                    "sha256": digest,
                    "label_de": f"DORA-{content['stage_name']} für {tenant} übermittelt",
                    "label_en": f"DORA {content['stage_name_en']} {tenant} submitted",
                },
            )
            self.incidents.after_change(session, row, why="report")
            return SubmittedOut(stage=wanted.value, tenant=tenant, submitted_at=when, sha256=digest)

    def submissions(self, incident_id: str) -> list[SubmissionOut]:
        with self.db.reader() as session:
            rows = store.dora.reports(session, incident_id)
            return [
                SubmissionOut(
                    tenant=r.tenant,
                    stage=r.stage,
                    submitted_at=r.submitted_at,
                    submitted_by=r.submitted_by,
                    reference=r.reference,
                    sha256=r.sha256,
                )
                for r in rows
            ]

    # -- GDPR ----------------------------------------------------------------------------------

    def gdpr_notified(
        self, incident_id: str, *, actor: Actor, at: datetime | None = None
    ) -> IncidentOut:
        """Record the GDPR Art. 33 notification to the supervisory authority."""
        with self.incidents.changing(incident_id) as (session, row):
            if not row.personal_data_affected:
                raise ConflictError(f"incident {incident_id} does not affect personal data")
            if row.gdpr_notified_at is not None:
                raise ConflictError(f"the GDPR notification of {incident_id} was already recorded")
            now = self.clock.now()
            row.gdpr_notified_at = at or now
            self.ledger.record(
                session,
                actor,
                "incident.gdpr_notified",
                f"incident:{incident_id}",
                payload={
                    "notified_at": row.gdpr_notified_at.isoformat(),
                    "label_de": "DSGVO-Meldung (Art. 33) erfolgt",
                    "label_en": "GDPR notification (Art. 33) made",
                },
            )
            self.incidents.after_change(session, row, why="gdpr")
            return IncidentOut.model_validate(row)

    def gdpr_draft(self, incident_id: str, lang: str = "de") -> str:
        """The GDPR Art. 33 notification draft (Markdown); needs personal data affected."""
        with self.db.reader() as session:
            row = self.incidents.load_row(session, incident_id)
            if not row.personal_data_affected:
                raise ConflictError(f"incident {incident_id} does not affect personal data")
            clocks = self.incidents.clocks
            due = next(
                (d.due_at for d in clocks.deadlines(session, row) if d.clock == "gdpr"), None
            )
            return gdpr_markdown(
                IncidentOut.model_validate(row),
                due_at=due,
                measures=recovery_measures(self.history.story(session, row, lang), lang),
                tz=clocks.calendar.tz,
                lang=lang,
            )

    # -- the whole picture ---------------------------------------------------------------------

    def detail(self, incident_id: str) -> DetailOut:
        """Incident, timeline, open deadlines, action items, DORA and submissions."""
        now = self.clock.now()
        with self.db.reader() as session:
            row = self.incidents.load_row(session, incident_id)
            clocks = self.incidents.clocks
            deadlines = [DeadlineOut.of(d, now) for d in clocks.deadlines(session, row)]
            timeline = [TimelineEntryOut.of(e) for e in self.history.entries(session, row)]
            today = clocks.calendar.local(now).date()
            actions = [action_out(a, today) for a in store.response.actions(session, incident_id)]
            incident = IncidentOut.model_validate(row)
        return DetailOut(
            incident=incident,
            timeline=timeline,
            deadlines=deadlines,
            actions=actions,
            dora=self.assessments(incident_id),
            submissions=self.submissions(incident_id),
        )

    # -- timeline, post-mortem and recurring incidents (history, dora.recurring) -----------------

    def timeline(self, incident_id: str) -> list[TimelineEntryOut]:
        """The incident's timeline, assembled from the evidence ledger."""
        return [TimelineEntryOut.of(e) for e in self.history.timeline(incident_id)]

    def postmortem(self, incident_id: str, *, actor: Actor, lang: str = "de") -> PostmortemOut:
        """Generate the post-mortem; with root cause and impact filled in it meets its deadline."""
        return self.history.postmortem(incident_id, actor=actor, lang=lang)

    def recurring(self, session: Session, *, now: datetime, record: bool) -> list[dict[str, Any]]:
        """Find groups of recurring incidents per tenant; ``record`` stores and alerts new ones."""
        return self.recurrences.find(session, now=now, record=record)

    def handle_recurring(self, ctx: JobContext) -> None:
        """Monthly timer: record recurring incidents that are major together."""
        self.recurrences.handle(ctx)
