"""Defaults from the seed's "CI/CD-Pipeline" and "Change Management" sections."""

from __future__ import annotations

from leitstand.policy.base import Role
from leitstand.policy.defaults._helpers import days, hours, minutes, seconds, t
from leitstand.policy.delivery import (
    ApprovalMode,
    AutomaticRollback,
    BlueGreenPolicy,
    CanaryPolicy,
    ChangeCategory,
    ChangeField,
    ChangesPolicy,
    DatabaseRollback,
    DeploymentPolicy,
    FeatureFlagPolicy,
    ManualRollback,
    Strategy,
)
from leitstand.policy.pipeline import (
    BuildStage,
    ComplianceStage,
    DeploymentStage,
    DeployMode,
    GateStage,
    PipelinePolicy,
    SecurityStage,
    TestStage,
)

__all__ = ["changes", "deployment", "pipeline"]

R = Role


def changes() -> ChangesPolicy:
    """Change categories ("Änderungskategorien") and change documentation."""
    return ChangesPolicy(
        categories={
            "standard": ChangeCategory(
                name=t("Standard", "Standard"),
                approval=ApprovalMode.AUTOMATIC,
                approvers=[],
                examples=[
                    t(
                        "Dependency-Update ohne Breaking Change",
                        "Dependency update without a breaking change",
                    )
                ],
            ),
            "normal": ChangeCategory(
                name=t("Normal", "Normal"),
                approval=ApprovalMode.BEFORE_DEPLOYMENT,
                approvers=[R.COMPLIANCE_OFFICER],
                examples=[t("Neues Feature", "New feature"), t("API-Änderung", "API change")],
            ),
            # The seed says "nachträgliche Genehmigung" without who or by when: leitstand's
            # default is the compliance officer (as for normal changes) within 48 hours.
            "emergency": ChangeCategory(
                name=t("Notfall", "Emergency"),
                approval=ApprovalMode.RETROSPECTIVE,
                approvers=[R.DEVOPS],
                retrospective_approvers=[R.COMPLIANCE_OFFICER],
                retrospective_deadline=hours(48),
                examples=[t("Hotfix für SEV-1 Incident", "Hotfix for a SEV-1 incident")],
                # Build, test and security hold for hotfixes too; the compliance gate (the
                # approval) may follow with the retrospective approval.
                gates_may_follow=[GateStage.COMPLIANCE],
            ),
        },
        required_fields=list(ChangeField),
        four_eyes=True,
    )


def _manual_rollback_steps() -> list[tuple[str, str]]:
    return [
        ("Entscheidung: DevOps oder Compliance Officer", "Decision: DevOps or compliance officer"),
        ("Ausführung: Deployment der vorherigen Version", "Execution: deploy the previous version"),
        (
            "Verifikation: Health-Checks + Smoke-Tests",
            "Verification: health checks and smoke tests",
        ),
        ("Kommunikation: Alle Stakeholder informieren", "Communication: inform all stakeholders"),
        (
            "Dokumentation: Änderungsprotokoll mit Begründung",
            "Documentation: change log entry with the reason",
        ),
        ("Root-Cause-Analyse: Innerhalb von 24h starten", "Root-cause analysis: start within 24h"),
    ]


def deployment() -> DeploymentPolicy:
    """Deployment strategies, rollback procedures and feature flags."""
    return DeploymentPolicy(
        default_strategy=Strategy.BLUE_GREEN,
        blue_green=BlueGreenPolicy(
            max_rollback_time=seconds(60),
            health_checks_before_switch=True,
            keep_previous_for_rollback=True,
        ),
        canary=CanaryPolicy(
            steps=[5, 25, 50, 100], analysis_window=minutes(15), rollback_on_anomaly=True
        ),
        automatic_rollback=AutomaticRollback(
            on_health_check_failure=True,
            notify=[R.DEVOPS, R.DEVELOPER],
            record_in_change_log=True,
        ),
        manual_rollback=ManualRollback(
            deciders=[R.DEVOPS, R.COMPLIANCE_OFFICER],
            steps=[t(de, en) for de, en in _manual_rollback_steps()],
            root_cause_analysis_within=hours(24),
        ),
        database_rollback=DatabaseRollback(
            rollback_script_required=True,
            snapshot_before_migration=True,
            rollback_test_in_pipeline=True,
        ),
        # The seed sets no lifetimes; these follow Unleash's flag types (a flag older than its
        # type's lifetime is stale and should be removed). Permission flags never go stale.
        feature_flags=FeatureFlagPolicy(
            new_features_behind_flags=True,
            per_tenant_activation=True,
            remove_after_full_rollout=True,
            lifetimes={
                "release": days(40),
                "experiment": days(40),
                "operational": days(7),
                "permission": "unlimited",
            },
        ),
    )


def pipeline() -> PipelinePolicy:
    """The five quality-gate stages; every stage stops the pipeline when it fails."""
    return PipelinePolicy(
        build=BuildStage(
            compile=True, resolve_dependencies=True, generate_sbom=True, stop_on_failure=True
        ),
        test=TestStage(
            unit_tests=True,
            min_coverage=80,
            integration_tests=True,
            tenant_isolation_tests=True,
            accessibility_tests=True,
            max_accessibility_violations=0,
            stop_on_failure=True,
        ),
        security=SecurityStage(
            dependency_scan=True,
            block_cvss_from=7.0,
            secret_detection=True,
            max_secret_findings=0,
            licence_scan=True,
            forbidden_licences=["GPL-*", "AGPL-*"],
            container_scan=True,
            max_container_critical_findings=0,
            stop_on_failure=True,
        ),
        compliance=ComplianceStage(
            approval_required=True,
            approvers=[R.COMPLIANCE_OFFICER],
            change_log_required=True,
            documentation_complete=True,
            stop_on_failure=True,
        ),
        # The seed requires a manual approval step for production without naming who;
        # leitstand's default admits DevOps and the compliance officer.
        deployment=DeploymentStage(
            staging=DeployMode.AUTOMATIC,
            production=DeployMode.MANUAL_APPROVAL,
            production_approvers=[R.DEVOPS, R.COMPLIANCE_OFFICER],
            rollback_on_health_check_failure=True,
        ),
    )
