"""Change records: categories from the policy, four eyes, allowed roles, evidence of each step."""

from __future__ import annotations

from datetime import timedelta

import pytest

from leitstand.auth.model import Actor
from leitstand.bootstrap import Container
from leitstand.changes.model import ChangeStatus
from leitstand.errors import ConflictError, ForbiddenError, NotFoundError, ValidationError
from leitstand.ledger.service import EntryQuery
from leitstand.testing import ManualClock

DEV = Actor(name="dana", role="developer")
OFFICER = Actor(name="clara", role="compliance_officer")
OPS = Actor(name="olaf", role="devops")
FIELDS = {
    "what": "new endpoint",
    "why": "broker request",
    "rollback": "redeploy 2.3.9",
    "tests": "unit, e2e",
}


def _actions(container: Container) -> list[str]:
    with container.db.reader() as session:
        entries = container.ledger.entries(
            session, EntryQuery(action="change.*", newest_first=False)
        )
    return [e.action for e in entries]


def test_a_normal_change_waits_for_the_compliance_officer(container: Container) -> None:
    change = container.changes.open(
        service="enterprise-api", version="2.4.0", category="normal", fields=FIELDS, actor=DEV
    )
    assert change.status is ChangeStatus.PENDING
    assert container.changes.state_for(service="enterprise-api", version="2.4.0").approved is False  # type: ignore[union-attr]
    approved = container.changes.decide(
        change_id=change.id, actor=OFFICER, approve=True, comment="ok"
    )
    assert approved.status is ChangeStatus.APPROVED and approved.approved_by == ["clara"]
    state = container.changes.state_for(service="enterprise-api", version="2.4.0")
    assert (
        state is not None
        and state.approved
        and state.approvals == (("clara", "compliance_officer"),)
    )
    assert _actions(container) == ["change.opened", "change.approved"]


def test_the_requester_cannot_approve_their_own_change(container: Container) -> None:
    me = Actor(name="clara", role="compliance_officer")
    change = container.changes.open(
        service="smart-bav-portal", version="1.0", category="normal", fields=FIELDS, actor=me
    )
    with pytest.raises(ForbiddenError, match="four-eyes rule: clara requested change"):
        container.changes.decide(change_id=change.id, actor=me, approve=True)
    assert container.changes.get(change.id).status is ChangeStatus.PENDING
    assert _actions(container) == ["change.opened"]


def test_only_the_categorys_roles_may_approve(container: Container) -> None:
    change = container.changes.open(
        service="smart-bav-portal", version="1.0", category="normal", fields=FIELDS, actor=DEV
    )
    with pytest.raises(
        ForbiddenError, match=r"role 'devops' may not .* normal change .*compliance_officer"
    ):
        container.changes.decide(change_id=change.id, actor=OPS, approve=True)


def test_a_standard_change_is_approved_by_the_pipeline_at_once(container: Container) -> None:
    change = container.changes.open(
        service="smart-bav-portal", version="1.0.1", category="standard", fields=FIELDS, actor=DEV
    )
    assert change.status is ChangeStatus.APPROVED
    assert [(a.approver, a.stage.value) for a in change.approvals] == [("pipeline", "automatic")]
    with pytest.raises(ConflictError, match="the pipeline approves it"):
        container.changes.decide(change_id=change.id, actor=OFFICER, approve=True)


def test_an_emergency_change_needs_a_review_afterwards_or_the_overdue_review_is_evidence(
    container: Container, clock: ManualClock
) -> None:
    change = container.changes.open(
        service="smart-bav-portal", version="1.0.2", category="emergency", fields=FIELDS, actor=DEV
    )
    approved = container.changes.decide(change_id=change.id, actor=OPS, approve=True)
    assert approved.status is ChangeStatus.APPROVED
    assert approved.retrospective_due_at == clock.now() + timedelta(hours=48)
    clock.advance(timedelta(hours=49))
    container.scheduler.run_due()
    assert _actions(container)[-1] == "change.review_overdue"
    reviewed = container.changes.decide(change_id=change.id, actor=OFFICER, approve=True)
    assert reviewed.reviewed
    assert _actions(container)[-1] == "change.reviewed"


def test_a_rejected_change_cannot_be_approved_and_frees_the_version(container: Container) -> None:
    change = container.changes.open(
        service="smart-bav-portal", version="2.0", category="normal", fields=FIELDS, actor=DEV
    )
    container.changes.decide(
        change_id=change.id, actor=OFFICER, approve=False, comment="no rollback test"
    )
    with pytest.raises(ConflictError, match="was rejected"):
        container.changes.decide(change_id=change.id, actor=OFFICER, approve=True)
    again = container.changes.open(
        service="smart-bav-portal", version="2.0", category="normal", fields=FIELDS, actor=DEV
    )
    assert again.id != change.id
    with pytest.raises(
        ConflictError, match=f"change #{again.id} already covers smart-bav-portal 2.0"
    ):
        container.changes.open(
            service="smart-bav-portal", version="2.0", category="normal", fields=FIELDS, actor=DEV
        )


def test_an_incomplete_change_names_every_missing_field_and_stores_nothing(
    container: Container,
) -> None:
    with pytest.raises(ValidationError) as err:
        container.changes.open(
            service="smart-bav-portal",
            version="3.0",
            category="sometimes",
            fields={"what": "x"},
            actor=DEV,
        )
    paths = [i.path for i in err.value.issues]
    assert paths == ["category", "why", "rollback", "tests"]
    assert container.changes.list() == []
    with pytest.raises(NotFoundError):
        container.changes.get(99)
