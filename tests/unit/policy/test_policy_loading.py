"""Loading: defaults merged with the user's file, and where the file is found."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from leitstand.policy import Policy, default_policy, find_policy_file, load_policy
from leitstand.policy.loader import ENV_VAR, load_policy_text, merge_overrides


def test_no_file_means_exactly_the_defaults() -> None:
    assert load_policy(None) == default_policy() == Policy()


def test_a_single_threshold_override_keeps_every_other_default() -> None:
    policy = load_policy_text("monitoring: {metrics: {cpu: {critical: 95}}}\n")
    cpu = policy.monitoring.metrics["cpu"]
    defaults = default_policy()
    assert cpu.critical == 95
    assert cpu == defaults.monitoring.metrics["cpu"].model_copy(update={"critical": 95})
    assert policy.monitoring.metrics["memory"] == defaults.monitoring.metrics["memory"]
    assert policy.services == defaults.services


def test_mappings_merge_but_lists_replace() -> None:
    merged = merge_overrides({"a": {"x": 1, "y": [1, 2]}, "b": 2}, {"a": {"y": [3]}, "c": {"z": 1}})
    assert merged == {"a": {"x": 1, "y": [3]}, "b": 2, "c": {"z": 1}}


def test_merging_never_changes_its_inputs() -> None:
    base = {"a": {"x": 1}}
    override = {"a": {"y": 2}}
    merge_overrides(base, override)
    assert base == {"a": {"x": 1}}
    assert override == {"a": {"y": 2}}


def test_lists_such_as_canary_steps_replace_the_default_list() -> None:
    policy = load_policy_text("deployment: {canary: {steps: [10, 100]}}\n")
    assert policy.deployment.canary.steps == [10, 100]


def test_a_new_metric_can_be_added_with_all_its_fields() -> None:
    policy = load_policy_text(
        """
monitoring:
  metrics:
    login_latency:
      name: {de: Login-Latenz, en: Login latency}
      category: application
      direction: above
      unit: ms
      warning: 300
      critical: 1000
      interval: 30s
"""
    )
    assert len(policy.monitoring.metrics) == 18
    assert policy.monitoring.metrics["login_latency"].interval == timedelta(seconds=30)


def test_user_tenants_replace_the_example_tenants() -> None:
    policy = load_policy_text("tenants:\n  acme:\n    name: Acme Makler AG\n")
    assert list(policy.tenants) == ["acme"]
    assert policy.tenants["acme"].name == "Acme Makler AG"
    assert policy.tenants["acme"].example is False


def test_a_listed_example_tenant_still_merges_with_its_defaults() -> None:
    policy = load_policy_text("tenants:\n  example-makler-nord:\n    critical: false\n")
    assert list(policy.tenants) == ["example-makler-nord"]
    assert policy.tenants["example-makler-nord"].name == "Beispiel Makler Nord GmbH"


def test_a_plain_string_is_used_for_both_languages() -> None:
    policy = load_policy_text("monitoring: {metrics: {cpu: {name: Prozessor}}}\n")
    name = policy.monitoring.metrics["cpu"].name
    assert (name.de, name.en) == ("Prozessor", "Prozessor")


def test_one_language_of_a_text_can_be_overridden_alone() -> None:
    policy = load_policy_text("monitoring: {metrics: {disk: {name: {en: Disk usage}}}}\n")
    name = policy.monitoring.metrics["disk"].name
    assert (name.de, name.en) == ("Disk", "Disk usage")


def test_null_sets_an_optional_value() -> None:
    policy = load_policy_text("evidence: {checkpoint_copy_dir: /srv/witness}\n")
    assert policy.evidence.checkpoint_copy_dir == "/srv/witness"
    policy = load_policy_text("services: {batch-processing: {name_en: null}}\n")
    assert policy.services["batch-processing"].name_en is None


def test_policy_file_comes_from_the_environment_variable_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "leitstand.yaml").write_text("", encoding="utf-8")
    monkeypatch.setenv(ENV_VAR, "/etc/leitstand/policy.yaml")
    assert find_policy_file(tmp_path) == Path("/etc/leitstand/policy.yaml")
    monkeypatch.setenv(ENV_VAR, "conf/policy.yaml")
    assert find_policy_file(tmp_path) == tmp_path / "conf/policy.yaml"


def test_policy_file_is_leitstand_yaml_in_the_directory_when_present(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert find_policy_file(tmp_path) is None
    (tmp_path / "leitstand.yaml").write_text("", encoding="utf-8")
    assert find_policy_file(tmp_path) == tmp_path / "leitstand.yaml"


def test_default_policy_is_a_fresh_object_each_time() -> None:
    first, second = default_policy(), default_policy()
    assert first == second
    assert first.services is not second.services


def test_policy_models_are_frozen() -> None:
    policy = default_policy()
    with pytest.raises(ValueError, match="frozen"):
        policy.services["enterprise-api"].rto = timedelta(hours=1)  # type: ignore[misc]
