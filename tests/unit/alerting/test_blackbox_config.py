"""Probe targets from the policy, blackbox.yml, the /probe scrape jobs and the uptime rule."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from leitstand.alerting.catalogue import CATALOGUE
from leitstand.alerting.engine_config import (
    PROBE_JOBS,
    Endpoints,
    blackbox_config,
    policy_probe_targets,
    prometheus_config,
)
from leitstand.alerting.engines import CheckFailed, find_engines
from leitstand.alerting.render import build_files, render
from leitstand.errors import LeitstandError
from leitstand.policy.loader import load_policy_text
from leitstand.policy.model import Policy, default_policy
from leitstand.policy.monitoring import ProbeModule

ENDPOINTS = Endpoints(
    leitstand_url="http://127.0.0.1:8080",
    credentials_file="/etc/leitstand/am.token",
    blackbox="127.0.0.1:9115",
)
needs_engines = pytest.mark.skipif(
    shutil.which("promtool") is None or shutil.which("prometheus-blackbox-exporter") is None,
    reason="needs promtool and prometheus-blackbox-exporter",
)

RELEASES = """
deployment:
  releases:
    enterprise-api:
      start: {command: [run, "{port}"]}
      health: {path: /healthz}
      environments:
        production:
          router: {kind: haproxy, socket: /run/haproxy.sock, backend: api}
          instances:
            blue: {port: 8081}
            green: {host: "::1", port: 8082}
"""


def _policy(text: str) -> Policy:
    return load_policy_text(text)


def _jobs(policy: Policy, endpoints: Endpoints = ENDPOINTS) -> dict[str, dict[str, Any]]:
    scrape = prometheus_config(policy, endpoints)["scrape_configs"]
    return {job["job_name"]: job for job in scrape if job["job_name"].startswith("blackbox-")}


def test_targets_are_derived_from_every_released_slot() -> None:
    targets = policy_probe_targets(_policy(RELEASES))
    slots = {"blue": "127.0.0.1:8081", "green": "[::1]:8082"}
    labels = {"service": "enterprise-api", "env": "production"}
    assert [(t.module, t.target, t.series_labels()) for t in targets] == [
        probe
        for slot, address in slots.items()
        for probe in (
            (ProbeModule.HTTP, f"http://{address}/healthz", {**labels, "slot": slot}),
            (ProbeModule.TCP, address, {**labels, "slot": slot}),
        )
    ]
    assert policy_probe_targets(default_policy()) == []  # no releases: nothing to probe


def test_a_policy_list_replaces_the_derived_targets() -> None:
    own = (
        RELEASES
        + """
monitoring:
  probes:
    targets:
      - {module: http, target: "https://portal.example.org/health", service: portal}
      - {module: tls, target: "mail.example.org:465", labels: {tenant: nord}}
"""
    )
    targets = policy_probe_targets(_policy(own))
    assert [(t.module, t.target, t.series_labels()) for t in targets] == [
        (ProbeModule.HTTP, "https://portal.example.org/health", {"service": "portal"}),
        (
            ProbeModule.TLS,
            "mail.example.org:465",
            {"service": "mail.example.org:465", "tenant": "nord"},
        ),
    ]
    none = RELEASES + "monitoring:\n  probes:\n    targets: []\n"
    assert policy_probe_targets(_policy(none)) == []
    assert "blackbox-http" not in _jobs(_policy(none))


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ({"module": "http", "target": "portal.example.org:443"}, "an http:// or https:// URL"),
        ({"module": "tcp", "target": "http://portal.example.org/"}, "host:port"),
        ({"module": "tls", "target": "a:1", "labels": {"instance": "x"}}, "other than 'instance'"),
        ({"module": "tcp", "target": "a:1", "labels": {"bad-name": "x"}}, "Prometheus label"),
    ],
)
def test_a_target_that_does_not_fit_its_module_is_refused(
    target: dict[str, Any], message: str
) -> None:
    text = yaml.safe_dump({"monitoring": {"probes": {"targets": [target]}}})
    with pytest.raises(LeitstandError, match=message):
        _policy(text)


def test_each_module_is_one_probe_job_with_the_target_as_instance() -> None:
    jobs = _jobs(_policy(RELEASES))
    assert sorted(jobs) == ["blackbox-http", "blackbox-tcp"]
    http = jobs["blackbox-http"]
    assert (http["metrics_path"], http["params"]) == ("/probe", {"module": ["http_2xx"]})
    assert http["static_configs"][0] == {
        "targets": ["http://127.0.0.1:8081/healthz"],
        "labels": {"service": "enterprise-api", "env": "production", "slot": "blue"},
    }
    relabel = {r["target_label"]: r for r in http["relabel_configs"]}
    assert relabel["__param_target"]["source_labels"] == ["__address__"]
    assert relabel["instance"]["replacement"] == "$1"
    assert relabel["__address__"]["replacement"] == "127.0.0.1:9115"
    # host:port probes never share `instance` with the scrape of the same address.
    tcp = {r["target_label"]: r for r in jobs["blackbox-tcp"]["relabel_configs"]}
    assert tcp["instance"]["replacement"] == "tcp://$1"
    assert set(PROBE_JOBS.values()) == {"blackbox-http", "blackbox-tcp", "blackbox-tls"}
    no_exporter = Endpoints(
        leitstand_url="http://127.0.0.1:8080", credentials_file="/x", blackbox=None
    )
    assert _jobs(_policy(RELEASES), no_exporter) == {}


def test_the_probe_metrics_read_the_series_of_the_probe_jobs() -> None:
    latency = CATALOGUE["network_latency"].expr("1m")
    assert 'probe_duration_seconds{job="blackbox-tcp"}' in latency
    assert 'probe_success{job="blackbox-tcp"} == 1' in latency  # failures are uptime's
    certificate = CATALOGUE["certificate_expiry"].expr("1m")
    assert 'probe_ssl_earliest_cert_expiry{job=~"blackbox-.+"}' in certificate
    for spec in (CATALOGUE["network_latency"], CATALOGUE["certificate_expiry"]):
        for series, _values in spec.series(10, "x", 60, 2):
            assert 'job="blackbox-' in series
            assert series.split("{")[0] in spec.expr("1m")


def test_blackbox_yml_has_one_module_per_probe_and_the_policy_ca() -> None:
    text = RELEASES + "monitoring:\n  probes: {timeout: 3s, ca_file: /etc/ssl/own-ca.pem}\n"
    modules = blackbox_config(_policy(text))["modules"]
    assert {k: (m["prober"], m["timeout"]) for k, m in modules.items()} == {
        "http_2xx": ("http", "3s"),
        "tcp_connect": ("tcp", "3s"),
        "tls_connect": ("tcp", "3s"),
    }
    assert modules["tls_connect"]["tcp"]["tls"] is True
    assert modules["http_2xx"]["http"]["tls_config"] == {"ca_file": "/etc/ssl/own-ca.pem"}
    assert modules["tls_connect"]["tcp"]["tls_config"] == {"ca_file": "/etc/ssl/own-ca.pem"}


def test_the_uptime_rule_is_written_only_when_something_is_probed_over_http() -> None:
    assert "prometheus/rules/uptime.rules.yml" not in build_files(default_policy(), ENDPOINTS)
    files = build_files(_policy(RELEASES), ENDPOINTS)
    [group] = yaml.safe_load(files["prometheus/rules/uptime.rules.yml"])["groups"]
    record, alert = group["rules"]
    # Up when any slot answers: the idle slot of a blue-green pair may be stopped.
    assert record["expr"] == 'max by (service, env, tenant) (probe_success{job="blackbox-http"})'
    assert (alert["alert"], alert["expr"], alert["for"]) == (
        "ServiceDown",
        "leitstand:uptime:up == 0",
        "1m",
    )
    assert alert["labels"]["severity"] == "critical"


@needs_engines
def test_render_checks_blackbox_yml_with_the_exporter_and_tests_the_uptime_rule(
    tmp_path: Path,
) -> None:
    text = RELEASES + "monitoring:\n  probes: {uptime_pending: 30s}\n"
    report = render(
        _policy(text), out=tmp_path / "out", endpoints=ENDPOINTS, engines=find_engines()
    )
    assert "blackbox/blackbox.yml" in report.files
    assert "blackbox_exporter --config.check: blackbox.yml" in report.checks
    assert "prometheus/tests/uptime.test.yml" in report.files  # promtool ran it
    written = yaml.safe_load((tmp_path / "out/blackbox/blackbox.yml").read_text())
    assert written == blackbox_config(_policy(text))


@needs_engines
def test_the_exporter_refuses_a_broken_blackbox_yml(tmp_path: Path) -> None:
    (tmp_path / "blackbox.yml").write_text("modules:\n  http_2xx:\n    timeout: soon\n")
    with pytest.raises(CheckFailed, match=r"blackbox_exporter --config\.check") as caught:
        find_engines().check_blackbox("blackbox.yml", tmp_path)
    assert "soon" in caught.value.message  # the exporter's own words


@needs_engines
def test_a_wrong_uptime_test_fails_in_promtool(tmp_path: Path) -> None:
    files = build_files(_policy(RELEASES), ENDPOINTS)
    for rel in ("prometheus/rules/uptime.rules.yml", "prometheus/tests/uptime.test.yml"):
        text = files[rel]
        if rel.endswith("rules.yml"):
            text = text.replace("max by", "min by")  # down when any slot fails: wrong
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    with pytest.raises(CheckFailed, match="FAILED"):
        find_engines().test_rules(["prometheus/tests/uptime.test.yml"], tmp_path)
