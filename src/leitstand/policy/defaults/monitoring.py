"""Defaults from the seed's "Monitoring & Alerting" and "Observability Stack" sections."""

from __future__ import annotations

from leitstand.policy.base import Role
from leitstand.policy.defaults._helpers import minutes, seconds, t
from leitstand.policy.monitoring import (
    AlertingPolicy,
    BatchJobMetric,
    Channel,
    Dashboard,
    Direction,
    EscalationLevel,
    MetricCategory,
    MetricPolicy,
    MetricUnit,
    MonitoringPolicy,
    ObservabilityPolicy,
    ObservabilityTool,
    ThresholdMetric,
)

__all__ = ["alerting", "monitoring", "observability"]

_INFRA, _APP = MetricCategory.INFRASTRUCTURE, MetricCategory.APPLICATION
_SEC, _BIZ = MetricCategory.SECURITY, MetricCategory.BUSINESS
_ABOVE, _BELOW = Direction.ABOVE, Direction.BELOW
U = MetricUnit


def _m(
    de: str,
    en: str,
    category: MetricCategory,
    unit: MetricUnit,
    warning: float,
    critical: float,
    interval_s: int,
    direction: Direction = _ABOVE,
) -> ThresholdMetric:
    return ThresholdMetric(
        name=t(de, en),
        category=category,
        direction=direction,
        unit=unit,
        warning=warning,
        critical=critical,
        interval=seconds(interval_s),
    )


def monitoring() -> MonitoringPolicy:
    """The 17 mandatory metrics ("Pflicht-Metriken")."""
    metrics: dict[str, MetricPolicy] = {
        # Infrastruktur
        "cpu": _m("CPU", "CPU", _INFRA, U.PERCENT, 70, 90, 30),
        "memory": _m("Memory", "Memory", _INFRA, U.PERCENT, 75, 90, 30),
        "disk": _m("Disk", "Disk", _INFRA, U.PERCENT, 70, 85, 60),
        "disk_io_latency": _m(
            "Disk I/O Latenz", "Disk I/O latency", _INFRA, U.MILLISECONDS, 10, 50, 30
        ),
        "network_latency": _m(
            "Netzwerk-Latenz", "Network latency", _INFRA, U.MILLISECONDS, 100, 500, 30
        ),
        # Anwendung
        "http_5xx_rate": _m("HTTP 5xx Rate", "HTTP 5xx rate", _APP, U.PERCENT, 1, 5, 30),
        "response_time_p95": _m(
            "Response Time P95", "Response time P95", _APP, U.MILLISECONDS, 500, 2000, 30
        ),
        "request_rate_drop": _m(
            "Request Rate Drop", "Request rate drop", _APP, U.PERCENT_DROP, 30, 50, 60
        ),
        "db_connections": _m(
            "Active DB Connections",
            "Active DB connections",
            _APP,
            U.PERCENT_OF_POOL,
            70,
            90,
            30,
        ),
        "queue_depth": _m("Queue Depth", "Queue depth", _APP, U.COUNT, 100, 500, 30),
        # Security
        "failed_logins": _m(
            "Failed Logins", "Failed logins", _SEC, U.PER_MINUTE_PER_IP, 10, 50, 30
        ),
        "failed_api_auth": _m(
            "Failed API Auth", "Failed API auth", _SEC, U.PERCENT_OF_REQUESTS, 5, 10, 30
        ),
        "rate_limit_hits": _m(
            "Rate Limit Hits", "Rate limit hits", _SEC, U.PER_MINUTE, 100, 500, 30
        ),
        "certificate_expiry": _m(
            "Certificate Expiry", "Certificate expiry", _SEC, U.DAYS, 30, 7, 24 * 3600, _BELOW
        ),
        # Business
        "contract_processing": _m(
            "Vertragsverarbeitung",
            "Contract processing",
            _BIZ,
            U.PERCENT_SUCCESS,
            90,
            80,
            300,
            _BELOW,
        ),
        "broker_api_sync": _m(
            "API-Sync Maklerhäuser",
            "Broker house API sync",
            _BIZ,
            U.BROKER_HOUSES,
            2,
            5,
            300,
        ),
        "batch_jobs": BatchJobMetric(
            name=t("Batch-Jobs", "Batch jobs"),
            category=_BIZ,
            warning_runtime_factor=2,
            critical_when_not_started=True,
            interval=minutes(5),
        ),
    }
    return MonitoringPolicy(metrics=metrics)


def alerting() -> AlertingPolicy:
    """The three escalation levels and the alerting rules ("Alerting-Eskalation")."""
    return AlertingPolicy(
        levels={
            "warning": EscalationLevel(
                level=1,
                name=t("Warnung", "Warning"),
                notify=[Role.DEVOPS],
                channels=[Channel.SLACK, Channel.EMAIL],
                action_deadline="next_opportunity",
                document_automatically=True,
                start_incident_response=False,
                escalate_when_unacknowledged=False,
            ),
            # The seed names channels only for level 1; paging the on-call person is
            # leitstand's default for levels 2 and 3.
            "critical": EscalationLevel(
                level=2,
                name=t("Kritisch", "Critical"),
                notify=[Role.DEVOPS, Role.ONCALL],
                channels=[Channel.SLACK, Channel.EMAIL, Channel.PAGER],
                action_deadline=minutes(15),
                document_automatically=True,
                start_incident_response=False,
                escalate_when_unacknowledged=True,
                escalate_to="outage",
            ),
            "outage": EscalationLevel(
                level=3,
                name=t("Ausfall", "Outage"),
                notify=[Role.DEVOPS, Role.DEVELOPER, Role.MANAGEMENT],
                channels=[Channel.SLACK, Channel.EMAIL, Channel.PAGER],
                action_deadline="immediately",
                document_automatically=True,
                start_incident_response=True,
                escalate_when_unacknowledged=False,
            ),
        },
        ack_timeout=minutes(15),
        dedup_window=minutes(5),
        require_actionable=True,
        record_every_alert=True,
    )


def observability() -> ObservabilityPolicy:
    """The mandatory tools ("Verbindliche Tools") and dashboards ("Pflicht-Dashboards")."""
    return ObservabilityPolicy(
        tools={
            "metrics": ObservabilityTool(
                area=t("Metrics", "Metrics"),
                tools=["Prometheus", "Grafana"],
                purpose=t(
                    "Infrastruktur- und Anwendungsmetriken",
                    "Infrastructure and application metrics",
                ),
            ),
            "logs": ObservabilityTool(
                area=t("Logs", "Logs"),
                tools=["Loki"],
                alternatives=["ELK"],
                purpose=t("Zentralisiertes Log-Management", "Centralised log management"),
            ),
            "traces": ObservabilityTool(
                area=t("Traces", "Traces"),
                tools=["OpenTelemetry", "Jaeger"],
                purpose=t(
                    "Distributed Tracing über Services", "Distributed tracing across services"
                ),
            ),
            "alerting": ObservabilityTool(
                area=t("Alerting", "Alerting"),
                tools=["Alertmanager (Prometheus)"],
                purpose=t("Eskalation nach Level 1/2/3", "Escalation by level 1/2/3"),
            ),
            "dashboards": ObservabilityTool(
                area=t("Dashboards", "Dashboards"),
                tools=["Grafana"],
                purpose=t(
                    "Übersichts-Dashboards pro Service und Mandant",
                    "Overview dashboards per service and tenant",
                ),
            ),
            # The seed leaves the uptime tool open ("[BITTE ERGÄNZEN]"); leitstand's answer is
            # the blackbox exporter in the managed stack (monitoring.probes, docs/probes.md).
            "uptime": ObservabilityTool(
                area=t("Uptime", "Uptime"),
                tools=["Prometheus Blackbox Exporter"],
                purpose=t("Externe Verfügbarkeitsprüfung", "External availability check"),
            ),
        },
        dashboards={
            "system_overview": Dashboard(
                title=t("System Overview", "System overview"),
                content=t(
                    "CPU, Memory, Disk, Network aller Server",
                    "CPU, memory, disk, network of all servers",
                ),
                audience=[Role.DEVOPS],
            ),
            "application_health": Dashboard(
                title=t("Application Health", "Application health"),
                content=t(
                    "Request-Rate, Error-Rate, Latenz pro Service",
                    "Request rate, error rate, latency per service",
                ),
                audience=[Role.DEVOPS, Role.DEVELOPER],
            ),
            "business_metrics": Dashboard(
                title=t("Business Metrics", "Business metrics"),
                content=t(
                    "Vertragsverarbeitung, API-Sync, Batch-Jobs",
                    "Contract processing, API sync, batch jobs",
                ),
                audience=[Role.DEVOPS, Role.PRODUCT_OWNER],
            ),
            "security": Dashboard(
                title=t("Security", "Security"),
                content=t(
                    "Failed Logins, Rate Limits, Certificate Expiry",
                    "Failed logins, rate limits, certificate expiry",
                ),
                audience=[Role.DEVOPS, Role.SECURITY],
            ),
            "tenants": Dashboard(
                title=t("Mandanten", "Tenants"),
                content=t(
                    "Health-Status pro Maklerhaus (40+)", "Health status per broker house (40+)"
                ),
                audience=[Role.DEVOPS],
                # Support has no leitstand role; it reads the dashboard without one.
                audience_note=t("Support", "Support"),
            ),
        },
    )
