"""The flag service on both store backends: changes, evidence, policy rules, lifecycle."""

from __future__ import annotations

from datetime import timedelta

import pytest

from leitstand.auth.model import Actor
from leitstand.bootstrap import Container
from leitstand.errors import ConflictError, ForbiddenError, NotFoundError, ValidationError
from leitstand.flags.evaluation import ErrorCode, Reason
from leitstand.flags.lifecycle import StaleReason
from leitstand.flags.model import Rule, Serve, Targeting, ValueType
from leitstand.ledger.service import EntryQuery
from leitstand.testing import ManualClock

from .helpers import NORD, SUED, WEST

LOCAL = Actor(name="local:test", role="local")
DEV = Actor(name="dora", role="developer")
ONCALL = Actor(name="otto", role="oncall")


def entries(container: Container, key: str) -> list[tuple[str, str | None]]:
    with container.db.reader() as session:
        found = container.ledger.entries(
            session, EntryQuery(subject=f"flag:{key}", limit=None, newest_first=False)
        )
    return [(e.action, e.tenant) for e in found]


def value(container: Container, key: str, tenant: str, env: str = "production") -> object:
    _served, [(_k, result)] = container.flags.evaluate(
        environment=env, context={"tenantId": tenant, "targetingKey": "u1"}, flags=[(key, None)]
    )
    return result.value


def test_a_new_flag_is_off_everywhere_and_its_creation_is_evidence(container: Container) -> None:
    flag = container.flags.create(key="new-billing", kind="release", actor=LOCAL, owner="anna")
    assert flag.version == 1
    assert set(flag.environments) == {"development", "staging", "production"}
    assert value(container, "new-billing", NORD) is False
    [(action, tenant)] = entries(container, "new-billing")
    assert (action, tenant) == ("flag.created", None)
    with pytest.raises(ConflictError, match="already exists"):
        container.flags.create(key="new-billing", kind="release", actor=LOCAL)


def test_switching_on_for_two_tenants_records_one_entry_per_affected_tenant(
    container: Container,
) -> None:
    container.flags.create(key="new-billing", kind="release", actor=LOCAL)
    flag = container.flags.set_tenants(
        "new-billing", "production", add=[NORD, SUED], actor=LOCAL, reason="pilot"
    )
    assert flag.version == 2 and flag.targeting("production").enabled
    assert [value(container, "new-billing", t) for t in (NORD, SUED, WEST)] == [True, True, False]
    assert entries(container, "new-billing")[1:] == [
        ("flag.tenants_changed", NORD),
        ("flag.tenants_changed", SUED),
    ]
    with container.db.reader() as session:
        [entry] = container.ledger.entries(session, EntryQuery(tenant=NORD, action="flag.*"))
    payload = entry.payload
    assert payload["tenants"] == [NORD, SUED]
    assert payload["scope"] == "tenants"
    assert payload["reason"] == "pilot"
    assert payload["production"] is True
    change = payload["changes"]["production"]
    assert change["before"]["enabled"] is False
    assert change["after"]["rules"][0]["tenants"] == [NORD, SUED]


def test_a_kill_switch_affects_every_tenant_in_one_entry(container: Container) -> None:
    container.flags.create(key="new-billing", kind="release", actor=LOCAL)
    container.flags.rollout("new-billing", "production", percentage=100, actor=LOCAL, reason="go")
    container.flags.kill("new-billing", "production", killed=True, actor=ONCALL, reason="SEV-1")
    actions = entries(container, "new-billing")
    assert actions[-1] == ("flag.killed", None)
    with container.db.reader() as session:
        [entry] = container.ledger.entries(session, EntryQuery(action="flag.killed"))
    assert entry.payload["scope"] == "all_tenants"
    assert entry.actor == "otto" and entry.role == "oncall"
    assert value(container, "new-billing", NORD) is False


def test_production_changes_need_a_reason_and_leave_nothing_behind_without(
    container: Container,
) -> None:
    container.flags.create(key="new-billing", kind="release", actor=LOCAL)
    with pytest.raises(ValidationError, match="reason: a reason is required"):
        container.flags.toggle("new-billing", "production", enabled=True, actor=LOCAL, reason=" ")
    assert container.flags.get("new-billing").version == 1
    assert len(entries(container, "new-billing")) == 1
    # Outside production no reason is needed.
    container.flags.toggle("new-billing", "staging", enabled=True, actor=LOCAL)


def test_roles_follow_the_policys_editors(container: Container) -> None:
    container.flags.create(key="new-billing", kind="release", actor=DEV)
    container.flags.toggle("new-billing", "staging", enabled=True, actor=DEV)
    with pytest.raises(ForbiddenError, match="production_editors: devops, oncall"):
        container.flags.toggle("new-billing", "production", enabled=True, actor=DEV, reason="x")
    container.flags.kill("new-billing", "production", killed=True, actor=ONCALL, reason="x")
    with pytest.raises(ForbiddenError, match="editors: devops, developer"):
        container.flags.toggle("new-billing", "staging", enabled=False, actor=ONCALL)
    with pytest.raises(ForbiddenError):
        container.flags.create(key="x", kind="release", actor=Actor("a", "auditor"))
    assert container.flags.may_change(ONCALL, "production")
    assert not container.flags.may_change(DEV, "production")


def test_unknown_tenants_environments_and_types_are_refused(container: Container) -> None:
    with pytest.raises(ValidationError, match="type: one of release, experiment"):
        container.flags.create(key="x", kind="sunset", actor=LOCAL)
    container.flags.create(key="x", kind="release", actor=LOCAL)
    with pytest.raises(ValidationError, match="unknown tenant 'acme'"):
        container.flags.set_tenants("x", "staging", add=["acme"], actor=LOCAL)
    with pytest.raises(ValidationError, match="environment: one of development, staging"):
        container.flags.toggle("x", "prod", enabled=True, actor=LOCAL)
    with pytest.raises(NotFoundError):
        container.flags.toggle("nope", "staging", enabled=True, actor=LOCAL)


def test_a_change_without_effect_is_neither_a_version_nor_evidence(container: Container) -> None:
    container.flags.create(key="x", kind="release", actor=LOCAL)
    container.flags.toggle("x", "staging", enabled=True, actor=LOCAL)
    again = container.flags.toggle("x", "staging", enabled=True, actor=LOCAL)
    assert again.version == 2
    assert len(entries(container, "x")) == 2


def test_a_stale_version_is_a_conflict(container: Container) -> None:
    container.flags.create(key="x", kind="release", actor=LOCAL)
    container.flags.toggle("x", "staging", enabled=True, actor=LOCAL)
    with pytest.raises(ConflictError, match="version is 2, expected 1"):
        container.flags.set_targeting("x", "staging", Targeting(), actor=LOCAL, expected_version=1)


def test_archived_flags_evaluate_to_the_default_and_cannot_change(container: Container) -> None:
    container.flags.create(key="x", kind="release", actor=LOCAL)
    container.flags.archive("x", actor=LOCAL)
    _served, [(_k, result)] = container.flags.evaluate(
        environment="staging", context={"tenantId": NORD}, flags=[("x", None)]
    )
    assert result.error_code is ErrorCode.FLAG_NOT_FOUND
    with pytest.raises(ConflictError, match="archived"):
        container.flags.toggle("x", "staging", enabled=True, actor=LOCAL)
    container.flags.restore("x", actor=LOCAL)
    assert [a for a, _ in entries(container, "x")] == [
        "flag.created",
        "flag.archived",
        "flag.restored",
    ]


def test_multi_variant_flags_with_rules_round_trip_through_the_store(container: Container) -> None:
    targeting = Targeting(
        enabled=True,
        rules=(Rule(name="pilot", serve=Serve(split=(("a", 1), ("b", 3))), tenants=(NORD,)),),
        default=Serve(variant="a", percentage=12.5, stickiness="contractId"),
    )
    container.flags.create(
        key="layout",
        kind="experiment",
        actor=LOCAL,
        value_type=ValueType.STRING,
        variants={"a": "list", "b": "grid", "off": "classic"},
        off_variant="off",
        environments={"staging": targeting},
    )
    assert container.flags.get("layout").targeting("staging") == targeting


def test_snapshots_change_etag_only_when_flags_change(container: Container) -> None:
    container.flags.create(key="x", kind="release", actor=LOCAL)
    first = container.flags.snapshot("production")
    assert container.flags.snapshot("production") is first
    container.flags.toggle("x", "staging", enabled=True, actor=LOCAL)
    second = container.flags.snapshot("production")
    assert second.revision > first.revision
    # Staging changed, production did not: same content, same ETag.
    assert second.etag == first.etag
    container.flags.toggle("x", "production", enabled=True, actor=LOCAL, reason="go")
    assert container.flags.snapshot("production").etag != first.etag


def test_stale_flags_come_from_the_store_with_the_full_rollout_start(
    container: Container, clock: ManualClock
) -> None:
    container.flags.create(key="done", kind="release", actor=LOCAL)
    container.flags.create(key="partial", kind="release", actor=LOCAL)
    clock.advance(timedelta(days=5))
    container.flags.rollout("done", "production", percentage=100, actor=LOCAL, reason="ga")
    container.flags.rollout("partial", "production", percentage=50, actor=LOCAL, reason="half")
    assert container.flags.get("done").full_rollout_since["production"] == clock.now()
    assert container.flags.get("partial").full_rollout_since["production"] is None
    clock.advance(timedelta(days=41))
    stale = container.flags.stale()
    assert [(s.key, s.reason) for s in stale] == [
        ("done", StaleReason.FULLY_ROLLED_OUT),
        ("partial", StaleReason.PAST_LIFETIME),
    ]
    assert not container.flags.stale_gate_fails(stale)
    evaluated = container.flags.evaluate(
        environment="production", context={"tenantId": NORD, "targetingKey": "u"}
    )[1]
    assert [k for k, _ in evaluated] == ["done", "partial"]
    assert evaluated[0][1].reason is Reason.STATIC


def test_without_per_tenant_activation_tenant_rules_are_refused(container: Container) -> None:
    ff = container.policy.deployment.feature_flags.model_copy(
        update={"per_tenant_activation": False}
    )
    deployment = container.policy.deployment.model_copy(update={"feature_flags": ff})
    container.flags.rules.policy = container.policy.model_copy(update={"deployment": deployment})
    container.flags.create(key="x", kind="release", actor=LOCAL)
    with pytest.raises(ValidationError, match="per_tenant_activation is false"):
        container.flags.set_tenants("x", "staging", add=[NORD], actor=LOCAL)
    container.flags.rollout("x", "staging", percentage=20, actor=LOCAL)
