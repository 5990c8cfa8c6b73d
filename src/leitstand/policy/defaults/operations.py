"""Defaults from the seed's log, environment, IaC, game-day, handover and runbook sections."""

from __future__ import annotations

from datetime import timedelta

from leitstand.policy.base import Frequency, Role
from leitstand.policy.defaults._helpers import days, hours, t
from leitstand.policy.durations import YEAR
from leitstand.policy.environments import DataClass, EnvironmentPolicy
from leitstand.policy.hardening import InfrastructureAsCode, Principle
from leitstand.policy.logs import LegalMinimum, LogsPolicy, LogType
from leitstand.policy.operations import ChecklistItem, GameDayPolicy, RunbookSection

__all__ = [
    "environments",
    "gamedays",
    "handover_checklist",
    "infrastructure_as_code",
    "logs",
    "runbook",
]

R = Role
_ALL_ENVS = ["development", "staging", "production"]


def logs() -> LogsPolicy:
    """Retention periods ("Aufbewahrungsfristen") and the log rules."""

    def log(
        de: str, en: str, period: timedelta, reason: tuple[str, str], envs: list[str]
    ) -> LogType:
        return LogType(name=t(de, en), period=period, reason=t(*reason), environments=envs)

    personal_fields = [
        "user", "username", "user_name", "actor", "email", "e_mail", "mail", "client_ip",
        "remote_addr", "remote_ip", "ip", "source_ip", "x_forwarded_for",
    ]  # fmt: skip
    return LogsPolicy(
        retention={
            "audit": log(
                "Audit-Logs (Nutzerzugriff)",
                "Audit logs (user access)",
                5 * YEAR,
                (
                    "DORA + handelsrechtliche Aufbewahrungspflicht",
                    "DORA + commercial-law retention duty",
                ),
                _ALL_ENVS,
            ),
            "security": log(
                "Security-Logs (Auth, Incidents)",
                "Security logs (auth, incidents)",
                3 * YEAR,
                ("BSI-Grundschutz, DORA Art. 9", "BSI IT-Grundschutz, DORA Art. 9"),
                _ALL_ENVS,
            ),
            "application": log(
                "Application-Logs",
                "Application logs",
                days(90),
                ("Fehleranalyse", "Error analysis"),
                _ALL_ENVS,
            ),
            "access": log(
                "Access-Logs (HTTP)",
                "Access logs (HTTP)",
                days(90),
                ("Fehleranalyse, Security", "Error analysis, security"),
                _ALL_ENVS,
            ),
            "performance": log(
                "Performance-Logs",
                "Performance logs",
                YEAR,
                ("Kapazitätsplanung (DORA Art. 11)", "Capacity planning (DORA Art. 11)"),
                _ALL_ENVS,
            ),
            "debug": log(
                "Debug-Logs",
                "Debug logs",
                days(14),
                ("Nur Staging/Dev, nie Produktion", "Staging/dev only, never production"),
                ["development", "staging"],
            ),
        },
        centralised=True,
        structured_json=True,
        correlation_id=True,
        no_pii=True,
        tamper_protection=True,
        # "Nur autorisierte Rollen": the seed names none; leitstand's default.
        access_roles=[R.DEVOPS, R.SECURITY, R.COMPLIANCE_OFFICER, R.AUDITOR],
        automatic_rotation=True,
        # "Keine PII in Logs: pseudonymisieren oder ausschließen": pseudonymised with a key
        # below the leitstand home (generated on first use), so a compliance officer can
        # re-identify. The fields are leitstand's choice: user names, e-mail and IP addresses.
        pseudonym_key="file:keys/log-pseudonym.key",
        pseudonymise_fields=personal_fields,
        # The HGB question is a legal reading, so a value: § 257 HGB keeps Handelsbriefe 6 years
        # and Bücher/Buchungsbelege 10 years; the seed keeps audit logs 5 years for "DORA +
        # handelsrechtliche Aufbewahrungspflicht". These are the seed's minimums; whoever decides
        # (compliance) raises them here if audit logs count as Handelsbriefe (6y) or Belege (10y).
        legal_minimums={
            "audit": LegalMinimum(
                period=5 * YEAR,
                reason=t(
                    "DORA und handelsrechtliche Aufbewahrungspflicht (HGB)",
                    "DORA and the commercial-law retention duty (HGB)",
                ),
            ),
            "security": LegalMinimum(
                period=3 * YEAR,
                reason=t(
                    "BSI IT-Grundschutz und DORA Art. 9", "BSI IT-Grundschutz and DORA Art. 9"
                ),
            ),
        },
        # leitstand's choice: seal new segments and expire old ones hourly.
        maintenance_interval=hours(1),
    )


def environments() -> dict[str, EnvironmentPolicy]:
    """Development, staging and production ("Umgebungen")."""
    return {
        "development": EnvironmentPolicy(
            name=t("Development", "Development"),
            purpose=t("Entwicklung + Debugging", "Development and debugging"),
            production=False,
            data=DataClass.SYNTHETIC,
            access=[R.DEVELOPER],
            pipeline_only=False,
        ),
        "staging": EnvironmentPolicy(
            name=t("Staging", "Staging"),
            purpose=t("Integration + Akzeptanztests", "Integration and acceptance tests"),
            production=False,
            data=DataClass.ANONYMISED_COPY,
            access=[R.DEVELOPER, R.QA],
            pipeline_only=False,
        ),
        "production": EnvironmentPolicy(
            name=t("Produktion", "Production"),
            purpose=t("Live-Betrieb", "Live operation"),
            production=True,
            data=DataClass.REAL,
            access=[],
            pipeline_only=True,
        ),
    }


def infrastructure_as_code() -> InfrastructureAsCode:
    """The five IaC principles ("Grundprinzipien")."""
    rows = {
        "versioned": (
            ("Alles versioniert", "Everything versioned"),
            ("Jede Infrastrukturänderung im Git", "Every infrastructure change in Git"),
        ),
        "reproducible": (
            ("Reproduzierbar", "Reproducible"),
            (
                "Komplette Umgebung aus Code wiederherstellbar",
                "The complete environment can be rebuilt from code",
            ),
        ),
        "idempotent": (
            ("Idempotent", "Idempotent"),
            (
                "Mehrfache Anwendung erzeugt gleiches Ergebnis",
                "Applying it again gives the same result",
            ),
        ),
        "tested": (
            ("Getestet", "Tested"),
            ("Infrastruktur-Code durchläuft eigene Tests", "Infrastructure code has its own tests"),
        ),
        "documented": (
            ("Dokumentiert", "Documented"),
            (
                "Jede Ressource mit Zweck und Verantwortlichkeit kommentiert",
                "Every resource commented with purpose and owner",
            ),
        ),
    }
    return InfrastructureAsCode(
        principles={k: Principle(title=t(*ti), description=t(*d)) for k, (ti, d) in rows.items()}
    )


def gamedays() -> GameDayPolicy:
    """Game days ("Chaos Engineering / Game Days")."""
    # Performance and backend engineers take part with the developer role.
    return GameDayPolicy(
        frequency=Frequency.QUARTERLY,
        regulation="DORA Art. 24-27",
        environments=["staging", "production"],
        production_requires_warning=True,
        min_duration=hours(2),
        max_duration=hours(4),
        participants=[R.DEVOPS, R.DEVELOPER, R.QA],
        report_to=[R.COMPLIANCE_OFFICER],
        production_approvers=[R.MANAGEMENT],
    )


def handover_checklist() -> dict[str, ChecklistItem]:
    """The nine items of the handover checklist ("Übergabe-Checkliste")."""
    rows = {
        "deployed_to_production": (
            "Deployment erfolgreich auf Produktion",
            "Deployment to production succeeded",
        ),
        "health_checks_passed": ("Health-Checks bestanden", "Health checks passed"),
        "monitoring_active": (
            "Monitoring für neue Komponenten aktiv",
            "Monitoring active for new components",
        ),
        "alerting_configured": ("Alerting-Regeln konfiguriert", "Alerting rules configured"),
        "backup_covers_new_data": (
            "Backup umfasst neue Daten/Komponenten",
            "Backup covers new data/components",
        ),
        "runbook_updated": ("Betriebshandbuch aktualisiert", "Operations manual updated"),
        "change_log_entry": ("Change-Log-Eintrag erstellt", "Change log entry created"),
        "post_deployment_verification": (
            "Post-Deployment-Verification abgeschlossen",
            "Post-deployment verification completed",
        ),
        "documentation_handed_over": (
            "Technical Writer hat Deployment-Verfahren und Betriebshandbuch für Dokumentation "
            "erhalten",
            "Technical writer has received the deployment procedure and operations manual",
        ),
    }
    # Who acts when leitstand finds an item failing (leitstand's defaults; DevOps otherwise).
    owners = {
        "runbook_updated": R.DEVELOPER,
        "change_log_entry": R.COMPLIANCE_OFFICER,
        "post_deployment_verification": R.QA,
        "documentation_handed_over": R.PRODUCT_OWNER,
    }
    return {
        key: ChecklistItem(text=t(de, en), owner=owners.get(key, R.DEVOPS))
        for key, (de, en) in rows.items()
    }


_RUNBOOK: dict[str, tuple[tuple[str, str], list[tuple[str, str]]]] = {
    "system_overview": (
        ("Systemübersicht", "System overview"),
        [
            ("Architektur-Diagramm", "Architecture diagram"),
            ("Komponenten und Abhängigkeiten", "Components and dependencies"),
            ("Hosting und Netzwerk", "Hosting and network"),
        ],
    ),
    "contacts_escalation": (
        ("Kontakte und Eskalation", "Contacts and escalation"),
        [
            ("Verantwortliche Rollen", "Responsible roles"),
            ("Eskalationskette", "Escalation chain"),
            ("Erreichbarkeiten", "Availability"),
        ],
    ),
    "deployment": (
        ("Deployment", "Deployment"),
        [
            ("Deployment-Verfahren", "Deployment procedure"),
            ("Rollback-Prozedur", "Rollback procedure"),
            ("Feature-Flag-Management", "Feature flag management"),
        ],
    ),
    "monitoring": (
        ("Monitoring", "Monitoring"),
        [
            ("Dashboards (Links)", "Dashboards (links)"),
            ("Alerting-Regeln", "Alerting rules"),
            ("Schwellenwerte", "Thresholds"),
        ],
    ),
    "backup_recovery": (
        ("Backup & Recovery", "Backup & recovery"),
        [
            ("Backup-Schedule", "Backup schedule"),
            ("Recovery-Prozedur (Schritt für Schritt)", "Recovery procedure (step by step)"),
            ("RTO/RPO", "RTO/RPO"),
        ],
    ),
    "incident_response": (
        ("Incident Response", "Incident response"),
        [
            ("Klassifizierung", "Classification"),
            ("Eskalation", "Escalation"),
            ("Kommunikationsvorlagen", "Communication templates"),
        ],
    ),
    "maintenance": (
        ("Wartung", "Maintenance"),
        [
            ("Geplante Wartungsfenster", "Planned maintenance windows"),
            ("Update-Prozedur", "Update procedure"),
            ("Certificate-Renewal", "Certificate renewal"),
        ],
    ),
    "troubleshooting": (
        ("Troubleshooting", "Troubleshooting"),
        [
            ("Häufige Probleme + Lösungen", "Common problems and solutions"),
            ("Log-Analyse-Anleitung", "Log analysis guide"),
            ("Debugging-Zugang", "Debugging access"),
        ],
    ),
}


def runbook() -> dict[str, RunbookSection]:
    """The eight sections of the operations manual ("Betriebshandbuch-Template")."""
    return {
        key: RunbookSection(title=t(*title), items=[t(*item) for item in items])
        for key, (title, items) in _RUNBOOK.items()
    }
