"""A reloaded policy reaches every service of a running process (apply_policy)."""

from __future__ import annotations

from datetime import timedelta

from leitstand.bootstrap import Container
from leitstand.policy.model import Policy
from leitstand.policy.monitoring import AlertingPolicy
from leitstand.policy_reload import apply_policy


def test_every_service_reads_the_new_policy_and_its_sections(container: Container) -> None:
    old = container.policy
    data = old.alerting.model_dump(mode="json")
    data["ack_timeout"] = "5m"
    new = Policy(alerting=AlertingPolicy.model_validate(data))
    assert apply_policy(container, new) > 5
    assert container.policy is new
    assert container.alerting.policy is new
    assert container.alerting.escalator.policy is new
    assert container.incidents.policy is new
    assert container.alerting.chain("critical")[0].escalate_after_s == 300
    assert container.policy.alerting.ack_timeout == timedelta(minutes=5)
    # Nothing still holds the old policy or one of its sections.
    sections = {id(old)} | {id(getattr(old, name)) for name in type(old).model_fields}
    stack = [container.alerting, container.incidents, container.scheduler, container.auth]
    seen: set[int] = set()
    while stack:
        obj = stack.pop()
        if id(obj) in seen or not hasattr(obj, "__dict__"):
            continue
        seen.add(id(obj))
        for value in vars(obj).values():
            assert id(value) not in sections
            if type(value).__module__.startswith("leitstand.") and len(seen) < 200:
                stack.append(value)
