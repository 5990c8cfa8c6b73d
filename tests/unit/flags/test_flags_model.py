"""Flag definitions and targeting are checked against the policy's tenants, types, variants."""

from __future__ import annotations

from leitstand.flags.model import (
    BOOLEAN_VARIANTS,
    Condition,
    Operator,
    Rule,
    Serve,
    Targeting,
    ValueType,
    check_flag,
    check_targeting,
)

from .helpers import NORD, TENANTS

KINDS = ["release", "experiment", "operational", "permission"]


def issues(targeting: Targeting) -> list[str]:
    found = check_targeting(
        targeting, path="environments.production", variants=BOOLEAN_VARIANTS, tenants=TENANTS
    )
    return [str(i) for i in found]


def test_rules_naming_an_unknown_tenant_are_refused_with_the_path_and_the_known_tenants() -> None:
    targeting = Targeting(
        enabled=True,
        exclude_tenants=("ghost",),
        rules=(Rule(name="tenants", serve=Serve(variant="on"), tenants=(NORD, "acme")),),
    )
    assert issues(targeting) == [
        "environments.production.exclude_tenants.0: unknown tenant 'ghost'; tenants in the "
        "policy: example-makler-nord, example-makler-sued, example-vorsorge-west",
        "environments.production.rules.0.tenants.1: unknown tenant 'acme'; tenants in the "
        "policy: example-makler-nord, example-makler-sued, example-vorsorge-west",
    ]


def test_a_tenant_condition_must_name_known_tenants_too() -> None:
    rule = Rule(
        name="r",
        serve=Serve(variant="on"),
        conditions=(Condition("tenantId", Operator.IN, ("acme",)),),
    )
    assert issues(Targeting(rules=(rule,))) == [
        "environments.production.rules.0.conditions.0.values.0: unknown tenant 'acme'; "
        "tenants in the policy: example-makler-nord, example-makler-sued, example-vorsorge-west"
    ]


def test_serves_must_name_variants_and_sensible_shares() -> None:
    rules = (
        Rule(name="a", serve=Serve(variant="maybe")),
        Rule(name="a", serve=Serve(split=(("on", 0), ("nope", 1)))),
        Rule(name="c", serve=Serve()),
        Rule(name="d", serve=Serve(variant="on", percentage=12.345)),
        Rule(
            name="e",
            serve=Serve(variant="on"),
            conditions=(
                Condition("n", Operator.GT, ("ten",)),
                Condition("m", Operator.MATCHES, ("(",)),
            ),
        ),
    )
    found = issues(Targeting(rules=rules, default=Serve(variant="on", percentage=150)))
    assert found == [
        "environments.production.rules.0.serve.variant: one of the variants on, off (got 'maybe')",
        "environments.production.rules.1.name: rule names are unique (got 'a' twice)",
        "environments.production.rules.1.serve.split.0.weight: at least 1 (got 0)",
        "environments.production.rules.1.serve.split.1.variant: one of the variants on, off "
        "(got 'nope')",
        "environments.production.rules.2.serve.variant: a variant or a split to serve "
        "(got neither)",
        "environments.production.rules.3.serve.percentage: at most two decimals (got 12.345)",
        "environments.production.rules.4.conditions.0.values.0: a number for gt (got 'ten')",
        "environments.production.rules.4.conditions.1.values.0: a valid regular expression "
        "(missing ), unterminated subpattern at position 0) (got '(')",
        "environments.production.default.percentage: between 0 and 100 (got 150)",
    ]


def test_flag_definitions_are_checked_against_type_values_and_policy_kinds() -> None:
    found = check_flag(
        key="New Billing",
        kind="sunset",
        value_type=ValueType.INTEGER,
        variants={"one": 1, "yes": True, "half": 0.5},
        off_variant="zero",
        kinds=KINDS,
    )
    assert [str(i) for i in found] == [
        "key: lower-case letters, digits and ._- (at most 100) (got 'New Billing')",
        "type: one of release, experiment, operational, permission (policy "
        "deployment.feature_flags.lifetimes) (got 'sunset')",
        "variants.yes: a integer value (got True)",
        "variants.half: a integer value (got 0.5)",
        "off_variant: one of the variants one, yes, half (got 'zero')",
    ]
    assert (
        check_flag(
            key="ok",
            kind="release",
            value_type=ValueType.OBJECT,
            variants={"a": {"x": 1}, "b": [1]},
            off_variant="a",
            kinds=KINDS,
        )
        == []
    )
