"""Builders for flag configs in unit tests."""

from __future__ import annotations

from collections.abc import Mapping

from leitstand.flags.model import (
    BOOLEAN_VARIANTS,
    FlagConfig,
    FlagValue,
    Rule,
    Serve,
    Targeting,
    ValueType,
)

NORD, SUED, WEST = "example-makler-nord", "example-makler-sued", "example-vorsorge-west"
TENANTS = (NORD, SUED, WEST)


def flag(
    targeting: Targeting,
    *,
    key: str = "new-billing",
    value_type: ValueType = ValueType.BOOLEAN,
    variants: Mapping[str, FlagValue] | None = None,
    off_variant: str = "off",
) -> FlagConfig:
    return FlagConfig(
        key=key,
        kind="release",
        value_type=value_type,
        variants=dict(variants if variants is not None else BOOLEAN_VARIANTS),
        off_variant=off_variant,
        targeting=targeting,
    )


def on_for(*tenants: str, default: Serve | None = None) -> Targeting:
    return Targeting(
        enabled=True,
        rules=(Rule(name="tenants", serve=Serve(variant="on"), tenants=tenants),),
        default=default or Serve(),
    )


def rollout(percentage: float, *, stickiness: str = "targetingKey") -> Targeting:
    return Targeting(
        enabled=True, default=Serve(variant="on", percentage=percentage, stickiness=stickiness)
    )
