"""Rules that span policy sections: references between them, where debug logs may run, and
the read-only decision behind a writable Kubernetes container.

Each check names the sections it needs, so the loader can still run it when an unrelated section
of the user's file is broken, and every problem is reported in one go.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from leitstand.policy.base import Problem, Rules
from leitstand.policy.continuity import BackupsPolicy, ServicePolicy
from leitstand.policy.delivery import DeploymentPolicy
from leitstand.policy.environments import EnvironmentPolicy
from leitstand.policy.gates import GatesPolicy, read_only_decision
from leitstand.policy.incidents import IncidentsPolicy
from leitstand.policy.logs import LogsPolicy
from leitstand.policy.monitoring import MonitoringPolicy
from leitstand.policy.operations import GameDayPolicy
from leitstand.policy.pipeline import PipelinePolicy
from leitstand.policy.releases import KubernetesStart
from leitstand.policy.tenants import TenantPolicy

__all__ = ["CROSS_CHECKS", "DEBUG_LOG_TYPE", "cross_section_problems"]

# The seed: debug logs only in staging/dev, never in production.
DEBUG_LOG_TYPE = "debug"


def _tenant_services(
    tenants: dict[str, TenantPolicy], services: dict[str, ServicePolicy]
) -> list[Problem]:
    rules = Rules()
    for key, tenant in tenants.items():
        for index, service in enumerate(tenant.services):
            if service not in services:
                rules.add(
                    f"tenants.{key}.services.{index}",
                    f"one of the services {', '.join(services)} (got {service!r})",
                )
    return rules.problems


def _production_exists(environments: dict[str, EnvironmentPolicy]) -> list[Problem]:
    rules = Rules()
    if not any(env.production for env in environments.values()):
        rules.add("environments", "at least one environment with production: true (got none)")
    return rules.problems


def _log_environments(
    logs: LogsPolicy, environments: dict[str, EnvironmentPolicy]
) -> list[Problem]:
    rules = Rules()
    known = ", ".join(environments)
    for key, log in logs.retention.items():
        for index, env in enumerate(log.environments):
            where = f"logs.retention.{key}.environments.{index}"
            if env not in environments:
                rules.add(where, f"one of the environments {known} (got {env!r})")
            elif key == DEBUG_LOG_TYPE and environments[env].production:
                rules.add(
                    where,
                    f"a non-production environment such as development or staging; debug logs "
                    f"never run in production (got {env!r})",
                )
    return rules.problems


def _gameday_environments(
    gamedays: GameDayPolicy, environments: dict[str, EnvironmentPolicy]
) -> list[Problem]:
    rules = Rules()
    for index, env in enumerate(gamedays.environments):
        if env not in environments:
            rules.add(
                f"gamedays.environments.{index}",
                f"one of the environments {', '.join(environments)} (got {env!r})",
            )
    return rules.problems


def _backup_systems(backups: BackupsPolicy, services: dict[str, ServicePolicy]) -> list[Problem]:
    rules = Rules()
    for key in backups.systems:
        if key not in services:
            rules.add(
                f"backups.systems.{key}",
                f"one of the services {', '.join(services)} (got {key!r})",
            )
    return rules.problems


def _escalation_metrics(incidents: IncidentsPolicy, monitoring: MonitoringPolicy) -> list[Problem]:
    rules = Rules()
    for key, rule in incidents.escalation_rules.items():
        if rule.metric is not None and rule.metric not in monitoring.metrics:
            rules.add(
                f"incidents.escalation_rules.{key}.metric",
                f"a metric id such as {', '.join(list(monitoring.metrics)[:3])} "
                f"(got {rule.metric!r})",
            )
    return rules.problems


def _release_targets(
    deployment: DeploymentPolicy,
    services: dict[str, ServicePolicy],
    environments: dict[str, EnvironmentPolicy],
    monitoring: MonitoringPolicy,
) -> list[Problem]:
    rules = Rules()
    for key, target in deployment.releases.items():
        where = f"deployment.releases.{key}"
        if key not in services:
            rules.add(where, f"one of the services {', '.join(services)} (got {key!r})")
        for env in target.environments:
            if env not in environments:
                rules.add(
                    f"{where}.environments.{env}",
                    f"one of the environments {', '.join(environments)} (got {env!r})",
                )
        for field in ("error_rate_metric", "latency_metric"):
            metric = getattr(target.analysis, field)
            if getattr(monitoring.metrics.get(metric), "kind", None) != "threshold":
                rules.add(
                    f"{where}.analysis.{field}",
                    f"a threshold metric from monitoring.metrics (got {metric!r})",
                )
    return rules.problems


def _gate_environments(
    pipeline: PipelinePolicy, environments: dict[str, EnvironmentPolicy]
) -> list[Problem]:
    rules = Rules()
    for env in pipeline.deployment.required_gates:
        if env not in environments:
            rules.add(
                f"pipeline.deployment.required_gates.{env}",
                f"one of the environments {', '.join(environments)} (got {env!r})",
            )
    return rules.problems


def _writable_containers(deployment: DeploymentPolicy, gates: GatesPolicy) -> list[Problem]:
    """A Kubernetes start with a writable root filesystem needs the project's recorded decision.

    The seed's "Read-Only Filesystem: wo möglich": the rendered container (named after the
    service) may be writable only where ``gates.containers.read_only`` records that it cannot be
    read-only (``read_only: false`` with the reason), as the container gate judges it.
    """
    rules = Rules()
    decisions = gates.containers.read_only
    for key, target in deployment.releases.items():
        start = target.start
        if not isinstance(start, KubernetesStart) or start.read_only_root_filesystem:
            continue
        where = f"deployment.releases.{key}.start.read_only_root_filesystem"
        found = read_only_decision(decisions, key)
        if found is None:
            rules.add(
                where,
                f"true, or a recorded decision for container {key!r} in "
                f"gates.containers.read_only ({key}: {{read_only: false, reason: ...}}) "
                "(got false with no decision)",
            )
        elif found[1].read_only:
            rules.add(
                where,
                f"true: gates.containers.read_only[{found[0]!r}] decides container {key!r} "
                "has a read-only root filesystem (got false)",
            )
    return rules.problems


CROSS_CHECKS: tuple[tuple[tuple[str, ...], Callable[..., list[Problem]]], ...] = (
    (("tenants", "services"), _tenant_services),
    (("environments",), _production_exists),
    (("logs", "environments"), _log_environments),
    (("gamedays", "environments"), _gameday_environments),
    (("pipeline", "environments"), _gate_environments),
    (("incidents", "monitoring"), _escalation_metrics),
    (("backups", "services"), _backup_systems),
    (("deployment", "services", "environments", "monitoring"), _release_targets),
    (("deployment", "gates"), _writable_containers),
)


def cross_section_problems(sections: Mapping[str, object]) -> list[Problem]:
    """Run every cross-section check whose sections are all present in ``sections``."""
    problems: list[Problem] = []
    for needs, check in CROSS_CHECKS:
        if all(name in sections for name in needs):
            problems += check(**{name: sections[name] for name in needs})
    return problems
