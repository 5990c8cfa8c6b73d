"""One duration for one incident: the post-mortem's "Dauer" and DORA field 3.15 both measure
from occurrence (else detection/recording) to resolution, Delegated Regulation 2024/1772 Art. 3(1).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from leitstand.bootstrap import Container
from leitstand.incidents.dora.duration import incident_duration, incident_duration_hours
from leitstand.incidents.reporting.dora_reports import report_markdown
from leitstand.incidents.schemas import AssessmentIn
from leitstand.testing import ManualClock

from .conftest import COMPLIANCE, NORD, OPS, PORTAL, facts

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def _times(**kw: datetime | None) -> SimpleNamespace:
    base: dict[str, datetime | None] = {
        "occurred_at": None,
        "detected_at": None,
        "opened_at": T0 + timedelta(minutes=20),
        "resolved_at": None,
    }
    return SimpleNamespace(**(base | kw))


def test_duration_runs_from_occurrence_to_resolution() -> None:
    timed = _times(occurred_at=T0, resolved_at=T0 + timedelta(hours=26, minutes=30))
    assert incident_duration(timed, now=T0 + timedelta(days=9)) == timedelta(hours=26, minutes=30)
    assert incident_duration_hours(timed, now=T0 + timedelta(days=9)) == 26.5


def test_without_occurrence_from_the_earlier_of_detection_and_recording() -> None:
    end = T0 + timedelta(hours=3)
    assert incident_duration_hours(_times(detected_at=T0, resolved_at=end), now=end) == 3
    late = _times(detected_at=T0 + timedelta(hours=1), resolved_at=end)
    assert incident_duration_hours(late, now=end) == 2.67  # recorded (opened) at 01:20


def test_an_unresolved_incident_is_measured_up_to_now() -> None:
    assert incident_duration_hours(_times(occurred_at=T0), now=T0 + timedelta(minutes=45)) == 0.75


def test_post_mortem_and_dora_field_3_15_state_the_same_duration(
    container: Container, clock: ManualClock
) -> None:
    start = clock.now()
    iid = container.incidents.create(
        title="Portal nicht erreichbar",
        severity="SEV-1",
        actor=OPS,
        details={"systems": [PORTAL], "tenants": [NORD]},
    ).id
    clock.advance(timedelta(minutes=10))
    container.incidents.update(iid, {"occurred_at": start - timedelta(minutes=35)}, actor=OPS)
    reporting = container.incident_reporting
    # The tenant's own estimate (26 h) is a classification input, not the measured duration.
    major = facts(duration_hours=26.0)
    reporting.assess(iid, NORD, AssessmentIn.model_validate(major), actor=COMPLIANCE)
    clock.advance(timedelta(hours=4, minutes=55))
    for phase in ("containment", "analysis", "remediation", "follow_up"):
        container.incidents.set_phase(iid, phase, actor=OPS)
    clock.advance(timedelta(days=2))  # documents written later do not grow the duration

    final = report_markdown(reporting.draft(iid, NORD, "final"), "de")
    postmortem = reporting.postmortem(iid, actor=OPS).markdown
    final_en = report_markdown(reporting.draft(iid, NORD, "final"), "en")
    postmortem_en = reporting.postmortem(iid, actor=OPS, lang="en").markdown

    # From 35 minutes before opening to 5 h 5 min after it: 5 h 40 min.
    assert "| 3.15 | Dauer des schwerwiegenden IKT-bezogenen Vorfalls (Stunden) | 5,67 |" in final
    assert "- **Dauer:** 5,67 Stunden" in postmortem
    assert "| 3.15 | Duration of the major ICT-related incident (hours) | 5.67 |" in final_en
    assert "- **Duration:** 5.67 hours" in postmortem_en
    shown = re.search(r"\| 3\.15 \| [^|]+ \| ([\d,]+) \|", final)
    said = re.search(r"- \*\*Dauer:\*\* ([\d,]+) Stunden", postmortem)
    assert shown and said and shown.group(1) == said.group(1)
