"""Alert API: Alertmanager's webhook, listing, acknowledging, on-call."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime
from starlette.concurrency import run_in_threadpool

from leitstand.alerting.schemas import (
    AckIn,
    AlertOut,
    ChainStepOut,
    IntakeOut,
    OncallOut,
    PayloadTooLarge,
    ShiftOut,
    parse_webhook,
)
from leitstand.alerting.service import AlertingService
from leitstand.api_types import PathId
from leitstand.auth.api import requires
from leitstand.auth.model import Actor, Role
from leitstand.deps import provide

__all__ = ["ACKERS", "INTAKE", "READERS", "router"]

router = APIRouter(prefix="/api/v1", tags=["alerting"])
Alerting = Annotated[AlertingService, provide(AlertingService)]
#: Alertmanager authenticates as a service user; `oncall` is the least-privileged role that
#: may feed alerts (docs/alerting.md). DevOps tokens are admitted for manual tests with curl.
INTAKE = (Role.DEVOPS, Role.ONCALL)
ACKERS = (Role.DEVOPS, Role.ONCALL, Role.DEVELOPER)
READERS = (
    Role.DEVOPS,
    Role.ONCALL,
    Role.DEVELOPER,
    Role.MANAGEMENT,
    Role.COMPLIANCE_OFFICER,
    Role.SECURITY,
    Role.AUDITOR,
)


async def _body(request: Request, limit: int) -> bytes:
    # The request-limits middleware refuses larger bodies before they are read; this is the
    # same bound for an app mounted without it.
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(
            f"request body is {declared} bytes; the alert intake accepts at most {limit}"
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(
                f"request body exceeds {limit} bytes, the most the alert intake accepts"
            )
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/alerts/alertmanager", response_model=IntakeOut)
async def alertmanager_webhook(
    request: Request, alerting: Alerting, actor: Annotated[Actor, requires(*INTAKE)]
) -> IntakeOut:
    """Receive Alertmanager's webhook (format version 4); stored and recorded before the 200."""
    limit = alerting.policy.api.limits.body_bytes.alert_intake
    payload = parse_webhook(await _body(request, limit), max_bytes=limit)
    result = await run_in_threadpool(alerting.receive_alertmanager, payload, actor=actor)
    return IntakeOut(
        received=result.received,
        new=result.new,
        duplicates=result.duplicates,
        resolved=result.resolved,
        ignored=result.ignored,
        alerts=result.alerts,
    )


@router.get("/alerts", response_model=list[AlertOut])
def list_alerts(
    alerting: Alerting,
    _: Annotated[Actor, requires(*READERS)],
    status: str = Query(default="firing", pattern="^(firing|resolved|all)$"),
    tenant: str | None = Query(default=None, max_length=100),
    limit: int = Query(default=200, ge=1, le=5000),
) -> list[AlertOut]:
    """Alerts, newest first (default: the firing ones), each with its escalation."""
    return alerting.queries.alert_list(
        status=None if status == "all" else status, tenant=tenant, limit=limit
    )


@router.get("/alerts/{alert_id}", response_model=AlertOut)
def get_alert(
    alert_id: PathId, alerting: Alerting, _: Annotated[Actor, requires(*READERS)]
) -> AlertOut:
    """One alert with its escalation chain, notifications and delivery attempts."""
    return alerting.queries.alert(alert_id)


@router.post("/alerts/{alert_id}/ack", response_model=AlertOut)
def acknowledge(
    alert_id: PathId,
    alerting: Alerting,
    actor: Annotated[Actor, requires(*ACKERS)],
    body: AckIn | None = None,
) -> AlertOut:
    """Acknowledge a firing alert; its escalation stops (committed before the answer)."""
    alerting.acknowledge(alert_id=alert_id, actor=actor, note=body.note if body else None)
    return alerting.queries.alert(alert_id)


@router.get("/oncall", response_model=OncallOut)
def oncall(
    alerting: Alerting,
    _: Annotated[Actor, requires(*READERS)],
    at: AwareDatetime | None = None,
) -> OncallOut:
    """Who is on call now (or at ``at``), and the chain a critical alert would get."""
    shift = alerting.oncall(at)
    return OncallOut(
        shift=None if shift is None else ShiftOut.model_validate(shift),
        critical_chain=[ChainStepOut.model_validate(s) for s in alerting.chain("critical")],
    )
