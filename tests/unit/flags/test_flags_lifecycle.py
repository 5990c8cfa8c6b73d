"""Stale flags: past their type's lifetime, or fully rolled out in production for too long."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from leitstand.flags.lifecycle import StaleReason, fully_rolled_out, stale_flags, stale_gate_fails
from leitstand.flags.model import BOOLEAN_VARIANTS, FlagRecord, Rule, Serve, Targeting, ValueType
from leitstand.policy.delivery import StaleFlagGate
from leitstand.policy.model import Policy, default_policy

from .helpers import NORD, flag

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
FULL = Targeting(enabled=True, default=Serve(variant="on"))


def record(
    key: str,
    *,
    kind: str = "release",
    age: timedelta,
    production: Targeting | None = None,
    full_since: timedelta | None = None,
    archived: bool = False,
) -> FlagRecord:
    created = NOW - age
    return FlagRecord(
        key=key,
        kind=kind,
        value_type=ValueType.BOOLEAN,
        variants=BOOLEAN_VARIANTS,
        off_variant="off",
        description="",
        owner="anna",
        environments={"production": production or Targeting()},
        created_at=created,
        updated_at=created,
        archived_at=created if archived else None,
        full_rollout_since={"production": NOW - full_since if full_since is not None else None},
    )


def policy(**flags: object) -> Policy:
    base = default_policy()
    ff = base.deployment.feature_flags.model_copy(update=flags)
    return base.model_copy(
        update={"deployment": base.deployment.model_copy(update={"feature_flags": ff})}
    )


def test_a_flag_older_than_its_types_lifetime_is_stale() -> None:
    flags = [
        record("young-release", age=timedelta(days=39)),
        record("old-release", age=timedelta(days=41)),
        record("old-operational", kind="operational", age=timedelta(days=8)),
        record("old-permission", kind="permission", age=timedelta(days=3000)),
        record("archived", age=timedelta(days=400), archived=True),
    ]
    stale = stale_flags(flags, policy=default_policy(), now=NOW)
    assert [(s.key, s.reason) for s in stale] == [
        ("old-release", StaleReason.PAST_LIFETIME),
        ("old-operational", StaleReason.PAST_LIFETIME),
    ]
    assert stale[0].as_dict()["limit"] == "40d"
    assert stale[0].owner == "anna"
    assert "past its lifetime of 40d" in stale[0].message


def test_a_flag_fully_rolled_out_in_production_longer_than_the_grace_is_stale() -> None:
    flags = [
        record("done", age=timedelta(days=20), production=FULL, full_since=timedelta(days=15)),
        record("fresh", age=timedelta(days=20), production=FULL, full_since=timedelta(days=2)),
    ]
    assert stale_flags(flags, policy=default_policy(), now=NOW) == []
    stale = stale_flags(flags, policy=policy(full_rollout_grace=timedelta(days=14)), now=NOW)
    assert [(s.key, s.reason) for s in stale] == [("done", StaleReason.FULLY_ROLLED_OUT)]
    assert "to everyone in production for 15d" in stale[0].message
    assert (
        stale_flags(
            flags,
            policy=policy(full_rollout_grace=timedelta(days=14), remove_after_full_rollout=False),
            now=NOW,
        )
        == []
    )


def test_fully_rolled_out_reasons_come_first() -> None:
    flags = [
        record("old", age=timedelta(days=90)),
        record("done", age=timedelta(days=45), production=FULL, full_since=timedelta(days=41)),
    ]
    stale = stale_flags(flags, policy=default_policy(), now=NOW)
    assert [(s.key, s.reason) for s in stale] == [
        ("done", StaleReason.FULLY_ROLLED_OUT),
        ("old", StaleReason.PAST_LIFETIME),
    ]


def test_fully_rolled_out_means_one_non_off_variant_for_everyone() -> None:
    assert fully_rolled_out(flag(FULL))
    assert not fully_rolled_out(
        flag(Targeting(enabled=True, default=Serve(variant="on", percentage=99)))
    )
    assert not fully_rolled_out(
        flag(Targeting(enabled=True, killed=True, default=Serve(variant="on")))
    )
    assert not fully_rolled_out(
        flag(Targeting(enabled=True, exclude_tenants=(NORD,), default=Serve(variant="on")))
    )
    other_rule = Rule(name="x", serve=Serve(variant="off"), tenants=(NORD,))
    assert not fully_rolled_out(
        flag(Targeting(enabled=True, rules=(other_rule,), default=Serve(variant="on")))
    )
    same_rule = Rule(name="x", serve=Serve(variant="on"), tenants=(NORD,))
    assert fully_rolled_out(
        flag(Targeting(enabled=True, rules=(same_rule,), default=Serve(variant="on")))
    )
    assert not fully_rolled_out(flag(Targeting(enabled=True, default=Serve(variant="off"))))


def test_the_gate_fails_only_when_the_policy_says_fail() -> None:
    stale = stale_flags([record("old", age=timedelta(days=90))], policy=default_policy(), now=NOW)
    assert not stale_gate_fails(stale, policy=default_policy())
    assert stale_gate_fails(stale, policy=policy(stale_gate=StaleFlagGate.FAIL))
    assert not stale_gate_fails([], policy=policy(stale_gate=StaleFlagGate.FAIL))
