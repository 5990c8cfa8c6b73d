"""A fix for a SEV-1/2 incident is admitted to production only with the compliance officer's
approval of exactly that version; the decision is evidence on the incident."""

from __future__ import annotations

import pytest

from leitstand.bootstrap import Container
from leitstand.errors import ConflictError, ForbiddenError, ValidationError
from leitstand.incidents.response.approvals import FixNotApprovedError

from .conftest import COMPLIANCE, NORD, OPS, PORTAL, entries


def _incident(container: Container, severity: str) -> str:
    return container.incidents.create(
        title="Portal 5xx",
        severity=severity,
        actor=OPS,
        details={"systems": [PORTAL], "tenants": [NORD]},
    ).id


def _admit(container: Container, version: str, env: str = "production") -> None:
    with container.db.transaction() as session:
        container.releases.admission.check(session, PORTAL, version, env, OPS)


def test_sev1_fix_needs_the_compliance_officers_approval_of_that_version(
    container: Container,
) -> None:
    iid = _incident(container, "SEV-1")
    with pytest.raises(FixNotApprovedError, match=f"{iid}.*has no approval.*approve-fix"):
        _admit(container, "2.4.2")
    fixes = container.incident_reporting.fixes
    with pytest.raises(ForbiddenError, match="compliance_officer"):
        fixes.decide(iid, service=PORTAL, version="2.4.2", approve=True, actor=OPS)
    with pytest.raises(ValidationError, match="systems"):
        fixes.decide(iid, service="other-api", version="1", approve=True, actor=COMPLIANCE)
    fixes.decide(iid, service=PORTAL, version="2.4.2", approve=True, actor=COMPLIANCE)
    # Approved: admission goes on to its own rules (here: the missing change record).
    with pytest.raises(ConflictError, match="change record"):
        _admit(container, "2.4.2")
    with pytest.raises(FixNotApprovedError):
        _admit(container, "2.4.3")  # another version is not approved
    fixes.decide(iid, service=PORTAL, version="2.4.2", approve=False, actor=COMPLIANCE)
    with pytest.raises(FixNotApprovedError, match="was rejected"):
        _admit(container, "2.4.2")
    [approved] = entries(container, "incident.fix_approved")
    assert (approved.role, approved.payload["version"]) == ("compliance_officer", "2.4.2")
    assert [d.approved for d in fixes.list(iid)] == [True, False]
    timeline = container.incident_reporting.timeline(iid)
    assert any("Fix smart-bav-portal 2.4.2 freigegeben" in e.text for e in timeline)


def test_staging_closed_incidents_and_sev3_need_no_approval(container: Container) -> None:
    iid = _incident(container, "SEV-3")
    with pytest.raises(ConflictError, match="need no approval"):
        container.incident_reporting.fixes.decide(
            iid, service=PORTAL, version="1", approve=True, actor=COMPLIANCE
        )
    sev1 = _incident(container, "SEV-2")
    with pytest.raises(FixNotApprovedError, match=sev1):
        _admit(container, "3.0.0")
    with pytest.raises(ValidationError, match="artifact_digest"):  # staging: only the gates
        _admit(container, "3.0.0", env="staging")
