"""Incident API: the response process, DORA per tenant, GDPR, action items, post-mortems."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from fastapi.responses import Response

from leitstand.api_types import PathId
from leitstand.auth.api import requires
from leitstand.auth.model import Actor, Role
from leitstand.deps import provide
from leitstand.incidents.dora.check import classify_document
from leitstand.incidents.reporting.documents import MEDIA_TYPES, render_document
from leitstand.incidents.reporting.dora_reports import report_markdown
from leitstand.incidents.reporting.service import IncidentReporting
from leitstand.incidents.response.actions import ActionItems
from leitstand.incidents.schemas import (
    ActionIn,
    ActionOut,
    ActionPatch,
    AssessmentIn,
    AssessmentOut,
    ClassificationOut,
    ClassifyIn,
    DetailOut,
    DoraReportOut,
    FixDecisionIn,
    FixDecisionOut,
    FixOut,
    IncidentIn,
    IncidentOut,
    IncidentPatch,
    MergeIn,
    NotedOut,
    NoteIn,
    NoticeDraftOut,
    NoticeSentOut,
    PhaseIn,
    PostmortemOut,
    SubmitIn,
    SubmittedOut,
    TimelineEntryOut,
    TimesIn,
)
from leitstand.incidents.service import IncidentService

__all__ = ["READERS", "REPORTERS", "RESPONDERS", "router"]

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])
READERS = (
    Role.DEVOPS,
    Role.ONCALL,
    Role.DEVELOPER,
    Role.MANAGEMENT,
    Role.COMPLIANCE_OFFICER,
    Role.SECURITY,
    Role.AUDITOR,
)
#: Who works an incident (open, phases, notes, action items, post-mortem).
RESPONDERS = (Role.DEVOPS, Role.ONCALL, Role.DEVELOPER, Role.SECURITY)
#: Who assesses reporting duties and records submissions (the reporting check is theirs).
REPORTERS = (Role.COMPLIANCE_OFFICER, Role.DEVOPS)
#: Who approves fixes and releases notices (the policy narrows it further per incident).
DECIDERS = (Role.COMPLIANCE_OFFICER, Role.MANAGEMENT, Role.DEVOPS)

Lang = Annotated[str, Query(pattern="^(de|en)$")]
Incidents = Annotated[IncidentService, provide(IncidentService)]
Reporting = Annotated[IncidentReporting, provide(IncidentReporting)]
Actions = Annotated[ActionItems, provide(ActionItems)]
Reader = Annotated[Actor, requires(*READERS)]
Responder = Annotated[Actor, requires(*RESPONDERS)]
Reporter = Annotated[Actor, requires(*REPORTERS)]
ActionEditor = Annotated[Actor, requires(*RESPONDERS, Role.COMPLIANCE_OFFICER)]

#: The other answers of a route that renders a document (``?format=``) besides its JSON.
_DOCUMENTS: dict[int | str, dict[str, Any]] = {
    200: {"content": {MEDIA_TYPES[f]: {} for f in ("markdown", "html", "pdf")}}
}


def _document(markdown: str, fmt: str, name: str, lang: str) -> Response:
    """A Markdown document as Markdown, HTML or PDF, named for the download."""
    body = render_document(markdown, fmt, title=name, lang=lang)
    ext = {"markdown": "md", "html": "html", "pdf": "pdf"}[fmt]
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in name)
    return Response(
        body,
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'inline; filename="{safe}.{ext}"'},
    )


@router.get("")
def list_incidents(
    incidents: Incidents,
    _: Reader,
    status: str | None = Query(default=None, max_length=16),
    tenant: str | None = Query(default=None, max_length=100),
) -> list[IncidentOut]:
    """Incidents, newest first."""
    return incidents.list(status=status, tenant=tenant)


@router.post("", status_code=201)
def open_incident(body: IncidentIn, incidents: Incidents, actor: Responder) -> IncidentOut:
    """Open an incident by hand."""
    details = body.model_dump(exclude={"title", "severity"}, exclude_none=True)
    return incidents.create(title=body.title, severity=body.severity, actor=actor, details=details)


@router.post("/classify")
def classify(
    body: ClassifyIn,
    incidents: Incidents,
    _: Annotated[Actor, requires(*(r for r in READERS if r is not Role.AUDITOR))],
    lang: Lang = "de",
) -> ClassificationOut:
    """Classify one DORA assessment (nothing is stored)."""
    return classify_document(body, incidents.policy.incidents, lang=lang)


@router.get("/{incident_id}")
def get_incident(incident_id: str, incidents: Incidents, _: Reader) -> IncidentOut:
    """One incident."""
    return incidents.get(incident_id)


@router.get("/{incident_id}/detail")
def detail(incident_id: str, reporting: Reporting, _: Reader) -> DetailOut:
    """Incident, timeline, deadlines, action items, DORA assessments and submissions."""
    return reporting.detail(incident_id)


@router.get("/{incident_id}/timeline")
def timeline(incident_id: str, reporting: Reporting, _: Reader) -> list[TimelineEntryOut]:
    """The timeline, assembled from the evidence ledger."""
    return reporting.timeline(incident_id)


@router.patch("/{incident_id}")
def update(
    incident_id: str, body: IncidentPatch, incidents: Incidents, actor: Responder
) -> IncidentOut:
    """Change details, roles, systems, tenants or milestones."""
    return incidents.update(incident_id, body.changes(), actor=actor)


@router.post("/{incident_id}/times")
def correct_times(
    incident_id: str, body: TimesIn, incidents: Incidents, actor: Responder
) -> IncidentOut:
    """The commander corrects detection and awareness, with a reason (the clocks follow)."""
    return incidents.correct_times(
        incident_id,
        detected_at=body.detected_at,
        aware_at=body.aware_at,
        reason=body.reason,
        actor=actor,
    )


@router.post("/{incident_id}/acknowledge")
def acknowledge(incident_id: str, incidents: Incidents, actor: Responder) -> IncidentOut:
    """Take the incident (meets the reaction time)."""
    return incidents.acknowledge(incident_id, actor=actor)


@router.post("/{incident_id}/phase")
def phase(incident_id: str, body: PhaseIn, incidents: Incidents, actor: Responder) -> IncidentOut:
    """Move to the next phase (409 for any other)."""
    return incidents.set_phase(incident_id, body.phase, actor=actor, at=body.at, note=body.note)


@router.post("/{incident_id}/notes", status_code=201)
def note(
    incident_id: str,
    body: NoteIn,
    incidents: Incidents,
    actor: Annotated[Actor, requires(*RESPONDERS, Role.COMPLIANCE_OFFICER, Role.MANAGEMENT)],
) -> NotedOut:
    """Add a note to the timeline."""
    incidents.note(incident_id, body.text, actor=actor)
    return NotedOut()


@router.post("/{incident_id}/close")
def close(incident_id: str, incidents: Incidents, actor: Responder) -> IncidentOut:
    """Close after follow-up and the post-mortem."""
    return incidents.close(incident_id, actor=actor)


@router.post("/{incident_id}/merge")
def merge(incident_id: str, body: MergeIn, incidents: Incidents, actor: Responder) -> IncidentOut:
    """Merge this duplicate into ``into`` (close it as a duplicate); 409 if either is closed
    or merged, or ``into`` is this incident."""
    return incidents.merge(incident_id, into=body.into, reason=body.reason, actor=actor)


@router.post("/{incident_id}/actions", status_code=201)
def add_action(
    incident_id: str, body: ActionIn, actions: Actions, actor: ActionEditor
) -> ActionOut:
    """Add an action item (Maßnahme)."""
    return actions.add(
        incident_id, title=body.title, owner=body.owner, due_date=body.due_date, actor=actor
    )


@router.patch("/{incident_id}/actions/{number}")
def change_action(
    incident_id: str, number: PathId, body: ActionPatch, actions: Actions, actor: ActionEditor
) -> ActionOut:
    """Change an action item's status, owner or due date."""
    return actions.change(
        incident_id,
        number,
        actor=actor,
        status=body.status,
        owner=body.owner,
        due_date=body.due_date,
    )


@router.put("/{incident_id}/dora/{tenant}")
def assess(
    incident_id: str, tenant: str, body: AssessmentIn, reporting: Reporting, actor: Reporter
) -> AssessmentOut:
    """Classify the incident for one tenant; major starts that tenant's DORA deadlines."""
    return reporting.assess(incident_id, tenant, body, actor=actor)


@router.get("/{incident_id}/dora")
def assessments(incident_id: str, reporting: Reporting, _: Reader) -> list[AssessmentOut]:
    """The DORA assessment of every assessed tenant."""
    return reporting.assessments(incident_id)


@router.get(
    "/{incident_id}/dora/{tenant}/reports/{stage}",
    response_model=DoraReportOut,
    responses=_DOCUMENTS,
)
def draft(
    incident_id: str,
    tenant: str,
    stage: str,
    reporting: Reporting,
    _: Reader,
    format: Annotated[str, Query(pattern="^(json|markdown|html|pdf)$")] = "json",
    lang: Lang = "de",
) -> DoraReportOut | Response:
    """A tenant's report draft as JSON, Markdown, HTML or PDF (German by default)."""
    report = reporting.draft(incident_id, tenant, stage)
    if format == "json":
        return report
    name = f"{incident_id}-{tenant}-{report.stage}-{lang}"
    return _document(report_markdown(report, lang), format, name, lang)


@router.post("/{incident_id}/dora/{tenant}/reports/{stage}/submit", status_code=201)
def submit(
    incident_id: str,
    tenant: str,
    stage: str,
    reporting: Reporting,
    actor: Reporter,
    body: Annotated[SubmitIn | None, Body()] = None,
) -> SubmittedOut:
    """Record that the report was submitted (the draft as it stood is kept)."""
    given = body or SubmitIn()
    return reporting.submit(
        incident_id,
        tenant,
        stage,
        actor=actor,
        submitted_at=given.submitted_at,
        reference=given.reference,
    )


@router.post("/{incident_id}/fixes", status_code=201)
def decide_fix(
    incident_id: str,
    body: FixDecisionIn,
    reporting: Reporting,
    actor: Annotated[Actor, requires(*DECIDERS)],
) -> FixDecisionOut:
    """Approve or reject a fix (service, version) for a SEV-1/2 incident before its release.

    Who may decide is the policy's ``remediation_deploy_approvers`` of the incident's severity
    (seed: the compliance officer); other admitted roles get 403."""
    return reporting.fixes.decide(
        incident_id,
        service=body.service,
        version=body.version,
        approve=body.approve,
        actor=actor,
        note=body.note,
    )


@router.get("/{incident_id}/fixes")
def fixes(incident_id: str, reporting: Reporting, _: Reader) -> list[FixOut]:
    """The incident's fix approvals and rejections, oldest first."""
    return reporting.fixes.list(incident_id)


@router.get("/{incident_id}/notices")
def notices(incident_id: str, reporting: Reporting, _: Reader) -> list[NoticeDraftOut]:
    """The German notice drafts to the affected broker houses (SEV-1/2), and which went out."""
    return reporting.notices.drafts(incident_id)


@router.post("/{incident_id}/notices/{tenant}/release")
def release_notice(
    incident_id: str,
    tenant: str,
    reporting: Reporting,
    actor: Annotated[Actor, requires(Role.COMPLIANCE_OFFICER, Role.DEVOPS, Role.MANAGEMENT)],
) -> NoticeSentOut:
    """Release a broker house's notice: queued for sending (e-mail) and recorded.

    Who may release is the policy's ``incidents.response.tenant_notice_releasers``."""
    return reporting.notices.release(incident_id, tenant, actor=actor)


@router.get("/{incident_id}/gdpr/draft", response_class=Response, responses=_DOCUMENTS)
def gdpr_draft(
    incident_id: str,
    reporting: Reporting,
    _: Reader,
    format: Annotated[str, Query(pattern="^(markdown|html|pdf)$")] = "markdown",
    lang: Lang = "de",
) -> Response:
    """The GDPR Art. 33 notification draft as Markdown, HTML or PDF (German by default)."""
    text = reporting.gdpr_draft(incident_id, lang)
    return _document(text, format, f"{incident_id}-dsgvo-{lang}", lang)


@router.post("/{incident_id}/gdpr/notified")
def gdpr_notified(
    incident_id: str,
    reporting: Reporting,
    actor: Reporter,
    body: Annotated[SubmitIn | None, Body()] = None,
) -> IncidentOut:
    """Record the GDPR Art. 33 notification."""
    at = body.submitted_at if body else None
    return reporting.gdpr_notified(incident_id, actor=actor, at=at)


@router.post("/{incident_id}/postmortem", response_model=PostmortemOut, responses=_DOCUMENTS)
def postmortem(
    incident_id: str,
    reporting: Reporting,
    actor: ActionEditor,
    lang: Lang = "de",
    format: Annotated[str, Query(pattern="^(json|markdown|html|pdf)$")] = "json",
) -> PostmortemOut | Response:
    """Generate the post-mortem from the incident (German by default): JSON with the Markdown,
    or the document itself as Markdown, HTML or PDF."""
    result = reporting.postmortem(incident_id, actor=actor, lang=lang)
    if format == "json":
        return result
    return _document(result.markdown, format, f"{incident_id}-post-mortem-{lang}", lang)
