"""Audit API: record, list, verify, prove."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from leitstand.api_types import PathIndex, QueryTimestamp
from leitstand.auth.api import requires
from leitstand.deps import provide
from leitstand.identity import ALL_ROLES, READ_ROLES, Actor, Role
from leitstand.ledger.audit import AuditService
from leitstand.ledger.download import export_archive, zone
from leitstand.ledger.schemas import CheckpointOut, EntryIn, EntryOut, ProofOut, VerifyOut
from leitstand.ledger.service import EntryQuery

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
WRITERS = (Role.DEVOPS, Role.COMPLIANCE_OFFICER, Role.SECURITY, Role.ONCALL)
Audit = Annotated[AuditService, provide(AuditService)]


@router.get("/entries", response_model=list[EntryOut])
def list_entries(
    audit: Audit,
    _: Annotated[Actor, requires(*READ_ROLES)],
    since: QueryTimestamp | None = None,
    until: QueryTimestamp | None = None,
    action: str | None = Query(default=None, max_length=200),
    tenant: str | None = Query(default=None, max_length=200),
    limit: int = Query(default=100, ge=1, le=10_000),
) -> list[EntryOut]:
    """Evidence entries, newest first; ``action`` may end in ``*`` for a prefix."""
    entries = audit.log(
        EntryQuery(since=since, until=until, action=action, tenant=tenant, limit=limit)
    )
    return [EntryOut.of(e) for e in entries]


@router.post("/entries", response_model=EntryOut, status_code=201)
def record_entry(
    body: EntryIn, audit: Audit, actor: Annotated[Actor, requires(*WRITERS)]
) -> EntryOut:
    """Record a manual evidence entry (committed before the response is sent).

    The action is recorded as ``manual.<action>``; a reserved system namespace (``gate.*``,
    ``release.*``, ``ledger.*``, ...) is refused with 422: only the owning service writes it.
    """
    entry = audit.record(
        actor=actor,
        action=body.action,
        subject=body.subject,
        tenant=body.tenant,
        payload=body.payload,
    )
    return EntryOut.of(entry)


@router.post("/verify", response_model=VerifyOut)
def verify(audit: Audit, actor: Annotated[Actor, requires(*READ_ROLES)]) -> VerifyOut:
    """Verify the whole ledger now; the result is recorded as evidence."""
    return VerifyOut.of(audit.verify(actor=actor))


@router.get("/proof/{index}", response_model=ProofOut)
def prove(index: PathIndex, audit: Audit, _: Annotated[Actor, requires(*READ_ROLES)]) -> ProofOut:
    """Inclusion proof of one entry against the latest signed checkpoint."""
    proof = audit.prove(index)
    return ProofOut(
        index=proof.index,
        tree_size=proof.tree_size,
        leaf_hash=base64.b64encode(proof.leaf_hash).decode(),
        hashes=[base64.b64encode(h).decode() for h in proof.hashes],
        checkpoint=proof.checkpoint,
        verified=proof.verified,
        entry=EntryOut.of(proof.entry),
    )


@router.get("/checkpoint", response_model=CheckpointOut)
def checkpoint(audit: Audit, _: Annotated[Actor, requires(*ALL_ROLES)]) -> CheckpointOut:
    """The latest signed checkpoint and the verifier key."""
    head = audit.signed_head()
    return CheckpointOut(size=head.size, note=head.note, verifier_key=head.verifier_key)


@router.get("/export", response_class=Response)
def export_download(
    audit: Audit,
    actor: Annotated[Actor, requires(Role.AUDITOR, Role.COMPLIANCE_OFFICER)],
    since: QueryTimestamp | None = None,
    until: QueryTimestamp | None = None,
    tz: str = Query(default="UTC", max_length=64, description="zone of times given without one"),
) -> Response:
    """The evidence of a period as a verifiable archive (tar.gz of ``leitstand audit export``;
    unpack and check offline with ``leitstand audit verify --export``)."""
    body, name = export_archive(
        audit,
        since=since,
        until=until,
        actor=actor,
        now=audit.clock.now(),
        tz=zone(tz),
    )
    return Response(
        body,
        media_type="application/gzip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
