"""The built-in defaults equal the seed's tables (ops-policy.de.md), typed out here by hand.

Nothing in this file is derived from leitstand's defaults: every expected value is transcribed
from the seed's markdown, so a drift in either direction fails a test.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from leitstand.policy import Policy, Role, default_policy
from leitstand.policy.monitoring import BatchJobMetric, ThresholdMetric

S = timedelta(seconds=1)
MIN = timedelta(minutes=1)
H = timedelta(hours=1)
D = timedelta(days=1)
YEAR = 365 * D


@pytest.fixture(scope="module")
def policy() -> Policy:
    return default_policy()


# | Metrik | Warnung | Kritisch | Intervall |  (id, category, direction, unit, warning, critical)
SEED_METRICS = [
    # Infrastruktur
    ("cpu", "CPU", "infrastructure", "above", "percent", 70, 90, 30 * S),
    ("memory", "Memory", "infrastructure", "above", "percent", 75, 90, 30 * S),
    ("disk", "Disk", "infrastructure", "above", "percent", 70, 85, 60 * S),
    ("disk_io_latency", "Disk I/O Latenz", "infrastructure", "above", "ms", 10, 50, 30 * S),
    ("network_latency", "Netzwerk-Latenz", "infrastructure", "above", "ms", 100, 500, 30 * S),
    # Anwendung
    ("http_5xx_rate", "HTTP 5xx Rate", "application", "above", "percent", 1, 5, 30 * S),
    ("response_time_p95", "Response Time P95", "application", "above", "ms", 500, 2000, 30 * S),
    (
        "request_rate_drop",
        "Request Rate Drop",
        "application",
        "above",
        "percent_drop",
        30,
        50,
        60 * S,
    ),
    (
        "db_connections",
        "Active DB Connections",
        "application",
        "above",
        "percent_of_pool",
        70,
        90,
        30 * S,
    ),
    ("queue_depth", "Queue Depth", "application", "above", "count", 100, 500, 30 * S),
    # Security
    ("failed_logins", "Failed Logins", "security", "above", "per_minute_per_ip", 10, 50, 30 * S),
    (
        "failed_api_auth",
        "Failed API Auth",
        "security",
        "above",
        "percent_of_requests",
        5,
        10,
        30 * S,
    ),
    ("rate_limit_hits", "Rate Limit Hits", "security", "above", "per_minute", 100, 500, 30 * S),
    ("certificate_expiry", "Certificate Expiry", "security", "below", "days", 30, 7, 24 * H),
    # Business
    (
        "contract_processing",
        "Vertragsverarbeitung",
        "business",
        "below",
        "percent_success",
        90,
        80,
        5 * MIN,
    ),
    (
        "broker_api_sync",
        "API-Sync Maklerhäuser",
        "business",
        "above",
        "broker_houses",
        2,
        5,
        5 * MIN,
    ),
]


def test_defaults_have_exactly_the_seeds_17_metrics(policy: Policy) -> None:
    expected = {row[0] for row in SEED_METRICS} | {"batch_jobs"}
    assert set(policy.monitoring.metrics) == expected
    assert len(policy.monitoring.metrics) == 17
    counts: dict[str, int] = {}
    for metric in policy.monitoring.metrics.values():
        counts[metric.category.value] = counts.get(metric.category.value, 0) + 1
    assert counts == {"infrastructure": 5, "application": 5, "security": 4, "business": 3}


@pytest.mark.parametrize(
    ("key", "name", "category", "direction", "unit", "warning", "critical", "interval"),
    SEED_METRICS,
)
def test_threshold_metric_matches_seed_row(
    policy: Policy,
    key: str,
    name: str,
    category: str,
    direction: str,
    unit: str,
    warning: float,
    critical: float,
    interval: timedelta,
) -> None:
    metric = policy.monitoring.metrics[key]
    assert isinstance(metric, ThresholdMetric)
    assert metric.name.de == name
    assert metric.category.value == category
    assert metric.direction.value == direction
    assert metric.unit.value == unit
    assert metric.warning == warning
    assert metric.critical == critical
    assert metric.interval == interval


def test_batch_jobs_warn_at_twice_normal_runtime_and_are_critical_when_not_started(
    policy: Policy,
) -> None:
    # | Batch-Jobs | 2× Normalzeit | Nicht gestartet | 5min |
    metric = policy.monitoring.metrics["batch_jobs"]
    assert isinstance(metric, BatchJobMetric)
    assert metric.name.de == "Batch-Jobs"
    assert metric.category.value == "business"
    assert metric.warning_runtime_factor == 2
    assert metric.critical_when_not_started is True
    assert metric.interval == 5 * MIN


def test_alert_escalation_levels_match_seed(policy: Policy) -> None:
    levels = policy.alerting.levels
    assert [(lv.level, lv.name.de) for lv in levels.values()] == [
        (1, "Warnung"),
        (2, "Kritisch"),
        (3, "Ausfall"),
    ]
    warning, critical, outage = levels["warning"], levels["critical"], levels["outage"]
    # LEVEL 1: Notification an DevOps (Slack/E-Mail), automatische Doku, nächste Gelegenheit
    assert [r.value for r in warning.notify] == ["devops"]
    assert {c.value for c in warning.channels} == {"slack", "email"}
    assert warning.document_automatically is True
    assert warning.action_deadline == "next_opportunity"
    # LEVEL 2: DevOps + On-Call, Aktion innerhalb 15 Minuten, nicht acknowledged in 15 Min -> 3
    assert [r.value for r in critical.notify] == ["devops", "oncall"]
    assert critical.action_deadline == 15 * MIN
    assert critical.escalate_when_unacknowledged is True
    assert critical.escalate_to == "outage"
    assert policy.alerting.ack_timeout == 15 * MIN
    # LEVEL 3: DevOps + Entwicklung + Mario, Incident-Response starten, sofort
    assert [r.value for r in outage.notify] == ["devops", "developer", "management"]
    assert outage.start_incident_response is True
    assert outage.action_deadline == "immediately"
    # REGELN
    assert policy.alerting.require_actionable is True
    assert policy.alerting.dedup_window == 5 * MIN
    assert policy.alerting.record_every_alert is True


def test_four_systems_match_seed_recovery_objectives(policy: Policy) -> None:
    # | System | RTO | RPO | Priorität |
    expected = {
        "smart-bav-portal": ("smart!bAV Portal", 4 * H, 1 * H, "critical"),
        "enterprise-api": ("Enterprise API", 2 * H, 15 * MIN, "critical"),
        "batch-processing": ("Batch-Verarbeitung", 8 * H, 4 * H, "high"),
        "internal-tools": ("Interne Tools", 24 * H, 24 * H, "normal"),
    }
    actual = {key: (s.name, s.rto, s.rpo, s.priority.value) for key, s in policy.services.items()}
    assert actual == expected


def test_six_backup_rows_match_seed_schedule(policy: Policy) -> None:
    # | Daten | Methode | Frequenz | Aufbewahrung | Verschlüsselt | Standort |
    expected = [
        ("database", "full", "0 2 * * *", 30 * D, "AES-256", "secondary_site_de"),
        ("database", "incremental", "0 * * * *", 7 * D, "AES-256", "secondary_site_de"),
        ("database", "wal", "continuous", 7 * D, "AES-256", "secondary_site_de"),
        ("files", "incremental", "0 3 * * *", 30 * D, "AES-256", "secondary_site_de"),
        ("configuration", "git", "on_change", "unlimited", "GPG", "git_repository_de"),
        ("secrets", "vault_snapshot", "0 4 * * *", 30 * D, "AES-256", "secondary_site_de"),
    ]
    rows = [
        (
            r.data.value,
            r.method.value,
            r.frequency,
            r.retention,
            r.encryption.value,
            r.location.value,
        )
        for r in policy.backups.schedule.values()
    ]
    assert rows == expected
    assert policy.backups.timezone == "Europe/Berlin"


def test_five_recovery_tests_match_seed(policy: Policy) -> None:
    # | Test | Frequenz | Dokumentation |
    expected = [
        ("Datenbank-Restore (Full)", "quarterly", "test_record_with_duration"),
        ("Point-in-Time-Recovery", "quarterly", "test_record_with_duration"),
        ("Anwendungs-Restore (komplett)", "semi_annual", "test_record_with_duration"),
        ("Failover-Test", "semi_annual", "test_record_with_duration"),
        ("Disaster Recovery (voll)", "annual", "full_dr_report"),
    ]
    rows = [
        (t.name.de, t.frequency.value, t.documentation.value)
        for t in policy.backups.recovery_tests.values()
    ]
    assert rows == expected


def test_four_severities_match_seed_classification(policy: Policy) -> None:
    # | Severity | Beschreibung | Reaktionszeit | Beispiel |
    expected = {
        "SEV-1": (
            1,
            "Kritisch",
            "Totalausfall oder Datenverlust",
            15 * MIN,
            ["Portal nicht erreichbar", "Daten kompromittiert"],
        ),
        "SEV-2": (
            2,
            "Hoch",
            "Wesentliche Funktionseinschränkung",
            30 * MIN,
            ["API-Sync für mehrere Maklerhäuser ausgefallen"],
        ),
        "SEV-3": (
            3,
            "Mittel",
            "Einzelne Funktion beeinträchtigt",
            2 * H,
            ["Report-Generierung fehlerhaft"],
        ),
        "SEV-4": (
            4,
            "Niedrig",
            "Kosmetisch oder Workaround vorhanden",
            "next_business_day",
            ["UI-Darstellungsfehler mit Workaround"],
        ),
    }
    actual = {
        key: (s.rank, s.name.de, s.description.de, s.reaction_time, [e.de for e in s.examples])
        for key, s in policy.incidents.severities.items()
    }
    assert actual == expected


def test_remediation_deployments_need_compliance_officer_for_sev1_and_sev2(policy: Policy) -> None:
    approvers = {
        key: [r.value for r in s.remediation_deploy_approvers]
        for key, s in policy.incidents.severities.items()
    }
    assert approvers == {
        "SEV-1": ["compliance_officer"],
        "SEV-2": ["compliance_officer"],
        "SEV-3": [],
        "SEV-4": [],
    }


def test_incident_phases_postmortem_and_dora_deadlines_match_seed(policy: Policy) -> None:
    inc = policy.incidents
    assert [p.name.de for p in inc.phases.values()] == [
        "Erkennung",
        "Eindämmung",
        "Analyse",
        "Behebung",
        "Nachbereitung",
    ]
    assert [len(p.steps) for p in inc.phases.values()] == [3, 3, 3, 3, 4]
    assert inc.postmortem.due_business_days == 5
    assert inc.dora.authority == "BaFin"
    assert inc.dora.initial_notification == 4 * H
    assert inc.dora.initial_notification_after_awareness == 24 * H
    assert inc.dora.intermediate_report == 72 * H
    assert inc.dora.final_report_months == 1
    assert [r.value for r in inc.dora.inform_immediately] == ["management"]


def test_escalation_rules_match_seed(policy: Policy) -> None:
    rules = policy.incidents.escalation_rules
    inform = {key: {r.value for r in rule.inform} for key, rule in rules.items()}
    assert inform == {
        "sev1_incident": {"devops", "oncall", "developer", "compliance_officer", "management"},
        "backup_test_failed": {"compliance_officer"},
        "security_gate_failing": {"security"},
        "capacity_limit": {"developer", "management"},
        "reportable_incident": {"compliance_officer", "management"},
        "certificate_expiry": {"compliance_officer"},
    }
    assert rules["sev1_incident"].severity == "SEV-1"
    assert rules["certificate_expiry"].metric == "certificate_expiry"


def test_three_change_categories_match_seed(policy: Policy) -> None:
    # | Kategorie | Genehmigung | Beispiel |
    cats = policy.changes.categories
    assert list(cats) == ["standard", "normal", "emergency"]
    assert cats["standard"].approval.value == "automatic"
    assert cats["standard"].approvers == []
    assert [e.de for e in cats["standard"].examples] == ["Dependency-Update ohne Breaking Change"]
    assert [r.value for r in cats["normal"].approvers] == ["compliance_officer"]
    assert [e.de for e in cats["normal"].examples] == ["Neues Feature", "API-Änderung"]
    emergency = cats["emergency"]
    assert emergency.approval.value == "retrospective"
    assert [r.value for r in emergency.approvers] == ["devops"]
    assert emergency.retrospective_deadline == 48 * H  # leitstand's default; the seed is silent
    assert [e.de for e in emergency.examples] == ["Hotfix für SEV-1 Incident"]
    assert [f.value for f in policy.changes.required_fields] == [
        "what",
        "why",
        "approved_by",
        "deployed_at",
        "rollback",
        "tests",
    ]
    assert policy.changes.four_eyes is True


def test_blue_green_canary_and_rollback_match_seed(policy: Policy) -> None:
    d = policy.deployment
    assert d.default_strategy.value == "blue_green"
    assert d.blue_green.max_rollback_time == 60 * S
    assert d.blue_green.health_checks_before_switch is True
    assert d.blue_green.keep_previous_for_rollback is True
    assert d.canary.steps == [5, 25, 50, 100]
    assert d.canary.analysis_window == 15 * MIN
    assert d.canary.rollback_on_anomaly is True
    assert d.automatic_rollback.on_health_check_failure is True
    assert [r.value for r in d.automatic_rollback.notify] == ["devops", "developer"]
    assert d.automatic_rollback.record_in_change_log is True
    assert [r.value for r in d.manual_rollback.deciders] == ["devops", "compliance_officer"]
    assert len(d.manual_rollback.steps) == 6
    assert d.manual_rollback.root_cause_analysis_within == 24 * H
    assert d.database_rollback.rollback_script_required is True
    assert d.database_rollback.snapshot_before_migration is True
    assert d.database_rollback.rollback_test_in_pipeline is True
    flags = d.feature_flags
    assert flags.new_features_behind_flags and flags.per_tenant_activation
    assert flags.remove_after_full_rollout is True
    assert set(flags.lifetimes) == {"release", "experiment", "operational", "permission"}


def test_pipeline_gate_values_match_seed(policy: Policy) -> None:
    p = policy.pipeline
    assert p.build.compile and p.build.resolve_dependencies and p.build.generate_sbom
    assert p.test.min_coverage == 80
    assert p.test.tenant_isolation_tests is True
    assert p.test.max_accessibility_violations == 0
    assert p.security.block_cvss_from == 7.0
    assert p.security.max_secret_findings == 0
    assert p.security.forbidden_licences == ["GPL-*", "AGPL-*"]
    assert p.security.max_container_critical_findings == 0
    assert [r.value for r in p.compliance.approvers] == ["compliance_officer"]
    assert p.compliance.change_log_required and p.compliance.documentation_complete
    assert p.deployment.staging.value == "automatic"
    assert p.deployment.production.value == "manual_approval"
    assert p.deployment.rollback_on_health_check_failure is True
    stages = [p.build, p.test, p.security, p.compliance]
    assert all(stage.stop_on_failure for stage in stages)  # "Fail = Stop"


def test_six_log_retentions_match_seed(policy: Policy) -> None:
    # | Log-Typ | Aufbewahrung | Begründung |
    expected = {
        "audit": (5 * YEAR, "DORA + handelsrechtliche Aufbewahrungspflicht"),
        "security": (3 * YEAR, "BSI-Grundschutz, DORA Art. 9"),
        "application": (90 * D, "Fehleranalyse"),
        "access": (90 * D, "Fehleranalyse, Security"),
        "performance": (1 * YEAR, "Kapazitätsplanung (DORA Art. 11)"),
        "debug": (14 * D, "Nur Staging/Dev, nie Produktion"),
    }
    actual = {k: (t.period, t.reason.de) for k, t in policy.logs.retention.items()}
    assert actual == expected
    assert policy.logs.retention["debug"].environments == ["development", "staging"]
    logs = policy.logs
    assert all(
        [
            logs.centralised,
            logs.structured_json,
            logs.correlation_id,
            logs.no_pii,
            logs.tamper_protection,
            logs.automatic_rotation,
        ]
    )


def test_three_environments_match_seed(policy: Policy) -> None:
    # | Umgebung | Zweck | Daten | Zugang |
    expected = {
        "development": ("Entwicklung + Debugging", "synthetic", ["developer"], False, False),
        "staging": (
            "Integration + Akzeptanztests",
            "anonymised_copy",
            ["developer", "qa"],
            False,
            False,
        ),
        "production": ("Live-Betrieb", "real", [], True, True),
    }
    actual = {
        k: (e.purpose.de, e.data.value, [r.value for r in e.access], e.pipeline_only, e.production)
        for k, e in policy.environments.items()
    }
    assert actual == expected


def test_hardening_baselines_match_seed(policy: Policy) -> None:
    host = [i.title.de for i in policy.hardening.host.values()]
    assert host == [
        "OS-Härtung",
        "SSH-Härtung",
        "Firewall",
        "Automatische Sicherheitsupdates",
        "Festplattenverschlüsselung",
        "Audit-Logging",
        "NTP-Synchronisation",
        "Fail2ban",
    ]
    container = [i.title.de for i in policy.hardening.container.values()]
    assert container == [
        "Base Images",
        "Image-Scanning",
        "Image-Signing",
        "Non-Root",
        "Read-Only Filesystem",
        "Resource Limits",
        "No Latest Tag",
        "Private Registry",
        "Secret-Injection",
    ]
    assert policy.hardening.host["disk_encryption"].description.de == "LUKS auf allen Datenträgern"
    scan = policy.hardening.image_scanning
    assert (scan.tool, scan.max_critical, scan.max_high) == ("trivy", 0, 0)


def test_game_days_match_seed(policy: Policy) -> None:
    g = policy.gamedays
    assert g.frequency.value == "quarterly"
    assert g.regulation == "DORA Art. 24-27"
    assert g.environments == ["staging", "production"]
    assert g.production_requires_warning is True
    assert (g.min_duration, g.max_duration) == (2 * H, 4 * H)
    assert {r.value for r in g.participants} == {"devops", "developer", "qa"}
    assert [r.value for r in g.report_to] == ["compliance_officer"]
    assert [r.value for r in g.production_approvers] == ["management"]


def test_five_dashboards_and_tools_match_seed(policy: Policy) -> None:
    # | Dashboard | Inhalt | Zielgruppe |
    expected = {
        "system_overview": (
            "System Overview",
            "CPU, Memory, Disk, Network aller Server",
            ["devops"],
        ),
        "application_health": (
            "Application Health",
            "Request-Rate, Error-Rate, Latenz pro Service",
            ["devops", "developer"],
        ),
        "business_metrics": (
            "Business Metrics",
            "Vertragsverarbeitung, API-Sync, Batch-Jobs",
            ["devops", "product_owner"],
        ),
        "security": (
            "Security",
            "Failed Logins, Rate Limits, Certificate Expiry",
            ["devops", "security"],
        ),
        "tenants": ("Mandanten", "Health-Status pro Maklerhaus (40+)", ["devops"]),
    }
    actual = {
        k: (d.title.de, d.content.de, [r.value for r in d.audience])
        for k, d in policy.observability.dashboards.items()
    }
    assert actual == expected
    tools = {k: t.tools for k, t in policy.observability.tools.items()}
    assert tools == {
        "metrics": ["Prometheus", "Grafana"],
        "logs": ["Loki"],
        "traces": ["OpenTelemetry", "Jaeger"],
        "alerting": ["Alertmanager (Prometheus)"],
        "dashboards": ["Grafana"],
        "uptime": ["Prometheus Blackbox Exporter"],  # the seed: "[BITTE ERGÄNZEN]"
    }


def test_nine_handover_items_and_eight_runbook_sections_match_seed(policy: Policy) -> None:
    items = [i.text.de for i in policy.handover_checklist.values()]
    assert items == [
        "Deployment erfolgreich auf Produktion",
        "Health-Checks bestanden",
        "Monitoring für neue Komponenten aktiv",
        "Alerting-Regeln konfiguriert",
        "Backup umfasst neue Daten/Komponenten",
        "Betriebshandbuch aktualisiert",
        "Change-Log-Eintrag erstellt",
        "Post-Deployment-Verification abgeschlossen",
        "Technical Writer hat Deployment-Verfahren und Betriebshandbuch für Dokumentation erhalten",
    ]
    assert [s.title.de for s in policy.runbook.values()] == [
        "Systemübersicht",
        "Kontakte und Eskalation",
        "Deployment",
        "Monitoring",
        "Backup & Recovery",
        "Incident Response",
        "Wartung",
        "Troubleshooting",
    ]
    assert all(len(s.items) == 3 for s in policy.runbook.values())


def test_example_tenants_are_clearly_fictional(policy: Policy) -> None:
    assert 3 <= len(policy.tenants) <= 5
    for key, tenant in policy.tenants.items():
        assert key.startswith("example-")
        assert tenant.name.startswith("Beispiel ")
        assert tenant.example is True
        assert tenant.contact is not None and tenant.contact.endswith(".example")


def test_evidence_settings_have_leitstands_defaults(policy: Policy) -> None:
    e = policy.evidence
    assert e.origin == "leitstand"
    assert e.checkpoint_copy_every_entries == 100
    assert e.checkpoint_copy_interval == 60 * S
    assert e.checkpoint_copy_dir is None


def test_every_role_in_the_defaults_is_an_auth_role(policy: Policy) -> None:
    allowed = {
        "devops",
        "developer",
        "oncall",
        "compliance_officer",
        "security",
        "qa",
        "product_owner",
        "management",
        "auditor",
    }
    assert {r.value for r in Role} == allowed
    # "Mario" in the seed is the role management, never a name in the data.
    assert "mario" not in policy.model_dump_json().lower()


def test_policy_roles_are_the_auth_roles() -> None:
    auth = pytest.importorskip("leitstand.auth.model")
    assert [r.value for r in Role] == [r.value for r in auth.Role]
