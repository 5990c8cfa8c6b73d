"""Which tenants a flag change affects, for the evidence entry (pure).

A tenant is affected when what applies to it changed: the switch, the kill switch, its
exclusion, a rule that can match it, the fallthrough, or the flag's variants.
"""

from __future__ import annotations

from collections.abc import Sequence

from leitstand.flags.evaluation import condition_holds
from leitstand.flags.model import TENANT_ATTRIBUTE, FlagConfig, Operator, Rule, Serve

__all__ = ["affected_tenants", "tenant_view"]


def _may_match(rule: Rule, tenant: str) -> bool:
    if rule.tenants and tenant not in rule.tenants:
        return False
    for condition in rule.conditions:
        decidable = condition.attribute == TENANT_ATTRIBUTE and condition.operator in (
            Operator.IN,
            Operator.NOT_IN,
        )
        if decidable and not condition_holds(condition, {TENANT_ATTRIBUTE: tenant}):
            return False
    return True


def _certain(rule: Rule) -> bool:
    # Once a tenant reaches this rule it always matches: later rules never apply to it.
    only_tenant = all(
        c.attribute == TENANT_ATTRIBUTE and c.operator in (Operator.IN, Operator.NOT_IN)
        for c in rule.conditions
    )
    return only_tenant and rule.serve.percentage >= 100 and not rule.serve.split


def tenant_view(flag: FlagConfig | None, tenant: str) -> tuple[object, ...]:
    """Everything about ``flag`` that can change the result for ``tenant``."""
    if flag is None:
        return ("absent",)
    t = flag.targeting
    off = ("serves", flag.off_variant, flag.variants.get(flag.off_variant))
    if t.killed or not t.enabled or tenant in t.exclude_tenants:
        return off
    rules: list[tuple[object, ...]] = []
    serves: list[Serve] = []
    default: Serve | None = t.default
    for rule in t.rules:
        if not _may_match(rule, tenant):
            continue
        rules.append((rule.conditions, rule.serve))
        serves.append(rule.serve)
        if _certain(rule):
            default = None
            break
    if default is not None and (
        default.percentage <= 0 or default.variants() in ((), (flag.off_variant,))
    ):
        default = None  # the fallthrough serves the off variant
    if not rules and default is None:
        return off
    if default is not None:
        serves.append(default)
    served = {name: flag.variants.get(name) for serve in serves for name in serve.variants()}
    return ("rules", tuple(rules), default, off, tuple(sorted(served.items(), key=str)))


def affected_tenants(
    before: FlagConfig | None, after: FlagConfig | None, tenants: Sequence[str]
) -> list[str]:
    """The tenants (in policy order) for which the change can alter an evaluation."""
    return [t for t in tenants if tenant_view(before, t) != tenant_view(after, t)]
