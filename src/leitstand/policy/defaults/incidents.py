"""Defaults from the seed's "Incident Response" and "Eskalationsregeln" sections."""

from __future__ import annotations

from leitstand.policy.base import Role
from leitstand.policy.defaults._helpers import hours, minutes, t
from leitstand.policy.incidents import (
    DoraReporting,
    EscalationRule,
    IncidentPhase,
    IncidentsPolicy,
    PostmortemPolicy,
    SeverityPolicy,
)

__all__ = ["incidents"]

R = Role


def _severities() -> dict[str, SeverityPolicy]:
    return {
        "SEV-1": SeverityPolicy(
            rank=1,
            name=t("Kritisch", "Critical"),
            description=t("Totalausfall oder Datenverlust", "Total outage or data loss"),
            reaction_time=minutes(15),
            examples=[
                t("Portal nicht erreichbar", "Portal unreachable"),
                t("Daten kompromittiert", "Data compromised"),
            ],
            notify_affected_tenants=True,
            remediation_deploy_approvers=[R.COMPLIANCE_OFFICER],
        ),
        "SEV-2": SeverityPolicy(
            rank=2,
            name=t("Hoch", "High"),
            description=t(
                "Wesentliche Funktionseinschränkung", "Significant loss of functionality"
            ),
            reaction_time=minutes(30),
            examples=[
                t(
                    "API-Sync für mehrere Maklerhäuser ausgefallen",
                    "API sync failed for several broker houses",
                )
            ],
            notify_affected_tenants=True,
            remediation_deploy_approvers=[R.COMPLIANCE_OFFICER],
        ),
        "SEV-3": SeverityPolicy(
            rank=3,
            name=t("Mittel", "Medium"),
            description=t("Einzelne Funktion beeinträchtigt", "A single function impaired"),
            reaction_time=hours(2),
            examples=[t("Report-Generierung fehlerhaft", "Report generation faulty")],
            notify_affected_tenants=False,
            remediation_deploy_approvers=[],
        ),
        "SEV-4": SeverityPolicy(
            rank=4,
            name=t("Niedrig", "Low"),
            description=t(
                "Kosmetisch oder Workaround vorhanden", "Cosmetic, or a workaround exists"
            ),
            reaction_time="next_business_day",
            examples=[
                t("UI-Darstellungsfehler mit Workaround", "UI rendering glitch with a workaround")
            ],
            notify_affected_tenants=False,
            remediation_deploy_approvers=[],
        ),
    }


def _phase(de: str, en: str, *steps: tuple[str, str]) -> IncidentPhase:
    return IncidentPhase(name=t(de, en), steps=[t(d, e) for d, e in steps])


def _phases() -> dict[str, IncidentPhase]:
    return {
        "detection": _phase(
            "Erkennung",
            "Detection",
            (
                "Automatisch (Monitoring/Alerting) oder manuell (Nutzermeldung)",
                "Automatic (monitoring/alerting) or manual (user report)",
            ),
            ("Incident-Ticket erstellen", "Create an incident ticket"),
            ("Severity klassifizieren", "Classify the severity"),
        ),
        "containment": _phase(
            "Eindämmung",
            "Containment",
            (
                "Schaden begrenzen (z.B. Feature deaktivieren, Rollback)",
                "Limit the damage (e.g. disable a feature, roll back)",
            ),
            ("Betroffene Mandanten identifizieren", "Identify affected tenants"),
            (
                "Kommunikation an Betroffene (bei SEV-1/SEV-2)",
                "Inform those affected (for SEV-1/SEV-2)",
            ),
        ),
        "analysis": _phase(
            "Analyse",
            "Analysis",
            ("Root Cause identifizieren", "Identify the root cause"),
            ("Betroffene Daten/Systeme ermitteln", "Determine affected data and systems"),
            ("Timeline des Vorfalls rekonstruieren", "Reconstruct the incident timeline"),
        ),
        "remediation": _phase(
            "Behebung",
            "Remediation",
            ("Fix implementieren und testen", "Implement and test the fix"),
            (
                "Deployment (mit Compliance Officer Freigabe bei SEV-1/SEV-2)",
                "Deploy (with compliance officer approval for SEV-1/SEV-2)",
            ),
            ("Verifikation der Behebung", "Verify the fix"),
        ),
        "follow_up": _phase(
            "Nachbereitung",
            "Follow-up",
            ("Post-Mortem innerhalb von 5 Arbeitstagen", "Post-mortem within 5 business days"),
            ("Lessons Learned dokumentieren", "Document lessons learned"),
            ("Maßnahmen zur Verhinderung definieren", "Define preventive action items"),
            (
                "Compliance Officer für Meldepflicht-Prüfung informieren",
                "Inform the compliance officer to check the reporting obligation",
            ),
        ),
    }


def _rule(
    trigger: tuple[str, str],
    actions: list[tuple[str, str]],
    inform: list[Role],
    *,
    immediately: bool,
    severity: str | None = None,
    metric: str | None = None,
    reportable: bool = False,
    alerts: tuple[str, ...] = (),
) -> EscalationRule:
    return EscalationRule(
        trigger=t(*trigger),
        actions=[t(*a) for a in actions],
        inform=inform,
        immediately=immediately,
        severity=severity,
        metric=metric,
        reportable=reportable,
        alerts=list(alerts),
    )


def _escalation_rules() -> dict[str, EscalationRule]:
    return {
        # "alle informieren": everyone who works the incident, plus management ("Mario").
        "sev1_incident": _rule(
            ("SEV-1 Incident", "SEV-1 incident"),
            [
                ("Sofort alle informieren", "Inform everyone at once"),
                ("Incident-Response starten", "Start incident response"),
                ("Management informieren", "Inform management"),
            ],
            [R.DEVOPS, R.ONCALL, R.DEVELOPER, R.COMPLIANCE_OFFICER, R.MANAGEMENT],
            immediately=True,
            severity="SEV-1",
        ),
        "backup_test_failed": _rule(
            ("Backup-Test fehlgeschlagen", "Backup test failed"),
            [
                ("Sofort fixen", "Fix at once"),
                ("Compliance Officer informieren", "Inform the compliance officer"),
            ],
            [R.COMPLIANCE_OFFICER],
            immediately=True,
            alerts=("RecoveryDrillFailed",),  # raised by every failed recovery drill
        ),
        "security_gate_failing": _rule(
            (
                "Security-Gate in Pipeline dauerhaft fehlgeschlagen",
                "Security gate in the pipeline failing permanently",
            ),
            [("Security Engineer einbeziehen", "Involve the security engineer")],
            [R.SECURITY],
            immediately=False,
            alerts=("SecurityGateFailing",),
        ),
        # The seed's Solution Architect has no role of its own; architects are developers.
        "capacity_limit": _rule(
            ("Kapazitätsgrenze erreicht", "Capacity limit reached"),
            [
                (
                    "Solution Architect + Management für Skalierungsentscheidung",
                    "Solution architect and management decide on scaling",
                )
            ],
            [R.DEVELOPER, R.MANAGEMENT],
            immediately=False,
            # Critical on a resource the platform scales: the decision is theirs.
            alerts=("cpu", "memory", "disk", "db_connections", "queue_depth"),
        ),
        "reportable_incident": _rule(
            ("Meldepflichtiger Vorfall", "Reportable incident"),
            [
                ("Compliance Officer sofort informieren", "Inform the compliance officer at once"),
                ("Management sofort informieren", "Inform management at once"),
                ("BaFin-Meldung vorbereiten", "Prepare the BaFin notification"),
            ],
            [R.COMPLIANCE_OFFICER, R.MANAGEMENT],
            immediately=True,
            reportable=True,
        ),
        "certificate_expiry": _rule(
            ("Zertifikat-Ablauf < 7 Tage", "Certificate expires in < 7 days"),
            [
                ("Sofort erneuern", "Renew at once"),
                ("Compliance Officer informieren", "Inform the compliance officer"),
            ],
            [R.COMPLIANCE_OFFICER],
            immediately=True,
            metric="certificate_expiry",
        ),
    }


def incidents() -> IncidentsPolicy:
    """Severities, phases, post-mortem, DORA reporting and escalation rules."""
    return IncidentsPolicy(
        severities=_severities(),
        phases=_phases(),
        postmortem=PostmortemPolicy(due_business_days=5, reporting_check_by=[R.COMPLIANCE_OFFICER]),
        dora=DoraReporting(
            authority="BaFin",
            initial_notification=hours(4),
            initial_notification_after_awareness=hours(24),
            intermediate_report=hours(72),
            final_report_months=1,
            inform_immediately=[R.MANAGEMENT],
            gdpr_notification=hours(72),
        ),
        escalation_rules=_escalation_rules(),
    )
