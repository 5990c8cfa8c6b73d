"""The flag settings added to the policy: defaults and precise errors."""

from __future__ import annotations

import pytest

from leitstand.errors import ValidationError
from leitstand.policy import default_policy, load_policy_text
from leitstand.policy.base import Role
from leitstand.policy.delivery import StaleFlagGate


def test_flag_policy_defaults() -> None:
    flags = default_policy().deployment.feature_flags
    assert flags.editors == [Role.DEVOPS, Role.DEVELOPER]
    assert flags.production_editors == [Role.DEVOPS, Role.ONCALL]
    assert flags.stale_gate is StaleFlagGate.WARN
    assert flags.full_rollout_grace is None
    assert ".git" in flags.references.exclude and flags.references.quoted_keys


def test_flag_policy_overrides_and_errors() -> None:
    policy = load_policy_text(
        "deployment:\n  feature_flags:\n    stale_gate: fail\n    full_rollout_grace: 14d\n"
    )
    assert policy.deployment.feature_flags.stale_gate is StaleFlagGate.FAIL
    with pytest.raises(ValidationError, match=r"deployment\.feature_flags\.stale_gate"):
        load_policy_text("deployment:\n  feature_flags:\n    stale_gate: block\n")
    with pytest.raises(ValidationError, match="full_rollout_grace: a duration longer than 0s"):
        load_policy_text("deployment:\n  feature_flags:\n    full_rollout_grace: 0s\n")
    with pytest.raises(ValidationError, match=r"named group \(\?P<key>"):
        load_policy_text(
            "deployment:\n  feature_flags:\n    references:\n      patterns: ['flag\\(']\n"
        )
