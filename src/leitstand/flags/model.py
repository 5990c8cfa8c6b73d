"""Feature flags as data: values, variants, targeting per environment, and their rules (pure).

A flag has a key, a type (a key of the policy's ``feature_flags.lifetimes``: release, experiment,
operational, permission), a value type and named variants. Per environment, ``Targeting`` says
who gets which variant: a kill switch and an on/off switch, excluded tenants, ordered rules
(tenant lists, attribute conditions, a sticky percentage) and the fallthrough.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeAlias

from leitstand.errors import Issue

__all__ = [
    "BOOLEAN_VARIANTS",
    "TARGETING_KEY",
    "TENANT_ATTRIBUTE",
    "Condition",
    "ConditionValue",
    "FlagConfig",
    "FlagRecord",
    "FlagValue",
    "Operator",
    "Rule",
    "Serve",
    "Targeting",
    "ValueType",
    "check_flag",
    "check_targeting",
    "compiled_pattern",
    "valid_key",
]

FlagValue: TypeAlias = bool | int | float | str | list[Any] | dict[str, Any]
ConditionValue: TypeAlias = str | int | float | bool

#: The evaluation-context attribute that names the tenant (required on every evaluation).
TENANT_ATTRIBUTE = "tenantId"
#: OpenFeature's targeting key (the subject: a user, a session, a contract).
TARGETING_KEY = "targetingKey"
BOOLEAN_VARIANTS: Mapping[str, FlagValue] = {"on": True, "off": False}

_KEY = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
_VARIANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_ATTRIBUTE = re.compile(r"^[A-Za-z_$][A-Za-z0-9_.$-]{0,99}$")


class ValueType(StrEnum):
    """The type of a flag's values (OpenFeature's five resolve methods)."""

    BOOLEAN = "boolean"
    STRING = "string"
    INTEGER = "integer"
    FLOAT = "float"
    OBJECT = "object"


class Operator(StrEnum):
    """How a condition compares a context attribute with its values."""

    IN = "in"
    NOT_IN = "not_in"
    STARTS_WITH = "starts_with"
    ENDS_WITH = "ends_with"
    CONTAINS = "contains"
    MATCHES = "matches"  # regular expression, searched
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"


NUMERIC_OPERATORS = frozenset({Operator.GT, Operator.GTE, Operator.LT, Operator.LTE})


@dataclass(frozen=True, slots=True)
class Condition:
    """``attribute operator values``, e.g. ``plan in [enterprise]``."""

    attribute: str
    operator: Operator
    values: tuple[ConditionValue, ...]


@dataclass(frozen=True, slots=True)
class Serve:
    """What a rule (or the fallthrough) serves, to a sticky share of the subjects.

    Either one ``variant`` or a weighted ``split`` between variants (an experiment).
    ``percentage`` is the share of subjects (by consistent hash of ``stickiness``) it applies
    to; raising it only adds subjects. Outside the share a rule falls through to the next, the
    fallthrough serves the flag's off variant.
    """

    variant: str | None = None
    split: tuple[tuple[str, int], ...] = ()
    percentage: float = 100.0
    stickiness: str = TARGETING_KEY

    @property
    def is_full(self) -> bool:
        """Serves one variant to every subject."""
        return self.variant is not None and not self.split and self.percentage >= 100

    def variants(self) -> tuple[str, ...]:
        if self.split:
            return tuple(name for name, _ in self.split)
        return (self.variant,) if self.variant is not None else ()


@dataclass(frozen=True, slots=True)
class Rule:
    """A targeting rule: tenants (empty: any) AND conditions, then what to serve."""

    name: str
    serve: Serve
    tenants: tuple[str, ...] = ()
    conditions: tuple[Condition, ...] = ()


@dataclass(frozen=True, slots=True)
class Targeting:
    """A flag's behaviour in one environment. The kill switch wins over everything."""

    enabled: bool = False
    killed: bool = False
    exclude_tenants: tuple[str, ...] = ()
    rules: tuple[Rule, ...] = ()
    default: Serve = field(default_factory=lambda: Serve(variant=None))


@dataclass(frozen=True, slots=True)
class FlagConfig:
    """Everything evaluation needs about one flag in one environment (a snapshot entry)."""

    key: str
    kind: str
    value_type: ValueType
    variants: Mapping[str, FlagValue]
    off_variant: str
    targeting: Targeting


@dataclass(frozen=True, slots=True)
class FlagRecord:
    """A stored flag with its targeting in every environment and its lifecycle dates."""

    key: str
    kind: str
    value_type: ValueType
    variants: Mapping[str, FlagValue]
    off_variant: str
    description: str
    owner: str | None
    environments: Mapping[str, Targeting]
    created_at: datetime
    updated_at: datetime
    version: int = 1
    archived_at: datetime | None = None
    # When each environment last became fully rolled out (None: not fully rolled out now).
    full_rollout_since: Mapping[str, datetime | None] = field(default_factory=dict)

    @property
    def archived(self) -> bool:
        return self.archived_at is not None

    def targeting(self, environment: str) -> Targeting:
        """The targeting in ``environment``; an environment never configured is off."""
        return self.environments.get(environment) or Targeting()

    def config(self, environment: str) -> FlagConfig:
        return FlagConfig(
            key=self.key,
            kind=self.kind,
            value_type=self.value_type,
            variants=self.variants,
            off_variant=self.off_variant,
            targeting=self.targeting(environment),
        )


def valid_key(key: str) -> bool:
    """Lower-case letters, digits and ``._-``, at most 100 characters."""
    return bool(_KEY.match(key))


@functools.lru_cache(maxsize=1024)
def compiled_pattern(pattern: str) -> re.Pattern[str]:
    """A condition's regular expression, compiled once."""
    return re.compile(pattern)


def value_matches(value_type: ValueType, value: object) -> bool:
    """Whether ``value`` is a value of ``value_type`` (JSON types; bool is not a number)."""
    if value_type is ValueType.BOOLEAN:
        return isinstance(value, bool)
    if value_type is ValueType.STRING:
        return isinstance(value, str)
    if value_type is ValueType.INTEGER:
        return isinstance(value, int) and not isinstance(value, bool)
    if value_type is ValueType.FLOAT:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, dict | list)


def check_flag(
    *,
    key: str,
    kind: str,
    value_type: ValueType,
    variants: Mapping[str, FlagValue],
    off_variant: str,
    kinds: Sequence[str],
) -> list[Issue]:
    """Problems with a flag's definition (everything but its targeting)."""
    issues: list[Issue] = []
    if not valid_key(key):
        issues.append(
            Issue("key", f"lower-case letters, digits and ._- (at most 100) (got {key!r})")
        )
    if kind not in kinds:
        issues.append(
            Issue(
                "type",
                f"one of {', '.join(kinds)} (policy deployment.feature_flags.lifetimes) "
                f"(got {kind!r})",
            )
        )
    if not variants:
        issues.append(Issue("variants", "at least one variant (got none)"))
    for name, value in variants.items():
        if not _VARIANT.match(name):
            issues.append(
                Issue(f"variants.{name}", "a variant name of letters, digits and ._- (got it)")
            )
        elif not value_matches(value_type, value):
            issues.append(Issue(f"variants.{name}", f"a {value_type.value} value (got {value!r})"))
    if variants and off_variant not in variants:
        issues.append(
            Issue("off_variant", f"one of the variants {_names(variants)} (got {off_variant!r})")
        )
    return issues


def check_targeting(
    targeting: Targeting,
    *,
    path: str,
    variants: Mapping[str, FlagValue],
    tenants: Sequence[str],
) -> list[Issue]:
    """Problems with one environment's targeting; unknown tenants are refused by name."""
    issues: list[Issue] = []
    known = set(tenants)

    def tenant_list(where: str, names: Sequence[object]) -> None:
        seen: set[object] = set()
        for index, name in enumerate(names):
            if name not in known:
                issues.append(
                    Issue(
                        f"{where}.{index}",
                        f"unknown tenant {name!r}; tenants in the policy: "
                        f"{', '.join(sorted(known)) or 'none'}",
                    )
                )
            if name in seen:
                issues.append(Issue(f"{where}.{index}", f"tenant {name!r} is listed twice"))
            seen.add(name)

    tenant_list(f"{path}.exclude_tenants", targeting.exclude_tenants)
    names: set[str] = set()
    for index, rule in enumerate(targeting.rules):
        where = f"{path}.rules.{index}"
        if not rule.name.strip():
            issues.append(Issue(f"{where}.name", "a name for the rule (got '')"))
        elif rule.name in names:
            issues.append(
                Issue(f"{where}.name", f"rule names are unique (got {rule.name!r} twice)")
            )
        names.add(rule.name)
        tenant_list(f"{where}.tenants", rule.tenants)
        for c_index, condition in enumerate(rule.conditions):
            issues += _check_condition(condition, f"{where}.conditions.{c_index}", known)
        issues += _check_serve(rule.serve, f"{where}.serve", variants, required=True)
    issues += _check_serve(targeting.default, f"{path}.default", variants, required=False)
    return issues


def _check_condition(condition: Condition, where: str, tenants: set[str]) -> list[Issue]:
    issues: list[Issue] = []
    if not _ATTRIBUTE.match(condition.attribute):
        issues.append(
            Issue(f"{where}.attribute", f"an attribute name (got {condition.attribute!r})")
        )
    if not condition.values:
        issues.append(Issue(f"{where}.values", "at least one value (got [])"))
    for index, value in enumerate(condition.values):
        at = f"{where}.values.{index}"
        if condition.operator in NUMERIC_OPERATORS and (
            isinstance(value, bool) or not isinstance(value, int | float)
        ):
            issues.append(Issue(at, f"a number for {condition.operator.value} (got {value!r})"))
        if condition.operator is Operator.MATCHES:
            try:
                compiled_pattern(str(value))
            except re.error as exc:
                issues.append(Issue(at, f"a valid regular expression ({exc}) (got {value!r})"))
        if (
            condition.attribute == TENANT_ATTRIBUTE
            and condition.operator in (Operator.IN, Operator.NOT_IN)
            and value not in tenants
        ):
            issues.append(
                Issue(
                    at,
                    f"unknown tenant {value!r}; tenants in the policy: "
                    f"{', '.join(sorted(tenants)) or 'none'}",
                )
            )
    return issues


def _check_serve(
    serve: Serve, where: str, variants: Mapping[str, FlagValue], *, required: bool
) -> list[Issue]:
    issues: list[Issue] = []
    if serve.variant is not None and serve.split:
        issues.append(Issue(where, "either a variant or a split, not both"))
    if required and serve.variant is None and not serve.split:
        issues.append(Issue(f"{where}.variant", "a variant or a split to serve (got neither)"))
    if serve.variant is not None and serve.variant not in variants:
        issues.append(
            Issue(
                f"{where}.variant",
                f"one of the variants {_names(variants)} (got {serve.variant!r})",
            )
        )
    seen: set[str] = set()
    for index, (name, weight) in enumerate(serve.split):
        if name not in variants:
            issues.append(
                Issue(
                    f"{where}.split.{index}.variant",
                    f"one of the variants {_names(variants)} (got {name!r})",
                )
            )
        if name in seen:
            issues.append(Issue(f"{where}.split.{index}.variant", f"{name!r} is listed twice"))
        seen.add(name)
        if weight < 1:
            issues.append(Issue(f"{where}.split.{index}.weight", f"at least 1 (got {weight})"))
    if not 0 <= serve.percentage <= 100:
        issues.append(Issue(f"{where}.percentage", f"between 0 and 100 (got {serve.percentage:g})"))
    elif round(serve.percentage * 100) != serve.percentage * 100:
        issues.append(
            Issue(f"{where}.percentage", f"at most two decimals (got {serve.percentage!r})")
        )
    if not _ATTRIBUTE.match(serve.stickiness):
        issues.append(Issue(f"{where}.stickiness", f"an attribute name (got {serve.stickiness!r})"))
    return issues


def _names(variants: Mapping[str, FlagValue]) -> str:
    return ", ".join(variants) or "(none)"
