"""Flag lifecycle: which flags are stale and must leave the code (pure).

The seed: flags are removed after full rollout (no dead code). A flag is stale when it is older
than its type's lifetime (``deployment.feature_flags.lifetimes``), or when it has served one
variant to everyone in production for longer than ``full_rollout_grace`` (default: the type's
lifetime). Archived flags are never stale; ``unlimited`` lifetimes never expire.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from leitstand.flags.model import FlagConfig, FlagRecord
from leitstand.policy.delivery import FeatureFlagPolicy, StaleFlagGate
from leitstand.policy.durations import format_duration
from leitstand.policy.model import Policy

__all__ = [
    "StaleFlag",
    "StaleReason",
    "full_rollout_since",
    "fully_rolled_out",
    "production_environments",
    "stale_flags",
    "stale_gate_fails",
]


class StaleReason(StrEnum):
    """Why a flag is stale."""

    PAST_LIFETIME = "past_lifetime"
    FULLY_ROLLED_OUT = "fully_rolled_out"


@dataclass(frozen=True, slots=True)
class StaleFlag:
    """A flag that should be removed from the code and archived."""

    key: str
    kind: str
    reason: StaleReason
    since: datetime  # creation, or the start of the full rollout
    age: timedelta
    limit: timedelta
    message: str
    owner: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "key": self.key,
            "type": self.kind,
            "reason": self.reason.value,
            "since": self.since.isoformat(),
            "age": format_duration(self.age),
            "limit": format_duration(self.limit),
            "message": self.message,
            "owner": self.owner,
        }


def production_environments(policy: Policy) -> list[str]:
    """The environments the policy marks as production."""
    return [name for name, env in policy.environments.items() if env.production]


def fully_rolled_out(config: FlagConfig) -> bool:
    """Whether every subject gets the same non-off variant (no exclusion, share or split)."""
    t = config.targeting
    if not t.enabled or t.killed or t.exclude_tenants or not t.default.is_full:
        return False
    variant = t.default.variant
    if variant is None or variant == config.off_variant:
        return False
    return all(rule.serve.variants() == (variant,) for rule in t.rules)


def _limit(value: timedelta | str | None) -> timedelta | None:
    return value if isinstance(value, timedelta) else None


def stale_flags(flags: Iterable[FlagRecord], *, policy: Policy, now: datetime) -> list[StaleFlag]:
    """Every stale flag, fully rolled out ones first, then by age (oldest first).

    Args:
        flags: the flags to judge (archived ones are skipped).
        policy: the effective policy (lifetimes, grace, production environments).
        now: the moment to judge at (aware UTC).
    """
    rules = policy.deployment.feature_flags
    production = production_environments(policy)
    found: list[StaleFlag] = []
    for flag in flags:
        if flag.archived:
            continue
        lifetime = _limit(rules.lifetimes.get(flag.kind))
        entry = _fully_rolled_out_entry(flag, production, lifetime, rules, now)
        if entry is None and lifetime is not None and now - flag.created_at > lifetime:
            age = now - flag.created_at
            entry = StaleFlag(
                key=flag.key,
                kind=flag.kind,
                reason=StaleReason.PAST_LIFETIME,
                since=flag.created_at,
                age=age,
                limit=lifetime,
                message=(
                    f"{flag.kind} flag created {format_duration(_days(age))} ago, past its "
                    f"lifetime of {format_duration(lifetime)}: finish the rollout and remove it"
                ),
                owner=flag.owner,
            )
        if entry is not None:
            found.append(entry)
    found.sort(key=lambda s: (s.reason is not StaleReason.FULLY_ROLLED_OUT, -s.age, s.key))
    return found


def _fully_rolled_out_entry(
    flag: FlagRecord,
    production: Sequence[str],
    lifetime: timedelta | None,
    rules: FeatureFlagPolicy,
    now: datetime,
) -> StaleFlag | None:
    setting = rules.full_rollout_grace
    grace = lifetime if setting is None else _limit(setting)
    if not rules.remove_after_full_rollout or grace is None or not production:
        return None
    starts: list[datetime] = []
    for env in production:
        since = flag.full_rollout_since.get(env)
        if since is None or not fully_rolled_out(flag.config(env)):
            return None
        starts.append(since)
    since = max(starts)
    age = now - since
    if age <= grace:
        return None
    return StaleFlag(
        key=flag.key,
        kind=flag.kind,
        reason=StaleReason.FULLY_ROLLED_OUT,
        since=since,
        age=age,
        limit=grace,
        message=(
            f"serves {flag.targeting(production[0]).default.variant!r} to everyone in "
            f"production for {format_duration(_days(age))} (limit {format_duration(grace)}): "
            "remove the flag from the code and archive it"
        ),
        owner=flag.owner,
    )


def _days(age: timedelta) -> timedelta:
    # People read "41d", not "41d 3h 12m": round down to whole days once past a day.
    return timedelta(days=age.days) if age >= timedelta(days=1) else age


def stale_gate_fails(stale: Sequence[StaleFlag], *, policy: Policy) -> bool:
    """Whether the quality gate must fail: stale flags exist and the policy says ``fail``."""
    return bool(stale) and policy.deployment.feature_flags.stale_gate is StaleFlagGate.FAIL


def full_rollout_since(
    before: FlagRecord | None, after: FlagRecord, now: datetime
) -> dict[str, datetime | None]:
    """Per environment, since when ``after`` has served one variant to everyone (kept from
    ``before`` while that stays so; ``now`` when it starts; None while it is not so)."""
    result: dict[str, datetime | None] = {}
    for env in after.environments:
        if not fully_rolled_out(after.config(env)):
            result[env] = None
            continue
        previous = before.full_rollout_since.get(env) if before is not None else None
        same = (
            before is not None
            and fully_rolled_out(before.config(env))
            and before.targeting(env).default.variant == after.targeting(env).default.variant
        )
        result[env] = previous if same and previous is not None else now
    return result
