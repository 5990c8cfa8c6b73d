"""The release targets in the policy: precise errors for every mistake, nothing by default."""

from __future__ import annotations

import pytest

from leitstand.errors import ValidationError
from leitstand.policy.loader import load_policy_text
from leitstand.policy.model import default_policy


def _messages(text: str) -> list[str]:
    with pytest.raises(ValidationError) as err:
        load_policy_text(text)
    return [f"{i.path}: {i.message}" for i in err.value.issues]


def test_the_seed_configures_no_release_target_but_keeps_its_windows() -> None:
    deployment = default_policy().deployment
    assert deployment.releases == {}
    assert deployment.blue_green.max_rollback_time.total_seconds() == 60
    assert deployment.canary.steps == [5, 25, 50, 100]
    assert deployment.canary.analysis_window.total_seconds() == 900


def test_mistakes_in_a_release_target_name_their_field() -> None:
    messages = _messages(
        """
deployment:
  releases:
    enterprise-api:
      start: {command: [app, --port, "{port}", --v, "{versoin}"]}
      health: {path: health, passes: 0}
      environments:
        staging:
          router: {kind: haproxy, socket: /run/haproxy.sock, backend: be}
          instances: {blue: {port: 8081}, green: {port: 8081}}
        production:
          router: {kind: traefik}
          instances: {blue: {port: 8081}}
"""
    )
    joined = "\n".join(messages)
    assert "start.command.4: placeholders from {env}, {host}, {port}" in joined
    assert "(got {versoin}" in joined
    assert "health.path: an HTTP path starting with '/'" in joined
    assert "health.passes" in joined
    assert "environments.staging.instances: two different host:port addresses" in joined
    assert "environments.production.router" in joined


def test_a_release_target_must_name_a_known_service_environment_and_metric() -> None:
    messages = _messages(
        """
deployment:
  releases:
    billing:
      start: {command: [app]}
      analysis: {error_rate_metric: cpu_load}
      environments:
        qa:
          router: {kind: nginx, config: /etc/nginx/nginx.conf, upstream_file: u.conf, upstream: b}
          instances: {blue: {port: 1}, green: {port: 2}}
"""
    )
    assert any(m.startswith("deployment.releases.billing: one of the services") for m in messages)
    assert any("environments.qa: one of the environments" in m for m in messages)
    assert any("analysis.error_rate_metric: a threshold metric" in m for m in messages)


def test_tests_shorten_the_windows_through_the_policy() -> None:
    policy = load_policy_text(
        "deployment:\n  canary: {analysis_window: 3s}\n  blue_green: {rollback_window: 2s}\n"
    )
    assert policy.deployment.canary.analysis_window.total_seconds() == 3
    assert policy.deployment.blue_green.rollback_window.total_seconds() == 2
