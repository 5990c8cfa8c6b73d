"""The root of the policy: every section, its built-in defaults, and the rules across sections."""

from __future__ import annotations

import functools
from typing import Self

from pydantic import Field, TypeAdapter, model_validator

from leitstand.policy import defaults
from leitstand.policy.api import ApiPolicy
from leitstand.policy.auth import AuthPolicy
from leitstand.policy.base import PolicyModel, Rules
from leitstand.policy.continuity import BackupsPolicy, ServicePolicy
from leitstand.policy.crosschecks import cross_section_problems
from leitstand.policy.delivery import ChangesPolicy, DeploymentPolicy
from leitstand.policy.environments import EnvironmentPolicy
from leitstand.policy.gates import GatesPolicy
from leitstand.policy.hardening import HardeningPolicy, InfrastructureAsCode
from leitstand.policy.incidents import IncidentsPolicy
from leitstand.policy.ledger import LedgerPolicy
from leitstand.policy.logs import LogsPolicy
from leitstand.policy.monitoring import AlertingPolicy, MonitoringPolicy, ObservabilityPolicy
from leitstand.policy.operations import ChecklistItem, GameDayPolicy, RunbookSection
from leitstand.policy.pipeline import PipelinePolicy
from leitstand.policy.telemetry import TelemetryPolicy
from leitstand.policy.tenants import EvidencePolicy, TenantPolicy

__all__ = ["SECTIONS", "Policy", "default_policy", "section_adapter"]


class Policy(PolicyModel):
    """The effective operations policy; ``Policy()`` is the seed's built-in defaults."""

    services: dict[str, ServicePolicy] = Field(default_factory=defaults.services)
    tenants: dict[str, TenantPolicy] = Field(default_factory=defaults.tenants)
    monitoring: MonitoringPolicy = Field(default_factory=defaults.monitoring)
    alerting: AlertingPolicy = Field(default_factory=defaults.alerting)
    backups: BackupsPolicy = Field(default_factory=defaults.backups)
    incidents: IncidentsPolicy = Field(default_factory=defaults.incidents)
    changes: ChangesPolicy = Field(default_factory=defaults.changes)
    deployment: DeploymentPolicy = Field(default_factory=defaults.deployment)
    pipeline: PipelinePolicy = Field(default_factory=defaults.pipeline)
    gates: GatesPolicy = Field(default_factory=GatesPolicy)
    logs: LogsPolicy = Field(default_factory=defaults.logs)
    environments: dict[str, EnvironmentPolicy] = Field(default_factory=defaults.environments)
    infrastructure_as_code: InfrastructureAsCode = Field(
        default_factory=defaults.infrastructure_as_code
    )
    hardening: HardeningPolicy = Field(default_factory=defaults.hardening)
    gamedays: GameDayPolicy = Field(default_factory=defaults.gamedays)
    observability: ObservabilityPolicy = Field(default_factory=defaults.observability)
    telemetry: TelemetryPolicy = Field(default_factory=TelemetryPolicy)
    handover_checklist: dict[str, ChecklistItem] = Field(
        default_factory=defaults.handover_checklist
    )
    runbook: dict[str, RunbookSection] = Field(default_factory=defaults.runbook)
    evidence: EvidencePolicy = Field(default_factory=EvidencePolicy)
    ledger: LedgerPolicy = Field(default_factory=LedgerPolicy)
    api: ApiPolicy = Field(default_factory=ApiPolicy)
    auth: AuthPolicy = Field(default_factory=AuthPolicy)

    @model_validator(mode="after")
    def _sections_agree(self) -> Self:
        rules = Rules()
        rules.problems += cross_section_problems({name: getattr(self, name) for name in SECTIONS})
        rules.check()
        return self


SECTIONS: tuple[str, ...] = tuple(Policy.model_fields)


@functools.cache
def section_adapter(name: str) -> TypeAdapter[object]:
    """A validator for one top-level section, to check sections on their own."""
    annotation = Policy.model_fields[name].annotation
    return TypeAdapter(annotation if annotation is not None else object)


def default_policy() -> Policy:
    """Return the built-in policy: the seed's tables plus leitstand's documented defaults."""
    return Policy()
