"""A reloaded policy reaches every wired service and what the container answers by type."""

from __future__ import annotations

from leitstand.bootstrap import Container
from leitstand.policy.model import Policy
from leitstand.policy_reload import apply_policy


def test_every_wired_service_and_get_policy_answer_the_new_policy(
    sqlite_container: Container,
) -> None:
    old = sqlite_container.policy
    new = Policy()
    holders = [s for s in sqlite_container.services if getattr(s, "policy", None) is old]
    assert len(holders) >= 8
    assert apply_policy(sqlite_container, new) > len(holders)
    assert all(s.policy is new for s in holders)  # type: ignore[attr-defined]
    assert sqlite_container.get(Policy) is new
