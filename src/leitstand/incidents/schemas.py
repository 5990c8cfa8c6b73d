"""Incident wire formats: inputs are strict (unknown keys, negative counts and times without an
offset are refused with the field path); outputs mirror the read model."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    field_validator,
    model_validator,
)

from leitstand.api_types import Timestamp
from leitstand.incidents.dora.check import ClassificationOut
from leitstand.incidents.dora.duration import incident_duration
from leitstand.incidents.dora.entities import ENTITY_TYPES, MEMBER_STATES
from leitstand.incidents.dora.facts import AssessmentIn, ClassifyIn
from leitstand.incidents.parsing import issues_of, parse_model
from leitstand.read_models import IsoTime

if TYPE_CHECKING:
    from leitstand.incidents.reporting.timeline import TimelineEntry
    from leitstand.incidents.response.deadlines import Deadline

__all__ = [
    "ENTITY_TYPES",
    "MEMBER_STATES",
    "ActionIn",
    "ActionOut",
    "ActionPatch",
    "AssessmentIn",
    "AssessmentOut",
    "ClassificationOut",
    "ClassifyIn",
    "DeadlineOut",
    "DetailOut",
    "DoraReportOut",
    "FixDecisionIn",
    "FixDecisionOut",
    "FixOut",
    "IncidentIn",
    "IncidentOut",
    "IncidentPatch",
    "IsoTime",
    "MergeIn",
    "NoteIn",
    "NotedOut",
    "NoticeDraftOut",
    "NoticeOut",
    "NoticeSentOut",
    "PhaseIn",
    "PostmortemOut",
    "ReleasedOut",
    "ReportFieldOut",
    "ReportSectionOut",
    "SubmissionOut",
    "SubmitIn",
    "SubmittedOut",
    "TimelineEntryOut",
    "TimesIn",
    "issues_of",
    "parse_model",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IncidentIn(_Strict):
    title: Annotated[str, Field(min_length=1, max_length=500)]
    severity: str
    systems: list[str] = Field(default_factory=list)
    tenants: list[str] = Field(default_factory=list)
    description: str | None = None
    personal_data_affected: StrictBool = False
    occurred_at: Timestamp | None = None


_NOT_NULL = ("title", "severity", "systems", "tenants", "personal_data_affected")


class IncidentPatch(_Strict):
    title: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    severity: str | None = None
    systems: list[str] | None = None
    tenants: list[str] | None = None
    commander: str | None = None
    scribe: str | None = None
    communication: str | None = None
    description: str | None = None
    root_cause: str | None = None
    root_cause_key: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,99}$")] | None = None
    impact: str | None = None
    personal_data_affected: StrictBool | None = None
    occurred_at: Timestamp | None = None
    detected_at: Timestamp | None = None
    aware_at: Timestamp | None = None
    acknowledged_at: Timestamp | None = None
    contained_at: Timestamp | None = None
    recovered_at: Timestamp | None = None
    resolved_at: Timestamp | None = None

    @model_validator(mode="after")
    def _no_null_for_required(self) -> Self:
        # These fields always have a value: leaving them out keeps it, null cannot clear it.
        nulls = [k for k in _NOT_NULL if k in self.model_fields_set and getattr(self, k) is None]
        if nulls:
            raise ValueError(f"{', '.join(nulls)}: cannot be null (leave the field out to keep it)")
        return self

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class PhaseIn(_Strict):
    phase: str
    at: Timestamp | None = None
    note: str | None = None


class NoteIn(_Strict):
    text: Annotated[str, Field(min_length=1, max_length=4000)]


class TimesIn(_Strict):
    """A commander's correction of detection and awareness (the DORA and GDPR clocks)."""

    detected_at: Timestamp | None = None
    aware_at: Timestamp | None = None
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class MergeIn(_Strict):
    """Merge this incident (the duplicate) into ``into``, with a reason (recorded)."""

    into: Annotated[str, Field(pattern=r"^INC-\d{4}-\d{4,}$", max_length=32)]
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class ActionIn(_Strict):
    title: Annotated[str, Field(min_length=1, max_length=1000)]
    owner: Annotated[str, Field(min_length=1, max_length=200)]
    due_date: date


class ActionPatch(_Strict):
    status: Literal["open", "in_progress", "done", "cancelled"] | None = None
    owner: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    due_date: date | None = None


class SubmitIn(_Strict):
    submitted_at: Timestamp | None = None
    reference: Annotated[str, Field(max_length=200)] | None = None


class FixDecisionIn(_Strict):
    """The compliance officer's decision on a fix (release) for a SEV-1/2 incident."""

    service: Annotated[str, Field(min_length=1, max_length=200)]
    version: Annotated[str, Field(min_length=1, max_length=200)]
    approve: bool = True
    note: Annotated[str, Field(max_length=2000)] | None = None


# -- read models (what services return and the API answers) ----------------------------------


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class IncidentOut(_Out):
    """An incident as services return it and the API shows it."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: str
    title: str
    severity: str
    status: str
    phase: str
    opened_at: datetime
    opened_by: str
    service: str | None
    tenant: str | None
    source: str
    alert_id: int | None
    alert_fingerprint: str | None
    escalation_id: int | None
    # A row's systems are rows of their own (``IncidentRow.system_names``).
    systems: list[str] = Field(validation_alias=AliasChoices("system_names", "systems"))
    tenants: list[str]
    commander: str | None
    scribe: str | None
    communication: str | None
    description: str | None
    root_cause: str | None
    root_cause_key: str | None
    impact: str | None
    occurred_at: datetime | None
    detected_at: datetime | None
    aware_at: datetime | None
    acknowledged_at: datetime | None
    contained_at: datetime | None
    recovered_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    personal_data_affected: bool
    gdpr_notified_at: datetime | None
    postmortem_at: datetime | None
    merged_into: str | None = None

    @field_validator("systems", "tenants", mode="before")
    @classmethod
    def _json_list(cls, value: object) -> object:
        # The row stores the tenants as JSON text (the systems as rows: a list already).
        return json.loads(value or "[]") if isinstance(value, str | None) else value

    def duration_seconds(self, now: datetime) -> float:
        """DORA's duration (``dora.duration``): from occurrence to resolution (or now)."""
        return incident_duration(self, now).total_seconds()


class TimelineEntryOut(_Out):
    """One line of an incident's timeline (from the evidence ledger)."""

    time: str
    kind: str
    action: str
    text: str
    text_en: str
    actor: str
    role: str
    subject: str
    tenant: str | None
    system: str | None
    ledger_index: int

    @classmethod
    def of(cls, entry: TimelineEntry) -> TimelineEntryOut:
        return cls(
            time=entry.time,
            kind=entry.kind,
            action=entry.action,
            text=entry.text_de,
            text_en=entry.text_en,
            actor=entry.actor,
            role=entry.role,
            subject=entry.subject,
            tenant=entry.tenant,
            system=entry.system,
            ledger_index=entry.ledger_index,
        )


class DeadlineOut(_Out):
    """A deadline of an incident and where it stands at the time of asking."""

    clock: str
    tenant: str | None
    label: str
    label_en: str
    due_at: IsoTime
    met_at: IsoTime | None
    open: bool
    overdue: bool
    late: bool
    seconds_left: int | None

    @classmethod
    def of(cls, deadline: Deadline, now: datetime) -> DeadlineOut:
        open_ = deadline.open
        met = deadline.met_at
        return cls(
            clock=deadline.clock,
            tenant=deadline.tenant,
            label=deadline.label_de,
            label_en=deadline.label_en,
            due_at=deadline.due_at,
            met_at=met,
            open=open_,
            overdue=open_ and now >= deadline.due_at,
            late=met is not None and met > deadline.due_at,
            seconds_left=int((deadline.due_at - now).total_seconds()) if open_ else None,
        )


class ActionOut(_Out):
    """An action item (Maßnahme)."""

    number: int
    title: str
    owner: str
    due_date: date
    status: str
    overdue: bool
    created_at: IsoTime
    created_by: str
    done_at: IsoTime | None


class AssessmentOut(_Out):
    """A tenant's DORA classification of an incident, and its submissions."""

    tenant: str
    entity_type: str
    major: bool
    criteria_met: list[str]
    reasons: list[str]
    reasons_en: list[str]
    inputs: dict[str, Any]
    aware_at: IsoTime
    classified_at: IsoTime
    assessed_at: IsoTime
    assessed_by: str
    initial_submitted_at: IsoTime | None
    intermediate_submitted_at: IsoTime | None
    final_submitted_at: IsoTime | None


class SubmissionOut(_Out):
    """A report as it went to the authority."""

    tenant: str
    stage: str
    submitted_at: IsoTime
    submitted_by: str
    reference: str | None
    sha256: str


class SubmittedOut(_Out):
    """The answer to recording a submission."""

    stage: str
    tenant: str
    submitted_at: IsoTime
    sha256: str


class DetailOut(_Out):
    """Incident, timeline, deadlines, action items, DORA assessments and submissions."""

    incident: IncidentOut
    timeline: list[TimelineEntryOut]
    deadlines: list[DeadlineOut]
    actions: list[ActionOut]
    dora: list[AssessmentOut]
    submissions: list[SubmissionOut]


class NotedOut(_Out):
    status: Literal["noted"] = "noted"


class FixDecisionOut(_Out):
    """A recorded approval (or rejection) of a fix."""

    incident_id: str
    service: str
    version: str
    approved: bool
    by: str


class FixOut(_Out):
    """One approval decision of an incident's fix, as the ledger holds it."""

    service: str | None
    version: str | None
    approved: bool
    by: str
    role: str
    at: str
    note: str | None
    ledger_index: int


class ReleasedOut(_Out):
    at: str
    by: str
    role: str


class NoticeOut(_Out):
    """A notice to an affected broker house (tenant)."""

    tenant: str
    name: str
    to: str | None
    subject: str
    body: str


class NoticeDraftOut(NoticeOut):
    released: ReleasedOut | None


class NoticeSentOut(NoticeOut):
    channels: dict[str, str]


class PostmortemOut(_Out):
    markdown: str
    sha256: str
    complete: bool
    missing: list[str]


class ReportFieldOut(_Out):
    field: str
    name: str
    name_en: str
    key: str
    value: Any


class ReportSectionOut(_Out):
    section: str
    title: str
    title_en: str
    fields: list[ReportFieldOut]


class DoraReportOut(_Out):
    """A DORA report draft: the template's sections with numbered fields."""

    template: str
    template_en: str
    authority: str
    stage: str
    stage_name: str
    stage_name_en: str
    incident_id: str
    tenant: str
    timezone: str
    sections: list[ReportSectionOut]
    missing_fields: list[str]
