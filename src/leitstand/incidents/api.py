"""Incident API: the response process, DORA per tenant, GDPR, action items, post-mortems."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse, Response

from leitstand.api_types import PathId
from leitstand.auth.api import requires
from leitstand.auth.model import Actor, Role
from leitstand.deps import container_of
from leitstand.incidents.classify import classify_document
from leitstand.incidents.documents import MEDIA_TYPES, render_document
from leitstand.incidents.readmodel import IncidentView
from leitstand.incidents.reports import report_markdown
from leitstand.incidents.schemas import (
    ActionIn,
    ActionPatch,
    AssessmentIn,
    ClassifyIn,
    FixDecisionIn,
    IncidentIn,
    IncidentPatch,
    MergeIn,
    NoteIn,
    PhaseIn,
    SubmitIn,
    TimesIn,
)

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
Lang = Annotated[str, Query(pattern="^(de|en)$")]


@router.get("", response_model=list[IncidentView])
def list_incidents(
    request: Request,
    _: Annotated[Actor, requires(*READERS)],
    status: str | None = Query(default=None, max_length=16),
    tenant: str | None = Query(default=None, max_length=100),
) -> list[IncidentView]:
    """Incidents, newest first."""
    return container_of(request).incidents.list(status=status, tenant=tenant)


@router.post("", response_model=IncidentView, status_code=201)
def open_incident(
    body: IncidentIn, request: Request, actor: Annotated[Actor, requires(*RESPONDERS)]
) -> IncidentView:
    """Open an incident by hand."""
    details = body.model_dump(exclude={"title", "severity"}, exclude_none=True)
    return container_of(request).incidents.create(
        title=body.title, severity=body.severity, actor=actor, details=details
    )


@router.post("/classify")
def classify(
    body: ClassifyIn,
    request: Request,
    _: Annotated[Actor, requires(*(r for r in READERS if r is not Role.AUDITOR))],
    lang: Lang = "de",
) -> dict[str, Any]:
    """Classify one DORA assessment (nothing is stored)."""
    return classify_document(body, container_of(request).policy.incidents, lang=lang)


@router.get("/{incident_id}", response_model=IncidentView)
def get_incident(
    incident_id: str, request: Request, _: Annotated[Actor, requires(*READERS)]
) -> IncidentView:
    """One incident."""
    return container_of(request).incidents.get(incident_id)


@router.get("/{incident_id}/detail")
def detail(
    incident_id: str, request: Request, _: Annotated[Actor, requires(*READERS)]
) -> dict[str, Any]:
    """Incident, timeline, deadlines, action items, DORA assessments and submissions."""
    return container_of(request).incident_reporting.detail(incident_id)


@router.get("/{incident_id}/timeline")
def timeline(
    incident_id: str, request: Request, _: Annotated[Actor, requires(*READERS)]
) -> list[dict[str, Any]]:
    """The timeline, assembled from the evidence ledger."""
    return [e.as_dict() for e in container_of(request).incident_reporting.timeline(incident_id)]


@router.patch("/{incident_id}", response_model=IncidentView)
def update(
    incident_id: str,
    body: IncidentPatch,
    request: Request,
    actor: Annotated[Actor, requires(*RESPONDERS)],
) -> IncidentView:
    """Change details, roles, systems, tenants or milestones."""
    return container_of(request).incidents.update(incident_id, body.changes(), actor=actor)


@router.post("/{incident_id}/times", response_model=IncidentView)
def correct_times(
    incident_id: str,
    body: TimesIn,
    request: Request,
    actor: Annotated[Actor, requires(*RESPONDERS)],
) -> IncidentView:
    """The commander corrects detection and awareness, with a reason (the clocks follow)."""
    return container_of(request).incidents.correct_times(
        incident_id,
        detected_at=body.detected_at,
        aware_at=body.aware_at,
        reason=body.reason,
        actor=actor,
    )


@router.post("/{incident_id}/acknowledge", response_model=IncidentView)
def acknowledge(
    incident_id: str, request: Request, actor: Annotated[Actor, requires(*RESPONDERS)]
) -> IncidentView:
    """Take the incident (meets the reaction time)."""
    return container_of(request).incidents.acknowledge(incident_id, actor=actor)


@router.post("/{incident_id}/phase", response_model=IncidentView)
def phase(
    incident_id: str,
    body: PhaseIn,
    request: Request,
    actor: Annotated[Actor, requires(*RESPONDERS)],
) -> IncidentView:
    """Move to the next phase (409 for any other)."""
    return container_of(request).incidents.set_phase(
        incident_id, body.phase, actor=actor, at=body.at, note=body.note
    )


@router.post("/{incident_id}/notes", status_code=201)
def note(
    incident_id: str,
    body: NoteIn,
    request: Request,
    actor: Annotated[Actor, requires(*RESPONDERS, Role.COMPLIANCE_OFFICER, Role.MANAGEMENT)],
) -> dict[str, str]:
    """Add a note to the timeline."""
    container_of(request).incidents.note(incident_id, body.text, actor=actor)
    return {"status": "noted"}


@router.post("/{incident_id}/close", response_model=IncidentView)
def close(
    incident_id: str, request: Request, actor: Annotated[Actor, requires(*RESPONDERS)]
) -> IncidentView:
    """Close after follow-up and the post-mortem."""
    return container_of(request).incidents.close(incident_id, actor=actor)


@router.post("/{incident_id}/merge", response_model=IncidentView)
def merge(
    incident_id: str,
    body: MergeIn,
    request: Request,
    actor: Annotated[Actor, requires(*RESPONDERS)],
) -> IncidentView:
    """Merge this duplicate into ``into`` (close it as a duplicate); 409 if either is closed
    or merged, or ``into`` is this incident."""
    return container_of(request).incidents.merge(
        incident_id, into=body.into, reason=body.reason, actor=actor
    )


@router.post("/{incident_id}/actions", status_code=201)
def add_action(
    incident_id: str,
    body: ActionIn,
    request: Request,
    actor: Annotated[Actor, requires(*RESPONDERS, Role.COMPLIANCE_OFFICER)],
) -> dict[str, Any]:
    """Add an action item (Maßnahme)."""
    return container_of(request).incident_actions.add(
        incident_id, title=body.title, owner=body.owner, due_date=body.due_date, actor=actor
    )


@router.patch("/{incident_id}/actions/{number}")
def change_action(
    incident_id: str,
    number: PathId,
    body: ActionPatch,
    request: Request,
    actor: Annotated[Actor, requires(*RESPONDERS, Role.COMPLIANCE_OFFICER)],
) -> dict[str, Any]:
    """Change an action item's status, owner or due date."""
    return container_of(request).incident_actions.change(
        incident_id,
        number,
        actor=actor,
        status=body.status,
        owner=body.owner,
        due_date=body.due_date,
    )


@router.put("/{incident_id}/dora/{tenant}")
def assess(
    incident_id: str,
    tenant: str,
    body: AssessmentIn,
    request: Request,
    actor: Annotated[Actor, requires(*REPORTERS)],
) -> dict[str, Any]:
    """Classify the incident for one tenant; major starts that tenant's DORA deadlines."""
    return container_of(request).incident_reporting.assess(incident_id, tenant, body, actor=actor)


@router.get("/{incident_id}/dora")
def assessments(
    incident_id: str, request: Request, _: Annotated[Actor, requires(*READERS)]
) -> list[dict[str, Any]]:
    """The DORA assessment of every assessed tenant."""
    return container_of(request).incident_reporting.assessments(incident_id)


@router.get("/{incident_id}/dora/{tenant}/reports/{stage}")
def draft(
    incident_id: str,
    tenant: str,
    stage: str,
    request: Request,
    _: Annotated[Actor, requires(*READERS)],
    format: Annotated[str, Query(pattern="^(json|markdown|html|pdf)$")] = "json",
    lang: Lang = "de",
) -> Response:
    """A tenant's report draft as JSON, Markdown, HTML or PDF (German by default)."""
    report = container_of(request).incident_reporting.draft(incident_id, tenant, stage)
    if format == "json":
        return JSONResponse(report)
    name = f"{incident_id}-{tenant}-{report['stage']}-{lang}"
    return _document(report_markdown(report, lang), format, name, lang)


def _document(markdown: str, fmt: str, name: str, lang: str) -> Response:
    body = render_document(markdown, fmt, title=name, lang=lang)
    ext = {"markdown": "md", "html": "html", "pdf": "pdf"}[fmt]
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in name)
    return Response(
        body,
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'inline; filename="{safe}.{ext}"'},
    )


@router.post("/{incident_id}/dora/{tenant}/reports/{stage}/submit", status_code=201)
def submit(
    incident_id: str,
    tenant: str,
    stage: str,
    request: Request,
    actor: Annotated[Actor, requires(*REPORTERS)],
    body: Annotated[SubmitIn | None, Body()] = None,
) -> dict[str, Any]:
    """Record that the report was submitted (the draft as it stood is kept)."""
    given = body or SubmitIn()
    return container_of(request).incident_reporting.submit(
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
    request: Request,
    actor: Annotated[Actor, requires(Role.COMPLIANCE_OFFICER, Role.MANAGEMENT, Role.DEVOPS)],
) -> dict[str, Any]:
    """Approve or reject a fix (service, version) for a SEV-1/2 incident before its release.

    Who may decide is the policy's ``remediation_deploy_approvers`` of the incident's severity
    (seed: the compliance officer); other admitted roles get 403."""
    return container_of(request).incident_reporting.fixes.decide(
        incident_id,
        service=body.service,
        version=body.version,
        approve=body.approve,
        actor=actor,
        note=body.note,
    )


@router.get("/{incident_id}/fixes")
def fixes(
    incident_id: str, request: Request, _: Annotated[Actor, requires(*READERS)]
) -> list[dict[str, Any]]:
    """The incident's fix approvals and rejections, oldest first."""
    return container_of(request).incident_reporting.fixes.list(incident_id)


@router.get("/{incident_id}/notices")
def notices(
    incident_id: str, request: Request, _: Annotated[Actor, requires(*READERS)]
) -> list[dict[str, Any]]:
    """The German notice drafts to the affected broker houses (SEV-1/2), and which went out."""
    return container_of(request).incident_reporting.notices.drafts(incident_id)


@router.post("/{incident_id}/notices/{tenant}/release")
def release_notice(
    incident_id: str,
    tenant: str,
    request: Request,
    actor: Annotated[Actor, requires(Role.COMPLIANCE_OFFICER, Role.DEVOPS, Role.MANAGEMENT)],
) -> dict[str, Any]:
    """Release a broker house's notice: queued for sending (e-mail) and recorded.

    Who may release is the policy's ``incidents.response.tenant_notice_releasers``."""
    return container_of(request).incident_reporting.notices.release(
        incident_id, tenant, actor=actor
    )


@router.get("/{incident_id}/gdpr/draft")
def gdpr_draft(
    incident_id: str,
    request: Request,
    _: Annotated[Actor, requires(*READERS)],
    format: Annotated[str, Query(pattern="^(markdown|html|pdf)$")] = "markdown",
    lang: Lang = "de",
) -> Response:
    """The GDPR Art. 33 notification draft as Markdown, HTML or PDF (German by default)."""
    text = container_of(request).incident_reporting.gdpr_draft(incident_id, lang)
    return _document(text, format, f"{incident_id}-dsgvo-{lang}", lang)


@router.post("/{incident_id}/gdpr/notified")
def gdpr_notified(
    incident_id: str,
    request: Request,
    actor: Annotated[Actor, requires(*REPORTERS)],
    body: Annotated[SubmitIn | None, Body()] = None,
) -> dict[str, Any]:
    """Record the GDPR Art. 33 notification."""
    at = body.submitted_at if body else None
    return container_of(request).incident_reporting.gdpr_notified(incident_id, actor=actor, at=at)


@router.post("/{incident_id}/postmortem")
def postmortem(
    incident_id: str,
    request: Request,
    actor: Annotated[Actor, requires(*RESPONDERS, Role.COMPLIANCE_OFFICER)],
    lang: Lang = "de",
    format: Annotated[str, Query(pattern="^(json|markdown|html|pdf)$")] = "json",
) -> Response:
    """Generate the post-mortem from the incident (German by default): JSON with the Markdown,
    or the document itself as Markdown, HTML or PDF."""
    result = container_of(request).incident_reporting.postmortem(
        incident_id, actor=actor, lang=lang
    )
    if format == "json":
        return JSONResponse(result)
    return _document(result["markdown"], format, f"{incident_id}-post-mortem-{lang}", lang)
