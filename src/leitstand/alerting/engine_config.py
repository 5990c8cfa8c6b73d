"""Compile the Prometheus, Alertmanager and blackbox exporter configuration from the policy (pure).

Probes (``monitoring.probes``): the blackbox exporter gets one module per kind of probe
(``http_2xx``, ``tcp_connect``, ``tls_connect``); Prometheus scrapes its ``/probe`` endpoint in
one job per module (``blackbox-http``, ``blackbox-tcp``, ``blackbox-tls``), the target passed
as the ``target`` parameter and kept as the ``instance`` label (``tcp://`` or ``tls://`` before a
host:port). The uptime alert (``ServiceDown``)
fires when none of a service's HTTP targets answers for ``monitoring.probes.uptime_pending``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from leitstand.policy.model import Policy
from leitstand.policy.monitoring import ProbeModule, ProbeTarget, probe_targets

__all__ = [
    "PROBE_JOBS",
    "PROBE_MODULES",
    "Endpoints",
    "alertmanager_config",
    "blackbox_config",
    "policy_probe_targets",
    "prometheus_config",
    "uptime_rules",
]

#: The blackbox exporter's module and Prometheus's job for each kind of probe.
PROBE_MODULES = {
    ProbeModule.HTTP: "http_2xx",
    ProbeModule.TCP: "tcp_connect",
    ProbeModule.TLS: "tls_connect",
}
PROBE_JOBS = {module: f"blackbox-{module.value}" for module in ProbeModule}

#: Labels that identify "the same alert and target" for inhibition (missing on both = equal).
TARGET_LABELS = [
    "alertname",
    "service",
    "tenant",
    "instance",
    "mountpoint",
    "device",
    "client",
    "queue",
    "job_name",
    "db_client_connection_pool_name",
]


def _dur(value: timedelta) -> str:
    seconds = max(1, math.ceil(value.total_seconds()))
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where the engines and leitstand are reached (host:port, URLs)."""

    leitstand_url: str  # e.g. http://127.0.0.1:8080
    credentials_file: str  # the token Alertmanager presents, never inline
    alertmanager: str = "127.0.0.1:9093"
    node_exporter: str | None = "127.0.0.1:9100"
    prometheus_url: str = "http://127.0.0.1:9090"
    # file_sd glob of released instances (leitstand.releases.scrape); None: no such job.
    release_targets: str | None = None
    # host:port of the blackbox exporter; None: no probe jobs.
    blackbox: str | None = "127.0.0.1:9115"


def prometheus_config(policy: Policy, endpoints: Endpoints) -> dict[str, Any]:
    """prometheus.yml: intervals, rule files, Alertmanager and scrape targets."""
    monitoring = policy.monitoring
    leitstand = endpoints.leitstand_url.split("://", 1)[-1].rstrip("/")
    scrape: list[dict[str, Any]] = [
        {"job_name": "leitstand", "static_configs": [{"targets": [leitstand]}]},
    ]
    if endpoints.node_exporter:
        scrape.append(
            {"job_name": "node", "static_configs": [{"targets": [endpoints.node_exporter]}]}
        )
    for target_id, target in monitoring.targets.items():
        labels = {k: v for k, v in (("service", target.service), ("tenant", target.tenant)) if v}
        static: dict[str, Any] = {"targets": [target.address]}
        if labels:
            static["labels"] = labels
        scrape.append(
            {
                "job_name": target_id,
                "metrics_path": target.metrics_path,
                # The app's own service/tenant labels (leitstand.instrument) win over the target's.
                "honor_labels": True,
                "static_configs": [static],
            }
        )
    scrape += _probe_jobs(policy, endpoints)
    if endpoints.release_targets:
        # Both slots of every released service; the app's own labels win (leitstand.instrument).
        scrape.append(
            {
                "job_name": "leitstand-releases",
                "honor_labels": True,
                "file_sd_configs": [{"files": [endpoints.release_targets]}],
            }
        )
    return {
        "global": {
            "scrape_interval": _dur(monitoring.scrape_interval),
            "evaluation_interval": _dur(monitoring.evaluation_interval),
            "external_labels": {"leitstand": policy.evidence.origin},
        },
        "rule_files": ["rules/*.rules.yml"],
        "alerting": {
            "alertmanagers": [{"static_configs": [{"targets": [endpoints.alertmanager]}]}]
        },
        "scrape_configs": scrape,
    }


def alertmanager_config(policy: Policy, endpoints: Endpoints) -> dict[str, Any]:
    """alertmanager.yml: route by severity to leitstand's webhook, group, inhibit."""
    stack = policy.monitoring.stack
    url = endpoints.leitstand_url.rstrip("/") + "/api/v1/alerts/alertmanager"
    levels = sorted(policy.alerting.levels.items(), key=lambda kv: kv[1].level)

    def receiver(name: str) -> dict[str, Any]:
        return {
            "name": name,
            "webhook_configs": [
                {
                    "url": url,
                    "send_resolved": True,
                    "max_alerts": 500,
                    "http_config": {
                        # The token lives in a file (mode 0600); never inline in this config.
                        "authorization": {
                            "type": "Bearer",
                            "credentials_file": endpoints.credentials_file,
                        }
                    },
                }
            ],
        }

    routes = [
        {"matchers": [f'severity="{key}"'], "receiver": f"leitstand-{key}"} for key, _ in levels
    ]
    inhibit = [
        {
            "source_matchers": [f'severity="{higher}"'],
            "target_matchers": [f'severity="{lower}"'],
            "equal": TARGET_LABELS,
        }
        for i, (lower, _) in enumerate(levels)
        for higher, _ in levels[i + 1 :]
    ]
    return {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "receiver": "leitstand",
            "group_by": list(stack.group_by),
            "group_wait": _dur(stack.group_wait),
            # The seed's deduplication window: an unchanged group is not re-sent sooner.
            "group_interval": _dur(policy.alerting.dedup_window),
            "repeat_interval": _dur(stack.repeat_interval),
            "routes": routes,
        },
        "receivers": [receiver("leitstand"), *(receiver(f"leitstand-{k}") for k, _ in levels)],
        "inhibit_rules": inhibit,
    }


# -- probes (blackbox exporter) ----------------------------------------------------------------


def policy_probe_targets(policy: Policy) -> list[ProbeTarget]:
    """The policy's probe targets: its own list, else every released service's slots."""
    return probe_targets(policy.monitoring.probes, policy.deployment.releases)


def blackbox_config(policy: Policy) -> dict[str, Any]:
    """blackbox.yml: one module per kind of probe; an extra CA from the policy for TLS."""
    probes = policy.monitoring.probes
    timeout = _dur(probes.timeout)
    http: dict[str, Any] = {"preferred_ip_protocol": "ip4", "follow_redirects": True}
    tls_tcp: dict[str, Any] = {"preferred_ip_protocol": "ip4", "tls": True}
    if probes.ca_file:
        for prober in (http, tls_tcp):  # a dict each: a shared one would become a YAML anchor
            prober["tls_config"] = {"ca_file": probes.ca_file}
    return {
        "modules": {
            PROBE_MODULES[ProbeModule.HTTP]: {"prober": "http", "timeout": timeout, "http": http},
            PROBE_MODULES[ProbeModule.TCP]: {
                "prober": "tcp",
                "timeout": timeout,
                "tcp": {"preferred_ip_protocol": "ip4"},
            },
            PROBE_MODULES[ProbeModule.TLS]: {"prober": "tcp", "timeout": timeout, "tcp": tls_tcp},
        }
    }


def _instance(module: ProbeModule) -> str:
    """The ``instance`` label of a probe: the URL; ``tcp://`` or ``tls://`` before host:port, so
    a probe never shares ``instance`` with the scrape of the same address (whose ``up`` says
    whether the app is scraped; a probe job's ``up`` only says the exporter answered)."""
    return "$1" if module is ProbeModule.HTTP else f"{module.value}://$1"


def _probe_jobs(policy: Policy, endpoints: Endpoints) -> list[dict[str, Any]]:
    """One ``/probe`` job per module with targets; the target becomes ``instance``."""
    if not endpoints.blackbox:
        return []
    targets = policy_probe_targets(policy)
    jobs: list[dict[str, Any]] = []
    for module in ProbeModule:
        mine = [t for t in targets if t.module is module]
        if not mine:
            continue
        jobs.append(
            {
                "job_name": PROBE_JOBS[module],
                "metrics_path": "/probe",
                "params": {"module": [PROBE_MODULES[module]]},
                "static_configs": [
                    {"targets": [t.target], "labels": t.series_labels()} for t in mine
                ],
                "relabel_configs": [
                    {"source_labels": ["__address__"], "target_label": "__param_target"},
                    {
                        "source_labels": ["__param_target"],
                        "target_label": "instance",
                        "replacement": _instance(module),
                    },
                    {"target_label": "__address__", "replacement": endpoints.blackbox},
                ],
            }
        )
    return jobs


UPTIME_RECORD = "leitstand:uptime:up"
UPTIME_ALERT = "ServiceDown"


def uptime_rules(policy: Policy) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The uptime rule file and its promtool test; None when nothing is probed over HTTP.

    A service is up when any of its HTTP targets answers (``max`` over its slots: the idle slot
    of a blue-green pair may be stopped); the alert fires at the policy's second level
    (critical) once every target has failed for ``uptime_pending``.
    """
    if not any(t.module is ProbeModule.HTTP for t in policy_probe_targets(policy)):
        return None
    levels = sorted(policy.alerting.levels.items(), key=lambda kv: kv[1].level)
    key, level = levels[min(1, len(levels) - 1)]
    for_s = max(0, math.ceil(policy.monitoring.probes.uptime_pending.total_seconds()))
    job = PROBE_JOBS[ProbeModule.HTTP]
    where = "service={{ $labels.service }}, env={{ $labels.env }}"
    labels = {
        "severity": key,
        "level": str(level.level),
        "metric": "uptime",
        "category": "infrastructure",
    }
    annotations = {
        "summary": f"{UPTIME_ALERT}: kein Health-Endpunkt antwortet ({level.name.de}) – {where}",
        "description": f"probe_success of every {job} target is 0 ({level.name.en}); {where}",
    }
    rules = {
        "groups": [
            {
                "name": "leitstand-uptime",
                "rules": [
                    {
                        "record": UPTIME_RECORD,
                        "expr": f'max by (service, env, tenant) (probe_success{{job="{job}"}})',
                    },
                    {
                        "alert": UPTIME_ALERT,
                        "expr": f"{UPTIME_RECORD} == 0",
                        "for": _dur_s(for_s),
                        "labels": labels,
                        "annotations": annotations,
                    },
                ],
            }
        ]
    }
    return rules, _uptime_test(policy, job, for_s, labels, annotations)


def _dur_s(seconds: int) -> str:
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _uptime_test(
    policy: Policy,
    job: str,
    for_s: int,
    labels: dict[str, str],
    annotations: dict[str, str],
) -> dict[str, Any]:
    """Three services: both slots up; one slot down (still up); both down from the 3rd step."""
    step = max(1, math.ceil(policy.monitoring.evaluation_interval.total_seconds()))
    for_s = math.ceil(for_s / step) * step
    fire = 2 * step + for_s
    steps = fire // step + 3

    def series(service: str, slot: str, values: str) -> dict[str, str]:
        inner = f'job="{job}",instance="http://{service}-{slot}/health",service="{service}"'
        return {
            "series": f'probe_success{{{inner},env="production",slot="{slot}"}}',
            "values": values,
        }

    up, down, falls = f"1x{steps}", f"0x{steps}", f"1x1 0x{steps - 2}"
    down_labels = {"service": "shop-down", "env": "production", **labels}
    expected = [
        {
            "exp_labels": down_labels,
            "exp_annotations": {
                k: v.replace("{{ $labels.service }}", "shop-down").replace(
                    "{{ $labels.env }}", "production"
                )
                for k, v in annotations.items()
            },
        }
    ]
    return {
        "evaluation_interval": _dur_s(step),
        "tests": [
            {
                "name": "uptime: a service is down when none of its health endpoints answers",
                "interval": _dur_s(step),
                "input_series": [
                    series("shop-up", "blue", up),
                    series("shop-up", "green", up),
                    series("shop-half", "blue", up),
                    series("shop-half", "green", down),
                    series("shop-down", "blue", falls),
                    series("shop-down", "green", down),
                ],
                "alert_rule_test": [
                    {"eval_time": _dur_s(fire - step), "alertname": UPTIME_ALERT, "exp_alerts": []},
                    {"eval_time": _dur_s(fire), "alertname": UPTIME_ALERT, "exp_alerts": expected},
                ],
            }
        ],
    }
