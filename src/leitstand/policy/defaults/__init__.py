"""The built-in policy: the seed's tables as typed models, one factory per policy section.

Values the seed leaves open are leitstand's documented defaults, marked with a comment where set.
"""

from __future__ import annotations

from leitstand.policy.defaults.continuity import backups, services, tenants
from leitstand.policy.defaults.delivery import changes, deployment, pipeline
from leitstand.policy.defaults.hardening import hardening
from leitstand.policy.defaults.incidents import incidents
from leitstand.policy.defaults.monitoring import alerting, monitoring, observability
from leitstand.policy.defaults.operations import (
    environments,
    gamedays,
    handover_checklist,
    infrastructure_as_code,
    logs,
    runbook,
)

__all__ = [
    "alerting",
    "backups",
    "changes",
    "deployment",
    "environments",
    "gamedays",
    "handover_checklist",
    "hardening",
    "incidents",
    "infrastructure_as_code",
    "logs",
    "monitoring",
    "observability",
    "pipeline",
    "runbook",
    "services",
    "tenants",
]
