"""Evaluation semantics: targeting, kill switch, reasons, errors, sticky percentages."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leitstand.flags.evaluation import (
    ErrorCode,
    Reason,
    Snapshot,
    bucket,
    evaluate,
    in_share,
    tenant_state,
)
from leitstand.flags.model import Condition, Operator, Rule, Serve, Targeting, ValueType

from .helpers import NORD, SUED, WEST, flag, on_for, rollout


def ctx(
    tenant: str | None = NORD, key: str | None = "user-1", **attrs: object
) -> dict[str, object]:
    out: dict[str, object] = dict(attrs)
    if tenant is not None:
        out["tenantId"] = tenant
    if key is not None:
        out["targetingKey"] = key
    return out


def test_listed_tenants_get_the_feature_and_others_the_off_variant() -> None:
    config = flag(on_for(NORD, SUED))
    nord = evaluate(config, config.key, ctx(NORD))
    assert (nord.value, nord.variant, nord.reason, nord.rule) == (
        True,
        "on",
        Reason.TARGETING_MATCH,
        "tenants",
    )
    west = evaluate(config, config.key, ctx(WEST))
    assert (west.value, west.variant, west.reason) == (False, "off", Reason.DEFAULT)


def test_an_excluded_tenant_gets_the_off_variant_before_any_rule() -> None:
    targeting = Targeting(enabled=True, exclude_tenants=(SUED,), default=Serve(variant="on"))
    config = flag(targeting)
    assert evaluate(config, config.key, ctx(NORD)).value is True
    excluded = evaluate(config, config.key, ctx(SUED))
    assert (excluded.value, excluded.reason, excluded.rule) == (
        False,
        Reason.TARGETING_MATCH,
        "excluded_tenants",
    )


def test_attribute_rules_match_in_order_and_all_conditions_must_hold() -> None:
    rules = (
        Rule(
            name="enterprise-admins",
            serve=Serve(variant="on"),
            conditions=(
                Condition("plan", Operator.IN, ("enterprise",)),
                Condition("email", Operator.ENDS_WITH, ("@makler-nord.example",)),
            ),
        ),
        Rule(
            name="big-contracts",
            serve=Serve(variant="on"),
            conditions=(Condition("contracts", Operator.GTE, (1000,)),),
        ),
    )
    config = flag(Targeting(enabled=True, rules=rules))
    admin = ctx(plan="enterprise", email="a@makler-nord.example")
    assert evaluate(config, config.key, admin).rule == "enterprise-admins"
    assert evaluate(config, config.key, ctx(plan="enterprise", email="a@x.example")).value is False
    assert evaluate(config, config.key, ctx(contracts="1500")).rule == "big-contracts"
    assert evaluate(config, config.key, ctx(contracts=999)).value is False
    assert evaluate(config, config.key, ctx(contracts="many")).value is False


@pytest.mark.parametrize(
    ("operator", "values", "actual", "holds"),
    [
        (Operator.NOT_IN, ("a",), None, True),
        (Operator.NOT_IN, ("a",), "a", False),
        (Operator.STARTS_WITH, ("ma",), "makler", True),
        (Operator.CONTAINS, ("kle",), "makler", True),
        (Operator.MATCHES, (r"^v\d+\.\d+$",), "v2.4", True),
        (Operator.MATCHES, (r"^v\d+$",), "v2.4", False),
        (Operator.LT, (3,), 2.5, True),
        (Operator.LTE, (3,), 3, True),
        (Operator.GT, (3,), 3, False),
        (Operator.IN, (True,), "true", True),
        (Operator.IN, (2,), "2.0", True),
    ],
)
def test_condition_operators(
    operator: Operator, values: tuple[object, ...], actual: object, holds: bool
) -> None:
    rule = Rule(
        name="r",
        serve=Serve(variant="on"),
        conditions=(Condition("x", operator, values),),  # type: ignore[arg-type]
    )
    config = flag(Targeting(enabled=True, rules=(rule,)))
    context = ctx() if actual is None else ctx(x=actual)
    assert (evaluate(config, config.key, context).rule == "r") is holds


def test_the_kill_switch_wins_over_everything() -> None:
    targeting = Targeting(
        enabled=True,
        killed=True,
        rules=(Rule(name="tenants", serve=Serve(variant="on"), tenants=(NORD,)),),
        default=Serve(variant="on"),
    )
    config = flag(targeting)
    for context in (ctx(NORD), ctx(WEST), ctx(tenant=None), ctx(key=None)):
        result = evaluate(config, config.key, context)
        assert (result.value, result.variant, result.reason, result.rule) == (
            False,
            "off",
            Reason.DISABLED,
            "kill_switch",
        )
        assert result.error_code is None


def test_targeting_off_serves_the_off_variant_as_disabled() -> None:
    config = flag(Targeting(enabled=False, default=Serve(variant="on")))
    result = evaluate(config, config.key, ctx())
    assert (result.value, result.reason) == (False, Reason.DISABLED)


def test_an_unconditional_fallthrough_is_static() -> None:
    config = flag(Targeting(enabled=True, default=Serve(variant="on")))
    result = evaluate(config, config.key, ctx(key=None))
    assert (result.value, result.reason) == (True, Reason.STATIC)


def test_multi_variant_flags_serve_their_values() -> None:
    variants = {"classic": "#0b5cad", "fresh": "#1f7a3a"}
    targeting = Targeting(
        enabled=True,
        rules=(Rule(name="pilot", serve=Serve(variant="fresh"), tenants=(NORD,)),),
        default=Serve(variant="classic"),
    )
    config = flag(targeting, value_type=ValueType.STRING, variants=variants, off_variant="classic")
    assert evaluate(config, config.key, ctx(NORD)).value == "#1f7a3a"
    assert evaluate(config, config.key, ctx(SUED)).value == "#0b5cad"


@pytest.mark.parametrize(
    ("config", "key", "context", "expected", "code"),
    [
        (None, "missing", ctx(), None, ErrorCode.FLAG_NOT_FOUND),
        (flag(on_for(NORD)), "new-billing", ctx(), ValueType.STRING, ErrorCode.TYPE_MISMATCH),
        (flag(on_for(NORD)), "new-billing", ctx(tenant=None), None, ErrorCode.INVALID_CONTEXT),
        (flag(on_for(NORD)), "new-billing", ctx(tenant=""), None, ErrorCode.INVALID_CONTEXT),
        (flag(rollout(50)), "new-billing", ctx(key=None), None, ErrorCode.TARGETING_KEY_MISSING),
        (
            flag(rollout(50, stickiness="contractId")),
            "new-billing",
            ctx(),
            None,
            ErrorCode.INVALID_CONTEXT,
        ),
    ],
)
def test_bad_input_is_an_error_code_never_an_exception(
    config: object,
    key: str,
    context: dict[str, object],
    expected: ValueType | None,
    code: ErrorCode,
) -> None:
    result = evaluate(config, key, context, expected=expected)  # type: ignore[arg-type]
    assert (result.value, result.variant, result.reason, result.error_code) == (
        None,
        None,
        Reason.ERROR,
        code,
    )
    assert result.error_message


def test_an_archived_flag_is_not_found_with_a_hint_to_remove_it() -> None:
    snapshot = Snapshot(environment="production", flags={}, archived=frozenset({"old"}))
    result = snapshot.resolve("old", ctx())
    assert result.error_code is ErrorCode.FLAG_NOT_FOUND
    assert "archived" in (result.error_message or "")


def test_an_integer_flag_answers_a_float_question_but_not_a_string_one() -> None:
    config = flag(
        Targeting(enabled=True, default=Serve(variant="ten")),
        value_type=ValueType.INTEGER,
        variants={"ten": 10, "zero": 0},
        off_variant="zero",
    )
    assert evaluate(config, config.key, ctx(), expected=ValueType.FLOAT).value == 10
    assert evaluate(config, config.key, ctx(), expected=ValueType.STRING).error_code is (
        ErrorCode.TYPE_MISMATCH
    )


# -- stickiness ------------------------------------------------------------------------------

subjects = st.text(min_size=1, max_size=40)
percentages = st.integers(min_value=0, max_value=10_000).map(lambda n: n / 100)


@settings(max_examples=500, deadline=None)
@given(subject=subjects, low=percentages, high=percentages)
def test_raising_the_percentage_never_takes_the_feature_away(
    subject: str, low: float, high: float
) -> None:
    low, high = sorted((low, high))
    before = evaluate(flag(rollout(low)), "new-billing", ctx(key=subject))
    after = evaluate(flag(rollout(high)), "new-billing", ctx(key=subject))
    if before.value is True:
        assert after.value is True


@settings(max_examples=300, deadline=None)
@given(subject=subjects, low=percentages, high=percentages, tenant=st.sampled_from([NORD, WEST]))
def test_a_subject_keeps_its_variant_when_only_the_percentage_grows(
    subject: str, low: float, high: float, tenant: str
) -> None:
    low, high = sorted((low, high))
    variants = {"control": "a", "blue": "b", "green": "c"}

    def experiment(percentage: float) -> Targeting:
        split = Serve(split=(("blue", 1), ("green", 1)), percentage=percentage)
        return Targeting(
            enabled=True,
            rules=(Rule(name="experiment", serve=split, tenants=(NORD,)),),
            default=Serve(variant="control"),
        )

    def variant(percentage: float) -> str | None:
        config = flag(
            experiment(percentage),
            value_type=ValueType.STRING,
            variants=variants,
            off_variant="control",
        )
        return evaluate(config, config.key, ctx(tenant, key=subject)).variant

    before, after = variant(low), variant(high)
    if before != "control":
        assert after == before


@settings(max_examples=200, deadline=None)
@given(subject=subjects, percentage=percentages)
def test_the_same_subject_always_gets_the_same_answer(subject: str, percentage: float) -> None:
    config = flag(rollout(percentage))
    answers = {evaluate(config, config.key, ctx(key=subject)).value for _ in range(3)}
    assert len(answers) == 1


def test_a_percentage_admits_about_that_share_of_subjects() -> None:
    admitted = sum(in_share("new-billing", f"user-{i}", 25) for i in range(20_000))
    assert 0.23 < admitted / 20_000 < 0.27
    assert all(in_share("new-billing", f"u{i}", 100) for i in range(1000))
    assert not any(in_share("new-billing", f"u{i}", 0) for i in range(1000))


def test_buckets_depend_on_the_flag_so_rollouts_are_independent() -> None:
    same = sum(bucket("flag-a", f"u{i}") == bucket("flag-b", f"u{i}") for i in range(1000))
    assert same < 10


def test_tenant_rollouts_can_stick_to_the_tenant() -> None:
    config = flag(rollout(50, stickiness="tenantId"))
    results = {evaluate(config, config.key, ctx(NORD, key=f"u{i}")).value for i in range(50)}
    assert len(results) == 1


def test_tenant_state_summarises_each_tenant() -> None:
    targeting = Targeting(
        enabled=True,
        exclude_tenants=(WEST,),
        rules=(Rule(name="tenants", serve=Serve(variant="on"), tenants=(NORD,)),),
        default=Serve(variant="on", percentage=25),
    )
    config = flag(targeting)
    assert [tenant_state(config, t) for t in (NORD, SUED, WEST)] == ["on", "25% on", "off"]
    killed = flag(Targeting(enabled=True, killed=True, default=Serve(variant="on")))
    assert tenant_state(killed, NORD) == "killed"
    with_attribute = Targeting(
        enabled=True,
        rules=(
            Rule(
                name="plan",
                serve=Serve(variant="on"),
                conditions=(Condition("plan", Operator.IN, ("enterprise",)),),
            ),
        ),
    )
    assert tenant_state(flag(with_attribute), NORD) == "varies"
