"""The policy's rules for flag changes: environments, tenants, types, roles, reasons."""

from __future__ import annotations

from collections.abc import Sequence

from leitstand.auth.model import ALL_ROLES, Actor, Role
from leitstand.errors import ForbiddenError, Issue, ValidationError
from leitstand.flags.model import (
    TENANT_ATTRIBUTE,
    FlagRecord,
    Targeting,
    check_flag,
    check_targeting,
)
from leitstand.policy.model import Policy

__all__ = ["WRITERS", "FlagRules"]

#: The roles a flag change is admitted for; the policy's editors / production_editors decide
#: per environment.
WRITERS = tuple(sorted(ALL_ROLES - {Role.AUDITOR}))

_AUTHORITIES = ("local", "local-admin", "system")  # the local operator and leitstand itself


class FlagRules:
    """Checks a flag change against the policy before anything is written."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    @property
    def environments(self) -> list[str]:
        return list(self.policy.environments)

    @property
    def tenants(self) -> list[str]:
        return list(self.policy.tenants)

    def is_production(self, environment: str) -> bool:
        env = self.policy.environments.get(environment)
        return bool(env and env.production)

    def check_environment(self, environment: str) -> None:
        """Refuse an environment the policy does not name."""
        if environment not in self.policy.environments:
            raise ValidationError(
                [
                    Issue(
                        "environment",
                        f"one of {', '.join(self.environments)} (policy environments) "
                        f"(got {environment!r})",
                    )
                ]
            )

    def validate(self, record: FlagRecord) -> None:
        """Refuse a flag whose type, variants or targeting break the policy; all issues at once."""
        kinds = list(self.policy.deployment.feature_flags.lifetimes)
        issues = check_flag(
            key=record.key,
            kind=record.kind,
            value_type=record.value_type,
            variants=record.variants,
            off_variant=record.off_variant,
            kinds=kinds,
        )
        for env, targeting in record.environments.items():
            if env not in self.policy.environments:
                issues.append(
                    Issue(
                        f"environments.{env}",
                        f"one of {', '.join(self.environments)} (policy environments)",
                    )
                )
                continue
            issues += check_targeting(
                targeting,
                path=f"environments.{env}",
                variants=record.variants,
                tenants=self.tenants,
            )
            if not self.policy.deployment.feature_flags.per_tenant_activation:
                issues += _tenant_specific(targeting, f"environments.{env}")
        if issues:
            raise ValidationError(issues)

    def may_change(self, actor: Actor, environment: str | None) -> bool:
        """Whether ``actor`` may change flags in ``environment`` (None: flag definitions)."""
        try:
            self.authorize(actor, [environment] if environment else [], definition=not environment)
        except ForbiddenError:
            return False
        return True

    def authorize(self, actor: Actor, environments: Sequence[str], *, definition: bool) -> None:
        """Refuse a role the policy does not admit for these environments (or definitions)."""
        if actor.role in _AUTHORITIES:
            return
        rules = self.policy.deployment.feature_flags
        try:
            role = Role(actor.role)
        except ValueError:
            raise ForbiddenError(f"role {actor.role!r} may not change feature flags") from None
        checks = [("flag definitions", "editors", rules.editors)] if definition else []
        for env in environments:
            if self.is_production(env):
                checks.append((f"flags in {env}", "production_editors", rules.production_editors))
            else:
                checks.append((f"flags in {env}", "editors", rules.editors))
        for where, setting, allowed in checks:
            if role not in allowed:
                names = ", ".join(r.value for r in allowed) or "nobody"
                raise ForbiddenError(
                    f"role {role.value!r} may not change {where} "
                    f"(policy deployment.feature_flags.{setting}: {names})"
                )

    def require_reason(self, environments: Sequence[str], reason: str | None) -> None:
        """Refuse a production change without a reason."""
        production = [e for e in environments if self.is_production(e)]
        if production and not (reason or "").strip():
            raise ValidationError(
                [
                    Issue(
                        "reason",
                        f"a reason is required for flag changes in production "
                        f"({', '.join(production)}) (got none)",
                    )
                ]
            )


def _tenant_specific(targeting: Targeting, path: str) -> list[Issue]:
    why = (
        "no tenant-specific targeting: policy deployment.feature_flags.per_tenant_activation "
        "is false"
    )
    issues = [Issue(f"{path}.exclude_tenants", why)] if targeting.exclude_tenants else []
    for index, rule in enumerate(targeting.rules):
        if rule.tenants or any(c.attribute == TENANT_ATTRIBUTE for c in rule.conditions):
            issues.append(Issue(f"{path}.rules.{index}", why))
    return issues
