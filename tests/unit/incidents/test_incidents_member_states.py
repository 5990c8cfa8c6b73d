"""DORA field 3.18 ("Art der Auswirkungen in den Mitgliedstaaten") names the types of impact per
member state; the member states themselves stay in field 2.6 (geographical spread). Values are
words in the reader's language, never ISO codes or identifiers."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from leitstand.bootstrap import Container
from leitstand.incidents.dora.facts import IMPACT_TYPES
from leitstand.incidents.reporting.dora_reports import IMPACTS, report_markdown
from leitstand.incidents.schemas import AssessmentIn

from .conftest import COMPLIANCE, NORD, OPS, PORTAL, facts

F218 = "| 3.18 | Art der Auswirkungen in den Mitgliedstaaten |"
F26 = "| 2.6 | Wesentlichkeitsschwellen für das Einstufungskriterium „Geografische Ausbreitung“ |"


def _assessed(container: Container, **overrides: object) -> str:
    iid = container.incidents.create(
        title="Portal nicht erreichbar",
        severity="SEV-1",
        actor=OPS,
        details={"systems": [PORTAL], "tenants": [NORD]},
    ).id
    given = AssessmentIn.model_validate(facts(**overrides))
    container.incident_reporting.assess(iid, NORD, given, actor=COMPLIANCE)
    return iid


def _row(text: str, prefix: str) -> str:
    [row] = [line for line in text.splitlines() if line.startswith(prefix)]
    return row


def test_field_3_18_names_the_types_of_impact_per_member_state(container: Container) -> None:
    impacts = {"DE": ["clients", "financial_counterparts"], "AT": ["branch"]}
    iid = _assessed(container, member_state_impacts=impacts)
    draft = container.incident_reporting.draft(iid, NORD, "intermediate")
    de, en = report_markdown(draft, "de"), report_markdown(draft, "en")

    assert _row(de, F218) == (
        f"{F218} Österreich: Zweigniederlassung des Finanzunternehmens; "
        "Deutschland: Kunden, finanzielle Gegenparteien |"
    )
    assert _row(en, "| 3.18 |") == (
        "| 3.18 | Types of impact in the Member States | Austria: branch of the financial "
        "entity; Germany: clients, financial counterparts |"
    )
    # The member states themselves are field 2.6, named, not as codes.
    assert _row(de, F26) == f"{F26} Deutschland; Österreich |"
    assert "| Germany; Austria |" in _row(en, "| 2.6 |")
    assert "3.18" not in draft.missing_fields
    [field] = [f for s in draft.sections for f in s.fields if f.field == "3.18"]
    assert field.key == "member_state_impacts" and field.value == impacts


def test_without_the_fact_field_3_18_is_left_to_the_entity(container: Container) -> None:
    iid = _assessed(container)
    draft = container.incident_reporting.draft(iid, NORD, "intermediate")
    de = report_markdown(draft, "de")
    assert _row(de, F218) == f"{F218} _(auszufüllen)_ |"
    assert "DE" not in _row(de, F218) and "Deutschland" not in _row(de, F218)
    assert _row(report_markdown(draft, "en"), "| 3.18 |").endswith("| _(to be completed)_ |")
    assert "3.18" in draft.missing_fields
    assert _row(de, F26) == f"{F26} Deutschland; Österreich |"


def test_impacts_only_for_affected_member_states_each_type_once() -> None:
    with pytest.raises(ValidationError, match=r"member_state_impacts\.FR"):
        AssessmentIn.model_validate(facts(member_state_impacts={"FR": ["clients"]}))
    with pytest.raises(ValidationError, match="each only once"):
        AssessmentIn.model_validate(facts(member_state_impacts={"DE": ["clients", "clients"]}))
    with pytest.raises(ValidationError):
        AssessmentIn.model_validate(facts(member_state_impacts={"DE": ["clients_and_more"]}))
    # Without the fact nothing new is stored with the assessment.
    assert "member_state_impacts" not in AssessmentIn.model_validate(facts()).facts()


def test_every_impact_type_has_a_german_and_an_english_name() -> None:
    assert set(IMPACTS) == set(IMPACT_TYPES)
    for de, en in IMPACTS.values():
        assert "_" not in de and "_" not in en and de != en
