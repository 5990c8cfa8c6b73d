"""Compile the Prometheus and Alertmanager configuration from the policy (pure)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from leitstand.policy.model import Policy

__all__ = ["Endpoints", "alertmanager_config", "prometheus_config"]

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
