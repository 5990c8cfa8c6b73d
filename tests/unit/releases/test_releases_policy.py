"""The release targets in the policy: precise errors for every mistake, nothing by default."""

from __future__ import annotations

import time
from fractions import Fraction

import pytest

from leitstand.errors import ValidationError
from leitstand.policy.loader import load_policy_text
from leitstand.policy.model import default_policy
from leitstand.policy.releases import KubernetesStart, quantity_value


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


KUBERNETES_TARGET = """
deployment:
  releases:
    enterprise-api:
      start:
        kind: kubernetes
        image: registry.example/{{service}}
        output_dir: k8s
{start}
      environments:
        production:
          router: {{kind: kubernetes, service: enterprise-api, output_dir: k8s}}
          instances: {{blue: {{port: 8081}}, green: {{port: 8082}}}}
"""
START = "deployment.releases.enterprise-api.start"


def test_a_kubernetes_start_defaults_to_limits_a_non_root_user_and_a_read_only_root() -> None:
    policy = load_policy_text(KUBERNETES_TARGET.format(start=""))
    start = policy.deployment.releases["enterprise-api"].start
    assert isinstance(start, KubernetesStart)
    assert (start.resources.requests.cpu, start.resources.requests.memory) == ("100m", "256Mi")
    assert (start.resources.limits.cpu, start.resources.limits.memory) == ("1", "512Mi")
    assert start.run_as_user == 10001
    assert start.read_only_root_filesystem is True
    assert start.writable_paths == ["/tmp"]
    # A partial override keeps the other defaults; YAML numbers are quantities too.
    custom = (
        load_policy_text(KUBERNETES_TARGET.format(start="        resources: {limits: {cpu: 2}}"))
        .deployment.releases["enterprise-api"]
        .start
    )
    assert isinstance(custom, KubernetesStart)
    assert (custom.resources.limits.cpu, custom.resources.limits.memory) == ("2", "512Mi")


def test_mistakes_in_kubernetes_resources_user_and_paths_name_their_field() -> None:
    start = """\
        resources:
          requests: {cpu: 1500m, memory: 256m}
          limits: {cpu: 1, memory: lots}
        run_as_user: 0
        writable_paths: [tmp, /var/../etc, /tmp, /tmp]
"""
    messages = dict(m.split(": ", 1) for m in _messages(KUBERNETES_TARGET.format(start=start)))
    assert messages[f"{START}.resources.requests.memory"] == (
        "bytes, e.g. 256Mi or 1Gi; 'm' means thousandths of a byte (got '256m')"
    )
    assert messages[f"{START}.resources.limits.memory"].startswith(
        "a Kubernetes quantity such as 250m, 1, 0.5 (CPU) or 256Mi, 1Gi (memory) (got 'lots')"
    )
    assert messages[f"{START}.run_as_user"] == "a user id from 1 to 2147483647; 0 is root (got 0)"
    assert messages[f"{START}.writable_paths.0"].startswith("an absolute, normalised directory")
    assert "(got '/var/../etc')" in messages[f"{START}.writable_paths.1"]
    # Limits below requests are reported once the quantities themselves are fine.
    below = "        resources: {requests: {cpu: 1500m}, limits: {cpu: 1, memory: 128Mi}}"
    messages = dict(m.split(": ", 1) for m in _messages(KUBERNETES_TARGET.format(start=below)))
    assert messages[f"{START}.resources.limits.cpu"] == "at least requests.cpu (1500m) (got 1)"
    assert messages[f"{START}.resources.limits.memory"] == (
        "at least requests.memory (256Mi) (got 128Mi)"
    )
    twice = "        writable_paths: [/tmp, /tmp]"
    assert _messages(KUBERNETES_TARGET.format(start=twice)) == [
        f"{START}.writable_paths: each entry only once (got '/tmp' twice)"
    ]


def test_kubernetes_quantities_are_compared_by_value() -> None:
    assert quantity_value("100m") == Fraction(1, 10)
    assert quantity_value("0.5") == quantity_value("500m")
    assert quantity_value("1Gi") == 1024 * quantity_value("1Mi") == 2**30
    assert quantity_value("1G") == quantity_value("1e9") == 10**9
    assert quantity_value("1E") == 10**18
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        quantity_value("1.5 Gi")


def test_a_huge_exponent_is_refused_quickly_naming_its_field() -> None:
    start = "        resources: {limits: {cpu: 1e999999999}}"
    started = time.monotonic()
    messages = dict(m.split(": ", 1) for m in _messages(KUBERNETES_TARGET.format(start=start)))
    assert time.monotonic() - started < 5
    assert messages[f"{START}.resources.limits.cpu"].startswith("a Kubernetes quantity such as")
    assert "1e999999999" in messages[f"{START}.resources.limits.cpu"]
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        quantity_value("1e100")
    assert quantity_value("1e99") == 10**99


def test_a_writable_path_starting_with_two_slashes_is_refused() -> None:
    start = "        writable_paths: [//tmp]"
    messages = dict(m.split(": ", 1) for m in _messages(KUBERNETES_TARGET.format(start=start)))
    assert messages[f"{START}.writable_paths.0"].startswith("an absolute, normalised directory")
    assert "(got '//tmp')" in messages[f"{START}.writable_paths.0"]
