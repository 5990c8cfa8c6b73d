"""The policy as Markdown: the seed's tables, with German headings by default or English ones."""

from __future__ import annotations

from leitstand.policy.labels import frequency_label, human_duration, label, roles_label
from leitstand.policy.markdown_ops import operations_sections
from leitstand.policy.mdutil import Words, table, texts
from leitstand.policy.model import Policy
from leitstand.policy.monitoring import (
    BatchJobMetric,
    Direction,
    MetricCategory,
    MetricPolicy,
    MetricUnit,
)
from leitstand.policy.values import number

__all__ = ["render_markdown"]

_UNIT_WORDS: dict[MetricUnit, tuple[str, str]] = {
    MetricUnit.PERCENT: ("{op} {n}%", "{op} {n}%"),
    MetricUnit.PERCENT_OF_POOL: ("{op} {n}% Pool", "{op} {n}% of pool"),
    MetricUnit.PERCENT_OF_REQUESTS: ("{op} {n}% Requests", "{op} {n}% of requests"),
    MetricUnit.PERCENT_DROP: ("{op} {n}%", "{op} {n}%"),
    MetricUnit.PERCENT_SUCCESS: ("{op} {n}% Erfolg", "{op} {n}% success"),
    MetricUnit.MILLISECONDS: ("{op} {n}ms", "{op} {n}ms"),
    MetricUnit.COUNT: ("{op} {n}", "{op} {n}"),
    MetricUnit.PER_MINUTE: ("{op} {n}/min", "{op} {n}/min"),
    MetricUnit.PER_MINUTE_PER_IP: ("{op} {n}/min pro IP", "{op} {n}/min per IP"),
    MetricUnit.DAYS: ("{op} {n} Tage", "{op} {n} days"),
    MetricUnit.BROKER_HOUSES: ("Fehler {op} {n} Häuser", "failures {op} {n} houses"),
}
_CATEGORY_WORDS = {
    MetricCategory.INFRASTRUCTURE: ("Infrastruktur", "Infrastructure"),
    MetricCategory.APPLICATION: ("Anwendung", "Application"),
    MetricCategory.SECURITY: ("Security", "Security"),
    MetricCategory.BUSINESS: ("Business", "Business"),
}


def _thresholds(metric: MetricPolicy, lang: str) -> tuple[str, str]:
    en = lang == "en"
    if isinstance(metric, BatchJobMetric):
        factor = number(metric.warning_runtime_factor)
        warning = f"{factor}× " + ("normal runtime" if en else "Normalzeit")
        critical = (
            ("Not started" if en else "Nicht gestartet")
            if metric.critical_when_not_started
            else "–"
        )
        return warning, critical
    op = ">" if metric.direction is Direction.ABOVE else "<"
    pattern = _UNIT_WORDS[metric.unit][1 if en else 0]
    return (
        pattern.format(op=op, n=number(metric.warning)),
        pattern.format(op=op, n=number(metric.critical)),
    )


def _services(policy: Policy, lang: str, w: Words) -> list[str]:
    rows = [
        [
            (s.name_en or s.name) if lang == "en" else s.name,
            human_duration(s.rto, lang),
            human_duration(s.rpo, lang),
            label(s.priority, lang),
        ]
        for s in policy.services.values()
    ]
    out = [w("## Recovery Objectives", "## Recovery objectives"), ""]
    out += table(["System", "RTO", "RPO", w("Priorität", "Priority")], rows)
    out += [w("## Mandanten", "## Tenants"), ""]
    tenant_rows = [
        [
            t.name + (w(" (Beispiel)", " (example)") if t.example else ""),
            t.contact or "–",
            ", ".join(t.services) or "–",
        ]
        for t in policy.tenants.values()
    ]
    out += table(
        [w("Mandant", "Tenant"), w("Kontakt", "Contact"), w("Systeme", "Systems")], tenant_rows
    )
    return out


def _monitoring(policy: Policy, lang: str, w: Words) -> list[str]:
    out = [w("## Monitoring & Alerting", "## Monitoring & alerting"), ""]
    out += [w("### Pflicht-Metriken", "### Mandatory metrics"), ""]
    for category in MetricCategory:
        metrics = [m for m in policy.monitoring.metrics.values() if m.category is category]
        if not metrics:
            continue
        out += [f"**{w(*_CATEGORY_WORDS[category])}:**", ""]
        rows = [
            [m.name.get(lang), *_thresholds(m, lang), human_duration(m.interval, lang)]
            for m in metrics
        ]
        headers = [w("Metrik", "Metric"), w("Warnung", "Warning"), w("Kritisch", "Critical")]
        out += table([*headers, w("Intervall", "Interval")], rows)
    alerting = policy.alerting
    out += [w("### Alerting-Eskalation", "### Alert escalation"), ""]
    rows = []
    for level in sorted(alerting.levels.values(), key=lambda lv: lv.level):
        escalation = "–"
        if level.escalate_to and level.escalate_when_unacknowledged:
            target = alerting.levels[level.escalate_to]
            escalation = w(
                f"nicht acknowledged in {human_duration(alerting.ack_timeout, lang)} → Level "
                f"{target.level}",
                f"not acknowledged in {human_duration(alerting.ack_timeout, lang)} → level "
                f"{target.level}",
            )
        rows.append(
            [
                f"{level.level} – {level.name.get(lang)}",
                roles_label(level.notify, lang),
                ", ".join(c.value for c in level.channels),
                human_duration(level.action_deadline, lang),
                escalation,
            ]
        )
    out += table(
        [
            "Level",
            w("Benachrichtigung", "Notified"),
            w("Kanäle", "Channels"),
            w("Aktion", "Action"),
            w("Eskalation", "Escalation"),
        ],
        rows,
    )
    dedup = human_duration(alerting.dedup_window, lang)
    out += [
        w("**Regeln:**", "**Rules:**"),
        "",
        w("- Jeder Alert muss actionable sein", "- Every alert must be actionable")
        if alerting.require_actionable
        else w("- Alerts müssen nicht actionable sein", "- Alerts need not be actionable"),
        w(
            f"- Gleiche Alerts innerhalb {dedup} deduplizieren",
            f"- Deduplicate identical alerts within {dedup}",
        ),
        w("- Jeder Alert im Incident-Log erfasst", "- Every alert recorded in the incident log")
        if alerting.record_every_alert
        else w("- Alerts werden nicht erfasst", "- Alerts are not recorded"),
        "",
    ]
    return out


def _backups(policy: Policy, lang: str, w: Words) -> list[str]:
    b = policy.backups
    out = [w("## Backup & Recovery (DORA Art. 11)", "## Backup & recovery (DORA Art. 11)"), ""]
    out += [w("### Backup-Schedule", "### Backup schedule"), ""]
    rows = [
        [
            r.name.get(lang),
            label(r.method, lang),
            frequency_label(r.frequency, lang),
            human_duration(r.retention, lang),
            r.encryption.value,
            label(r.location, lang),
        ]
        for r in b.schedule.values()
    ]
    out += table(
        [
            w("Daten", "Data"),
            w("Methode", "Method"),
            w("Frequenz", "Frequency"),
            w("Aufbewahrung", "Retention"),
            w("Verschlüsselt", "Encrypted"),
            w("Standort", "Location"),
        ],
        rows,
    )
    out += [w(f"Zeitzone: {b.timezone}", f"Time zone: {b.timezone}"), ""]
    out += [w("### Recovery-Tests (Pflicht)", "### Recovery tests (mandatory)"), ""]
    rows = [
        [t.name.get(lang), label(t.frequency, lang), label(t.documentation, lang)]
        for t in b.recovery_tests.values()
    ]
    out += table(["Test", w("Frequenz", "Frequency"), w("Dokumentation", "Documentation")], rows)
    return out


def _incidents(policy: Policy, lang: str, w: Words) -> list[str]:
    inc = policy.incidents
    out = [w("## Incident Response (DORA Art. 17-19)", "## Incident response (DORA Art. 17-19)")]
    out += ["", w("### Incident-Klassifizierung", "### Incident classification"), ""]
    rows = [
        [
            f"{key} ({s.name.get(lang)})",
            s.description.get(lang),
            human_duration(s.reaction_time, lang),
            texts(s.examples, lang),
        ]
        for key, s in sorted(inc.severities.items(), key=lambda kv: kv[1].rank)
    ]
    out += table(
        [
            "Severity",
            w("Beschreibung", "Description"),
            w("Reaktionszeit", "Reaction time"),
            w("Beispiel", "Example"),
        ],
        rows,
    )
    out += [w("### Incident-Response-Prozess", "### Incident response process"), ""]
    for index, phase in enumerate(inc.phases.values(), start=1):
        out.append(f"{index}. **{phase.name.get(lang)}**")
        out += [f"   - {step.get(lang)}" for step in phase.steps]
    dora = inc.dora
    months = dora.final_report_months
    out += [
        "",
        w("### DORA-Meldepflicht (Art. 19)", "### DORA reporting (Art. 19)"),
        "",
        w(
            f"- Erstmeldung an {dora.authority} innerhalb von "
            f"{human_duration(dora.initial_notification, lang)} nach Einstufung, spätestens "
            f"{human_duration(dora.initial_notification_after_awareness, lang)} nach Kenntnis",
            f"- Initial notification to {dora.authority} within "
            f"{human_duration(dora.initial_notification, lang)} of classification, at the latest "
            f"{human_duration(dora.initial_notification_after_awareness, lang)} after awareness",
        ),
        w(
            f"- Zwischenmeldung innerhalb von {human_duration(dora.intermediate_report, lang)} "
            "nach der Erstmeldung",
            f"- Intermediate report within {human_duration(dora.intermediate_report, lang)} "
            "of the initial notification",
        ),
        w(
            f"- Abschlussmeldung innerhalb von {months} "
            + ("Monat" if months == 1 else "Monaten")
            + " nach der letzten Zwischenmeldung",
            f"- Final report within {months} "
            + ("month" if months == 1 else "months")
            + " of the latest intermediate report",
        ),
        w(
            f"- Sofort informieren: {roles_label(dora.inform_immediately, lang)}",
            f"- Inform at once: {roles_label(dora.inform_immediately, lang)}",
        ),
        w(
            "- DSGVO Art. 33: Meldung innerhalb von "
            + human_duration(dora.gdpr_notification, lang),
            f"- GDPR Art. 33: notify within {human_duration(dora.gdpr_notification, lang)}",
        ),
        w(
            f"- Post-Mortem innerhalb von {inc.postmortem.due_business_days} Arbeitstagen",
            f"- Post-mortem within {inc.postmortem.due_business_days} business days",
        ),
        "",
        w("### Eskalationsregeln", "### Escalation rules"),
        "",
    ]
    rows = [
        [r.trigger.get(lang), texts(r.actions, lang, "; "), roles_label(r.inform, lang)]
        for r in inc.escalation_rules.values()
    ]
    out += table(
        [w("Auslöser", "Trigger"), w("Maßnahmen", "Actions"), w("Informieren", "Inform")], rows
    )
    return out


def render_markdown(policy: Policy, lang: str = "de") -> str:
    """Render the policy's tables as Markdown."""

    def w(de: str, en: str) -> str:
        return en if lang == "en" else de

    out = [w("# Betriebsrichtlinie", "# Operations policy"), ""]
    for part in (_services, _monitoring, _backups, _incidents):
        out += part(policy, lang, w)
    out += operations_sections(policy, lang, w)
    return "\n".join(out).rstrip() + "\n"
