"""The release model: routing changes and the canary verdict (pure)."""

from __future__ import annotations

import pytest

from leitstand.releases.model import (
    Measurement,
    MetricLimit,
    Routing,
    Strategy,
    Verdict,
    judge,
    parse_strategy,
)

ERRORS = MetricLimit("HTTP 5xx rate", "%", warning=1, critical=5)
LATENCY = MetricLimit("Response time P95", "ms", warning=500, critical=2000)


def _judge(canary: Measurement, stable: Measurement, min_requests: int = 50) -> Verdict:
    return judge(
        canary, stable, error_limit=ERRORS, latency_limit=LATENCY, min_requests=min_requests
    ).verdict


def test_a_canary_step_splits_traffic_and_a_rollback_puts_all_of_it_back() -> None:
    start = Routing({"blue": 100, "green": 0}, frozenset({"green"}))
    canary = start.enable("green").split("blue", "green", 5)
    assert (canary.weight("blue"), canary.weight("green")) == (95, 5)
    assert canary.retired == frozenset()
    back = canary.split("blue", "green", 0)
    assert back.serving() == ["blue"] and back.weight("green") == 0
    retired = back.retire("green")
    assert retired.retired == {"green"} and retired.same_traffic(start)
    assert Routing.from_dict(retired.as_dict()) == retired


def test_a_retired_slot_has_no_weight_whatever_its_number_says() -> None:
    routing = Routing({"blue": 100, "green": 40}, frozenset({"green"}))
    assert routing.weight("green") == 0 and routing.serving() == ["blue"]


def test_a_canary_at_the_critical_error_rate_fails() -> None:
    canary = Measurement(requests=600, error_rate=20.0, p95_ms=5)
    stable = Measurement(requests=12_000, error_rate=0.0, p95_ms=5)
    result = judge(canary, stable, error_limit=ERRORS, latency_limit=LATENCY, min_requests=50)
    assert result.verdict is Verdict.FAIL
    assert "critical threshold 5 %" in result.reasons[0]


def test_a_canary_above_warning_while_stable_is_fine_fails() -> None:
    canary = Measurement(requests=600, error_rate=0.5, p95_ms=700)
    assert _judge(canary, Measurement(12_000, 0.0, 120)) is Verdict.FAIL


def test_a_degraded_service_cannot_blame_or_clear_its_canary() -> None:
    canary = Measurement(requests=600, error_rate=2.0, p95_ms=100)
    stable = Measurement(requests=12_000, error_rate=2.5, p95_ms=100)
    assert _judge(canary, stable) is Verdict.INCONCLUSIVE


def test_too_few_canary_requests_or_no_prometheus_is_inconclusive() -> None:
    healthy = Measurement(12_000, 0.0, 10)
    assert _judge(Measurement(12, 0.0, 10), healthy) is Verdict.INCONCLUSIVE
    assert _judge(Measurement(None, None, None, error="connection refused"), healthy) is (
        Verdict.INCONCLUSIVE
    )


def test_a_healthy_canary_passes_with_both_reasons_kept() -> None:
    result = judge(
        Measurement(600, 0.0, 8),
        Measurement(12_000, 0.0, 8),
        error_limit=ERRORS,
        latency_limit=LATENCY,
        min_requests=50,
    )
    assert result.verdict is Verdict.PASS and len(result.reasons) == 2


def test_strategies_are_accepted_as_written_on_the_command_line() -> None:
    assert parse_strategy("blue-green") is Strategy.BLUE_GREEN
    assert parse_strategy("Canary") is Strategy.CANARY
    with pytest.raises(ValueError, match="blue-green or canary"):
        parse_strategy("big-bang")
