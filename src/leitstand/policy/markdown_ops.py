"""Markdown for changes, deployment, pipeline, logs, baselines, observability and manuals."""

from __future__ import annotations

from typing import TYPE_CHECKING

from leitstand.policy.labels import human_duration, label, roles_label
from leitstand.policy.mdutil import Words, table, texts
from leitstand.policy.values import number

if TYPE_CHECKING:
    from leitstand.policy.model import Policy

__all__ = ["operations_sections"]


def _env_name(policy: Policy, key: str, lang: str) -> str:
    env = policy.environments.get(key)
    return env.name.get(lang) if env is not None else key


def _yes(flag: bool, w: Words) -> str:
    return w("ja", "yes") if flag else w("nein", "no")


def _changes(policy: Policy, lang: str, w: Words) -> list[str]:
    ch = policy.changes
    out = ["## Change Management", "", w("### Änderungskategorien", "### Change categories"), ""]
    rows = []
    for category in ch.categories.values():
        approval = label(category.approval, lang)
        if category.approvers:
            approval = f"{roles_label(category.approvers, lang)} ({approval})"
        if category.retrospective_approvers and category.retrospective_deadline is not None:
            approval += w(
                f"; nachträglich: {roles_label(category.retrospective_approvers, lang)} "
                f"innerhalb {human_duration(category.retrospective_deadline, lang)}",
                f"; afterwards: {roles_label(category.retrospective_approvers, lang)} within "
                f"{human_duration(category.retrospective_deadline, lang)}",
            )
        rows.append([category.name.get(lang), approval, texts(category.examples, lang)])
    out += table(
        [w("Kategorie", "Category"), w("Genehmigung", "Approval"), w("Beispiel", "Example")], rows
    )
    out += [w("### Change-Dokumentation", "### Change documentation"), ""]
    out += [f"- {label(field, lang)}" for field in ch.required_fields]
    out += ["", w("Vier-Augen-Prinzip", "Four-eyes rule") + f": {_yes(ch.four_eyes, w)}", ""]
    return out


def _deployment(policy: Policy, lang: str, w: Words) -> list[str]:
    d = policy.deployment
    steps = " → ".join(f"{number(s)}%" for s in d.canary.steps)
    lifetimes = ", ".join(
        f"{kind}: {human_duration(value, lang)}"
        for kind, value in d.feature_flags.lifetimes.items()
    )
    out = [w("## Deployment-Strategien", "## Deployment strategies"), ""]
    out += [
        w("- Standard: ", "- Default: ") + label(d.default_strategy, lang),
        w("- Blue-Green: Rollback-Zeit < ", "- Blue-green: rollback time < ")
        + human_duration(d.blue_green.max_rollback_time, lang),
        w("- Canary: ", "- Canary: ")
        + steps
        + w(", Monitoring je Stufe ", ", monitoring per step ")
        + human_duration(d.canary.analysis_window, lang),
        w("- Automatischer Rollback benachrichtigt: ", "- Automatic rollback notifies: ")
        + roles_label(d.automatic_rollback.notify, lang),
        w("- Manueller Rollback entschieden von: ", "- Manual rollback decided by: ")
        + roles_label(d.manual_rollback.deciders, lang),
        w("- Feature-Flag-Lebensdauer: ", "- Feature flag lifetimes: ") + lifetimes,
        "",
        w("**Manueller Rollback:**", "**Manual rollback:**"),
        "",
    ]
    out += [f"{i}. {step.get(lang)}" for i, step in enumerate(d.manual_rollback.steps, start=1)]
    return [*out, ""]


def _pipeline(policy: Policy, lang: str, w: Words) -> list[str]:
    p = policy.pipeline
    sec = p.security
    rows = [
        ["1 BUILD", w("kompiliert, Dependencies aufgelöst, SBOM", "builds, dependencies, SBOM")],
        [
            "2 TEST",
            w(
                f"Unit Tests (≥ {number(p.test.min_coverage)}% Coverage), Integration, "
                f"Mandantenisolation, axe-core ≤ {p.test.max_accessibility_violations} Violations",
                f"unit tests (≥ {number(p.test.min_coverage)}% coverage), integration, tenant "
                f"isolation, axe-core ≤ {p.test.max_accessibility_violations} violations",
            ),
        ],
        [
            "3 SECURITY",
            w(
                f"keine CVE mit CVSS ≥ {number(sec.block_cvss_from)}; Secrets ≤ "
                f"{sec.max_secret_findings}; verbotene Lizenzen {', '.join(sec.forbidden_licences)}"
                f"; Container Critical ≤ {sec.max_container_critical_findings}",
                f"no CVE with CVSS ≥ {number(sec.block_cvss_from)}; secrets ≤ "
                f"{sec.max_secret_findings}; forbidden licences {', '.join(sec.forbidden_licences)}"
                f"; container critical ≤ {sec.max_container_critical_findings}",
            ),
        ],
        [
            "4 COMPLIANCE",
            w("Freigabe: ", "approval: ")
            + roles_label(p.compliance.approvers, lang)
            + w(", Änderungsprotokoll, Dokumentation", ", change log, documentation"),
        ],
        [
            "5 DEPLOYMENT",
            f"Staging: {label(p.deployment.staging, lang)}; "
            + w("Produktion: ", "production: ")
            + f"{label(p.deployment.production, lang)} "
            f"({roles_label(p.deployment.production_approvers, lang)})",
        ],
    ]
    out = [w("## CI/CD-Pipeline (Quality Gates)", "## CI/CD pipeline (quality gates)"), ""]
    return out + table(["Stage", w("Prüfungen", "Checks")], rows)


def _logs_and_environments(policy: Policy, lang: str, w: Words) -> list[str]:
    out = [w("## Log-Management", "## Log management"), ""]
    rows = [
        [t.name.get(lang), human_duration(t.period, lang), t.reason.get(lang)]
        for t in policy.logs.retention.values()
    ]
    out += table(
        [w("Log-Typ", "Log type"), w("Aufbewahrung", "Retention"), w("Begründung", "Reason")], rows
    )
    out += [
        w("Zugriff auf Logs: ", "Log access: ") + roles_label(policy.logs.access_roles, lang),
        "",
    ]
    out += [w("## Umgebungen", "## Environments"), ""]
    rows = [
        [
            e.name.get(lang),
            e.purpose.get(lang),
            label(e.data, lang),
            w("Nur über Pipeline", "Pipeline only")
            if e.pipeline_only
            else roles_label(e.access, lang),
        ]
        for e in policy.environments.values()
    ]
    out += table(
        [
            w("Umgebung", "Environment"),
            w("Zweck", "Purpose"),
            w("Daten", "Data"),
            w("Zugang", "Access"),
        ],
        rows,
    )
    out += [w("### Infrastructure as Code", "### Infrastructure as code"), ""]
    out += [
        f"- **{p.title.get(lang)}:** {p.description.get(lang)}"
        for p in policy.infrastructure_as_code.principles.values()
    ]
    return [*out, ""]


def _baselines(policy: Policy, lang: str, w: Words) -> list[str]:
    h = policy.hardening
    head = [w("Maßnahme", "Measure"), w("Beschreibung", "Description")]
    out = [w("## Härtung", "## Hardening") + f" ({h.standard})", ""]
    out += table(head, [[i.title.get(lang), i.description.get(lang)] for i in h.host.values()])
    out += [w("### Container Security", "### Container security"), ""]
    out += table(head, [[i.title.get(lang), i.description.get(lang)] for i in h.container.values()])
    g = policy.gamedays
    rows = [
        [w("Frequenz", "Frequency"), f"{label(g.frequency, lang)} ({g.regulation})"],
        [
            w("Umgebung", "Environment"),
            " → ".join(_env_name(policy, e, lang) for e in g.environments),
        ],
        [
            w("Dauer", "Duration"),
            f"{human_duration(g.min_duration, lang)}–{human_duration(g.max_duration, lang)}",
        ],
        [w("Teilnehmer", "Participants"), roles_label(g.participants, lang)],
        [
            w("Dokumentation", "Documentation"),
            "Game Day Report → " + roles_label(g.report_to, lang),
        ],
        [
            w("Genehmigung Produktion", "Production approval"),
            roles_label(g.production_approvers, lang),
        ],
    ]
    out += [w("## Game Days", "## Game days"), ""]
    return out + table([w("Aspekt", "Aspect"), w("Vorgabe", "Rule")], rows)


def _observability(policy: Policy, lang: str, w: Words) -> list[str]:
    o = policy.observability
    out = [w("## Observability Stack", "## Observability stack"), ""]
    rows = []
    for tool in o.tools.values():
        name = " + ".join(tool.tools) or w("[BITTE ERGÄNZEN]", "[to be decided]")
        if tool.alternatives:
            name += w(" (oder ", " (or ") + ", ".join(tool.alternatives) + ")"
        rows.append([tool.area.get(lang), name, tool.purpose.get(lang)])
    out += table([w("Bereich", "Area"), "Tool", w("Zweck", "Purpose")], rows)
    rows = []
    for dash in o.dashboards.values():
        audience = roles_label(dash.audience, lang)
        if dash.audience_note is not None:
            audience += " + " + dash.audience_note.get(lang)
        rows.append([dash.title.get(lang), dash.content.get(lang), audience])
    out += [w("### Pflicht-Dashboards", "### Mandatory dashboards"), ""]
    return out + table(["Dashboard", w("Inhalt", "Content"), w("Zielgruppe", "Audience")], rows)


def _manuals(policy: Policy, lang: str, w: Words) -> list[str]:
    out = [w("## Übergabe-Checkliste", "## Handover checklist"), ""]
    out += [f"- [ ] {item.text.get(lang)}" for item in policy.handover_checklist.values()]
    out += ["", w("## Betriebshandbuch", "## Operations manual"), ""]
    for index, section in enumerate(policy.runbook.values(), start=1):
        out += [f"### {index}. {section.title.get(lang)}", ""]
        out += [f"- {item.get(lang)}" for item in section.items]
        out.append("")
    e = policy.evidence
    out += [
        w("## Nachweise (leitstand)", "## Evidence (leitstand)"),
        "",
        f"- Origin: `{e.origin}`",
        w("- Checkpoint-Kopie alle ", "- Checkpoint copy every ")
        + f"{e.checkpoint_copy_every_entries} "
        + w("Einträge oder ", "entries or ")
        + human_duration(e.checkpoint_copy_interval, lang),
        "",
    ]
    return out


def operations_sections(policy: Policy, lang: str, w: Words) -> list[str]:
    """Return the Markdown lines for every section after incident response."""
    out: list[str] = []
    for part in (
        _changes,
        _deployment,
        _pipeline,
        _logs_and_environments,
        _baselines,
        _observability,
        _manuals,
    ):
        out += part(policy, lang, w)
    return out
