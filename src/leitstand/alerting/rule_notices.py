"""The seed's escalation rules that alerts fire (pure): who is told when a critical alert fires.

A rule of ``incidents.escalation_rules`` names its alerts by ``metric`` and ``alerts`` (metric ids,
matched against the ``metric`` label leitstand's generated rules carry, or alert names). When a
new alert of one of them fires at the critical level or above, everyone holding the rule's
``inform`` roles gets a message with the rule's actions: "certificate < 7 days" tells the
compliance officer, "capacity limit reached" the solution architects and management, "security
gate failing" the security engineer. A repeat or a deduplicated alert fires nothing again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from leitstand.alerting.model import RoleMessage, level_key_for
from leitstand.policy.incidents import EscalationRule
from leitstand.policy.model import Policy

__all__ = ["RuleNotice", "rule_notices"]


@dataclass(frozen=True, slots=True)
class RuleNotice:
    """An escalation rule an alert fired, and the message it sends."""

    rule: str
    message: RoleMessage


def _names(rule: EscalationRule) -> set[str]:
    return {n for n in (rule.metric, *rule.alerts) if n}


def rule_notices(
    policy: Policy,
    *,
    alert_id: int,
    name: str,
    severity: str,
    summary: str,
    labels: Mapping[str, str],
    tenant: str | None,
) -> list[RuleNotice]:
    """The escalation rules a newly firing alert fires, each with its message."""
    levels = policy.alerting.levels
    ordered = sorted(levels.values(), key=lambda level: level.level)
    critical = ordered[1].level if len(ordered) > 1 else ordered[0].level
    key, known = level_key_for(policy.alerting, severity)
    if not known or levels[key].level < critical:
        return []
    found: list[RuleNotice] = []
    for rule_key, rule in policy.incidents.escalation_rules.items():
        if rule.severity is not None or rule.reportable or not rule.inform:
            continue  # incident rules: the incident domain fires them
        if not _names(rule) & {name, labels.get("metric", "")}:
            continue
        where = ", ".join(x for x in (labels.get("service"), tenant, labels.get("instance")) if x)
        lines = [
            f"{rule.trigger.de}: {summary or name}",
            "",
            f"Alarm #{alert_id} · {name} · Severity {severity}" + (f" · {where}" if where else ""),
            "",
            "Zu tun:",
            *(f"- {action.de}" for action in rule.actions),
        ]
        base = policy.alerting.notifications.base_url.rstrip("/")
        lines += ["", f"Alarme: {base}/alerts"]
        subject = f"[leitstand] {rule.trigger.de}: {name}" + (f" – {where}" if where else "")
        found.append(
            RuleNotice(
                rule=rule_key,
                message=RoleMessage(
                    roles=tuple(rule.inform),
                    subject=subject,
                    body="\n".join(lines),
                    tenant=tenant,
                ),
            )
        )
    return found
