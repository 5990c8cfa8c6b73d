"""The CI/CD pipeline's five stages and their gate values; a failed gate stops the pipeline."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from leitstand.policy.base import Count, Flag, Number, Percent, PolicyModel, RoleList, unique_list
from leitstand.policy.values import describe

__all__ = [
    "BuildStage",
    "ComplianceStage",
    "DeployMode",
    "DeploymentStage",
    "GateStage",
    "LicensePattern",
    "PipelinePolicy",
    "SecurityStage",
    "TestStage",
]

_SPDX_GLOB = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+*-]*$")


def _licence_pattern(value: str) -> str:
    if not _SPDX_GLOB.match(value):
        raise PydanticCustomError(
            "licence",
            f"an SPDX licence id or a pattern such as 'GPL-*' (got {describe(value)})",
        )
    return value


LicensePattern = Annotated[str, AfterValidator(_licence_pattern)]


def _cvss(value: float) -> float:
    if not 0 <= value <= 10:
        raise PydanticCustomError("cvss", f"a CVSS score from 0.0 to 10.0 (got {describe(value)})")
    return value


class BuildStage(PolicyModel):
    """Stage 1: the code builds, dependencies resolve without conflicts, an SBOM exists."""

    compile: Flag
    resolve_dependencies: Flag
    generate_sbom: Flag
    stop_on_failure: Flag


class TestStage(PolicyModel):
    """Stage 2: unit (with minimum coverage), integration, tenant isolation, accessibility."""

    __test__ = False  # not a pytest test class despite its name

    unit_tests: Flag
    min_coverage: Percent
    integration_tests: Flag
    tenant_isolation_tests: Flag
    accessibility_tests: Flag
    max_accessibility_violations: Count  # axe-core violations
    stop_on_failure: Flag


class SecurityStage(PolicyModel):
    """Stage 3: dependency CVEs, secrets, licences, container image."""

    dependency_scan: Flag
    block_cvss_from: Annotated[Number, AfterValidator(_cvss)]  # a CVE at or above this blocks
    secret_detection: Flag
    max_secret_findings: Count
    licence_scan: Flag
    forbidden_licences: Annotated[list[LicensePattern], AfterValidator(unique_list)]
    # Weak copyleft: allowed, but listed for review (leitstand's default, not from the seed).
    review_licences: Annotated[list[LicensePattern], AfterValidator(unique_list)] = Field(
        default_factory=lambda: ["LGPL-*", "MPL-*"]
    )
    container_scan: Flag  # only where a container image is built
    max_container_critical_findings: Count
    stop_on_failure: Flag


class ComplianceStage(PolicyModel):
    """Stage 4: approval recorded, change log written, documentation complete."""

    approval_required: Flag
    approvers: Annotated[RoleList, Field(min_length=1)]
    change_log_required: Flag
    documentation_complete: Flag
    stop_on_failure: Flag


class DeployMode(StrEnum):
    """How a deployment to an environment is started."""

    AUTOMATIC = "automatic"
    MANUAL_APPROVAL = "manual_approval"


class GateStage(StrEnum):
    """The gate stages a release can require (stages 1-4; ``leitstand gate run``)."""

    BUILD = "build"
    TEST = "test"
    SECURITY = "security"
    COMPLIANCE = "compliance"


def _required_gates() -> dict[str, list[GateStage]]:
    # The seed's Fail = Stop: production after all four gates, staging after build, test and
    # security (the compliance gate checks the production approval).
    return {
        "production": [GateStage.BUILD, GateStage.TEST, GateStage.SECURITY, GateStage.COMPLIANCE],
        "staging": [GateStage.BUILD, GateStage.TEST, GateStage.SECURITY],
    }


class DeploymentStage(PolicyModel):
    """Stage 5: staging automatic, production after manual approval, rollback on failed checks."""

    staging: DeployMode
    production: DeployMode
    production_approvers: Annotated[RoleList, Field(min_length=1)]
    rollback_on_health_check_failure: Flag
    # Per environment: the gate stages a passing gate run must have recorded for the release's
    # change and artifact digest before a release there is admitted (others: none).
    required_gates: dict[str, Annotated[list[GateStage], AfterValidator(unique_list)]] = Field(
        default_factory=_required_gates
    )


class PipelinePolicy(PolicyModel):
    """The five pipeline stages in order: build, test, security, compliance, deployment."""

    build: BuildStage
    test: TestStage
    security: SecurityStage
    compliance: ComplianceStage
    deployment: DeploymentStage
