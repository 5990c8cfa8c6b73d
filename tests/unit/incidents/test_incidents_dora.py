"""DORA classification (Reg. 2024/1772 Art. 8, 9): each threshold, the major rule, recurrence."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import combinations
from typing import Any

import pytest

from leitstand.incidents.dora.classification import (
    Assessment,
    Criterion,
    DataLoss,
    Occurrence,
    classify,
    combine,
    recurring_groups,
)

BASE = Assessment(critical_services_affected=True, clients_total=1000)

#: One way to meet each materiality threshold of Art. 9(1)-(6), and a value just below it.
THRESHOLDS: dict[str, tuple[Criterion, dict[str, Any], dict[str, Any]]] = {
    "9(1)(a) clients > 10%": (
        Criterion.CLIENTS,
        {"clients_affected": 101},
        {"clients_affected": 100},
    ),
    "9(1)(b) clients > 100000": (
        Criterion.CLIENTS,
        {"clients_affected": 100_001, "clients_total": 10_000_000},
        {"clients_affected": 100_000, "clients_total": 10_000_000},
    ),
    "9(1)(c) counterparts > 30%": (
        Criterion.CLIENTS,
        {"financial_counterparts_affected_pct": 30.5},
        {"financial_counterparts_affected_pct": 30.0},
    ),
    "9(1)(d) transactions number > 10%": (
        Criterion.CLIENTS,
        {"transactions_number_affected_pct": 10.01},
        {"transactions_number_affected_pct": 10.0},
    ),
    "9(1)(e) transactions value > 10%": (
        Criterion.CLIENTS,
        {"transactions_value_affected_pct": 11},
        {"transactions_value_affected_pct": 10},
    ),
    "9(1)(f) relevant clients": (
        Criterion.CLIENTS,
        {"relevant_clients_affected": True},
        {"relevant_clients_affected": False},
    ),
    "9(2) media": (Criterion.REPUTATION, {"reputational_impact": ("media",)}, {}),
    "9(2) complaints": (Criterion.REPUTATION, {"reputational_impact": ("complaints",)}, {}),
    "9(2) regulatory breach": (
        Criterion.REPUTATION,
        {"reputational_impact": ("regulatory_breach",)},
        {},
    ),
    "9(2) client loss": (Criterion.REPUTATION, {"reputational_impact": ("client_loss",)}, {}),
    "9(3)(a) duration > 24h": (
        Criterion.DURATION,
        {"duration_hours": 24.5},
        {"duration_hours": 24},
    ),
    "9(3)(b) downtime > 2h": (
        Criterion.DURATION,
        {"critical_function_downtime_hours": 2.1},
        {"critical_function_downtime_hours": 2},
    ),
    "9(4) two member states": (
        Criterion.GEOGRAPHY,
        {"member_states_affected": ("DE", "AT")},
        {"member_states_affected": ("DE",)},
    ),
    "9(5)(a) availability": (
        Criterion.DATA_LOSS,
        {"data_loss": DataLoss(availability=True)},
        {"data_loss": DataLoss()},
    ),
    "9(5)(a) confidentiality": (
        Criterion.DATA_LOSS,
        {"data_loss": DataLoss(confidentiality=True)},
        {},
    ),
    "9(6) economic > 100000 EUR": (
        Criterion.ECONOMIC,
        {"economic_impact_eur": 100_000.01},
        {"economic_impact_eur": 100_000},
    ),
}


@pytest.mark.parametrize("name", sorted(THRESHOLDS))
def test_each_threshold_alone_is_met_but_not_major(name: str) -> None:
    criterion, above, below = THRESHOLDS[name]
    result = classify(replace(BASE, **above))
    assert criterion in result.criteria_met
    assert result.major is False
    assert criterion not in classify(replace(BASE, **below)).criteria_met


def _one_per_criterion() -> dict[Criterion, dict[str, Any]]:
    found: dict[Criterion, dict[str, Any]] = {}
    for criterion, above, _ in THRESHOLDS.values():
        found.setdefault(criterion, above)
    return found


PAIRS = list(combinations(sorted(_one_per_criterion(), key=str), 2))


@pytest.mark.parametrize(("first", "second"), PAIRS, ids=[f"{a}+{b}" for a, b in PAIRS])
def test_two_thresholds_with_critical_services_make_a_major_incident(
    first: Criterion, second: Criterion
) -> None:
    facts = {**_one_per_criterion()[first], **_one_per_criterion()[second]}
    result = classify(replace(BASE, **facts))
    assert result.major is True
    assert {first, second, Criterion.CRITICAL_SERVICES} <= set(result.criteria_met)
    not_critical = classify(replace(BASE, critical_services_affected=False, **facts))
    assert not_critical.major is False
    assert "keine kritischen Dienste" in not_critical.reasons[-1].de


def test_two_alternatives_of_one_threshold_count_once() -> None:
    result = classify(replace(BASE, clients_affected=500, relevant_clients_affected=True))
    assert result.criteria_met == [Criterion.CRITICAL_SERVICES, Criterion.CLIENTS]
    assert result.major is False
    assert len([r for r in result.reasons if r.criterion is Criterion.CLIENTS]) == 2


def test_malicious_unauthorised_access_alone_is_major() -> None:
    result = classify(
        Assessment(critical_services_affected=False, malicious_unauthorised_access=True)
    )
    assert result.major is True
    assert result.criteria_met == [Criterion.CRITICAL_SERVICES, Criterion.MALICIOUS_ACCESS]
    assert any("Art. 9(5)(b)" in r for r in result.reason_texts("de"))
    assert any("Art. 6" in r for r in result.reason_texts("en"))


def test_nothing_met_is_not_major_and_says_why() -> None:
    result = classify(BASE)
    assert (result.major, result.criteria_met) == (False, [Criterion.CRITICAL_SERVICES])
    assert result.reason_texts("de")[-1].startswith("Nicht schwerwiegend: 0 von mindestens 2")
    assert result.reason_texts("en")[-1].startswith("Not major: 0 of at least 2")


def test_three_thresholds_are_listed_in_order() -> None:
    facts = {"clients_affected": 200, "duration_hours": 30.0, "economic_impact_eur": 200_000.0}
    result = classify(replace(BASE, **facts))
    assert result.major
    assert [c.value for c in result.criteria_met] == [
        "critical_services",
        "clients_counterparts_transactions",
        "duration_and_downtime",
        "economic_impact",
    ]


NOW = datetime(2026, 11, 27, 9, tzinfo=UTC)


def _occ(
    incident: str, days_ago: int, cause: str = "db-pool", major: bool = False, **facts: Any
) -> Occurrence:
    return Occurrence(
        incident, cause, NOW - timedelta(days=days_ago), replace(BASE, **facts), major
    )


def test_recurring_incidents_major_together_within_six_months() -> None:
    # Each: 60 clients (6%) and 1.5 h downtime: neither meets a threshold alone.
    found = recurring_groups(
        [
            _occ("INC-1", 150, clients_affected=60, critical_function_downtime_hours=1.5),
            _occ("INC-2", 20, clients_affected=60, critical_function_downtime_hours=1.5),
        ],
        now=NOW,
    )
    assert [(g.root_cause, g.incident_ids) for g in found] == [("db-pool", ["INC-1", "INC-2"])]
    assert {Criterion.CLIENTS, Criterion.DURATION} <= set(found[0].classification.criteria_met)


@pytest.mark.parametrize(
    "occurrences",
    [
        # Only one within six months.
        [
            _occ("INC-1", 200, clients_affected=60, critical_function_downtime_hours=1.5),
            _occ("INC-2", 20, clients_affected=60, critical_function_downtime_hours=1.5),
        ],
        # Different root causes.
        [
            _occ("INC-1", 50, "db-pool", clients_affected=60, critical_function_downtime_hours=1.5),
            _occ("INC-2", 20, "dns", clients_affected=60, critical_function_downtime_hours=1.5),
        ],
        # Together still only one threshold.
        [_occ("INC-1", 50, clients_affected=60), _occ("INC-2", 20, clients_affected=60)],
        # One was major on its own: reported already, not part of a recurring group.
        [
            _occ(
                "INC-1", 50, major=True, clients_affected=60, critical_function_downtime_hours=1.5
            ),
            _occ("INC-2", 20, clients_affected=60, critical_function_downtime_hours=1.5),
        ],
    ],
    ids=["outside-6-months", "other-root-cause", "one-threshold", "one-major-alone"],
)
def test_recurring_incidents_that_do_not_qualify(occurrences: list[Occurrence]) -> None:
    assert recurring_groups(occurrences, now=NOW) == []


def test_combined_facts_add_up_and_unite() -> None:
    a = replace(
        BASE, clients_affected=700, member_states_affected=("DE",), reputational_impact=("media",)
    )
    b = replace(BASE, clients_affected=700, member_states_affected=("AT",), economic_impact_eur=5.0)
    both = combine([a, b])
    assert both.clients_affected == 1000  # capped at the total
    assert both.member_states_affected == ("AT", "DE")
    assert both.reputational_impact == ("media",)
    assert both.economic_impact_eur == 5.0
