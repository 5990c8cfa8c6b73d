"""SEV-1/2: a German notice per affected broker house, sent only once released by an allowed
role; at follow-up the compliance officer is informed for the reporting check."""

from __future__ import annotations

import pytest

from leitstand.auth.model import Actor
from leitstand.bootstrap import Container
from leitstand.errors import ConflictError, ForbiddenError, ValidationError

from .conftest import COMPLIANCE, NORD, OPS, PORTAL, SUED, entries

DEV = Actor(name="dora", role="developer")


def _incident(container: Container, severity: str) -> str:
    return container.incidents.create(
        title="Portal nicht erreichbar",
        severity=severity,
        actor=OPS,
        details={"systems": [PORTAL], "tenants": [NORD, SUED]},
    ).id


def test_sev1_drafts_one_german_notice_per_broker_house_sent_only_when_released(
    container: Container,
) -> None:
    iid = _incident(container, "SEV-1")
    notices = container.incident_reporting.notices
    drafts = {d.tenant: d for d in notices.drafts(iid)}
    assert set(drafts) == {NORD, SUED}
    nord = drafts[NORD]
    assert nord.released is None and nord.to == "betrieb@makler-nord.example"
    assert nord.subject == f"Störungsmeldung {iid}: Portal nicht erreichbar"
    assert "Sehr geehrte Damen und Herren," in nord.body
    assert "Aktueller Stand: Erkennung" in nord.body and " MEZ" in nord.body
    assert not entries(container, "incident.tenant_notified")  # nothing left yet
    with pytest.raises(ForbiddenError, match="compliance_officer"):
        notices.release(iid, NORD, actor=DEV)
    with pytest.raises(ValidationError, match="tenant"):
        notices.release(iid, "example-unknown", actor=COMPLIANCE)
    sent = notices.release(iid, NORD, actor=COMPLIANCE)
    assert set(sent.channels) == {"email"}
    [record] = entries(container, "incident.tenant_notified")
    assert (record.tenant, record.role) == (NORD, "compliance_officer")
    assert len(record.payload["sha256"]) == 64
    with pytest.raises(ConflictError, match="already released"):
        notices.release(iid, NORD, actor=COMPLIANCE)
    released = {d.tenant: d.released for d in notices.drafts(iid)}
    assert released[NORD] is not None and released[NORD].by == "clara"
    assert released[SUED] is None


def test_sev3_informs_no_broker_house(container: Container) -> None:
    iid = _incident(container, "SEV-3")
    assert container.incident_reporting.notices.drafts(iid) == []
    with pytest.raises(ConflictError, match="do not inform"):
        container.incident_reporting.notices.release(iid, NORD, actor=COMPLIANCE)


def test_follow_up_informs_the_compliance_officer_once(container: Container) -> None:
    iid = _incident(container, "SEV-3")
    for phase in ("containment", "analysis", "remediation", "follow_up"):
        container.incidents.set_phase(iid, phase, actor=OPS)
    container.incidents.note(iid, "Nachbereitung läuft", actor=OPS)
    container.incidents.update(iid, {"impact": "gering"}, actor=OPS)
    informed = [
        e for e in entries(container, "incident.informed") if e.payload["rule"] == "follow_up"
    ]
    assert len(informed) == 1 and informed[0].payload["roles"] == ["compliance_officer"]
    messages = [
        e
        for e in entries(container, "notification.requested")
        if "Nachbereitung" in e.payload["subject"]
    ]
    assert len(messages) == 1 and messages[0].payload["roles"] == ["compliance_officer"]
