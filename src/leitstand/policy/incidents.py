"""Incident response: severities, phases, post-mortems, DORA reporting and escalation rules."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Self

from pydantic import Field, model_validator

from leitstand.policy.base import Flag, PolicyModel, RoleList, Rules, Text, TextList
from leitstand.policy.durations import PositiveDuration, ReactionTime, format_duration
from leitstand.policy.incident_response import IncidentResponseSettings, WorkingCalendar

__all__ = [
    "DoraReporting",
    "EscalationRule",
    "IncidentPhase",
    "IncidentsPolicy",
    "PostmortemPolicy",
    "SeverityPolicy",
]

_StrictPositiveInt = Annotated[int, Field(strict=True, ge=1)]


class SeverityPolicy(PolicyModel):
    """An incident severity (SEV-1 most severe): reaction time and what it entails."""

    rank: _StrictPositiveInt
    name: Text
    description: Text
    reaction_time: ReactionTime
    examples: TextList
    notify_affected_tenants: Flag
    remediation_deploy_approvers: RoleList


class IncidentPhase(PolicyModel):
    """One phase of the incident response process with its steps."""

    name: Text
    steps: TextList


class PostmortemPolicy(PolicyModel):
    """When the post-mortem is due and who checks the reporting obligation."""

    due_business_days: _StrictPositiveInt
    reporting_check_by: RoleList


class DoraReporting(PolicyModel):
    """DORA Art. 19 reporting deadlines for major ICT incidents (and the parallel GDPR clock).

    ``initial_notification`` runs from classification as major, but the notification is never later
    than ``initial_notification_after_awareness`` (Delegated Reg. (EU) 2025/301 Art. 5);
    ``intermediate_report`` runs from the initial notification; the final report is due
    ``final_report_months`` calendar months after the latest intermediate report.
    """

    authority: str
    initial_notification: PositiveDuration
    initial_notification_after_awareness: PositiveDuration
    intermediate_report: PositiveDuration
    final_report_months: _StrictPositiveInt
    inform_immediately: RoleList
    gdpr_notification: PositiveDuration

    @model_validator(mode="after")
    def _initial_not_after_awareness_cap(self) -> Self:
        rules = Rules()
        if self.initial_notification > self.initial_notification_after_awareness:
            cap = format_duration(self.initial_notification_after_awareness)
            got = format_duration(self.initial_notification)
            rules.add(
                "initial_notification",
                f"must not be longer than initial_notification_after_awareness ({cap}) (got {got})",
            )
        rules.check()
        return self


class EscalationRule(PolicyModel):
    """A situation that must be escalated, what to do and which roles to inform.

    ``severity`` and ``metric`` tie the rule to an incident severity or a metric's critical
    threshold, so services can fire it without parsing the trigger text.
    """

    trigger: Text
    actions: TextList
    inform: RoleList
    immediately: Flag
    severity: str | None = None
    metric: str | None = None
    # Alert names or metric ids whose critical alert (or worse) fires the rule, besides
    # ``metric`` (e.g. capacity: cpu, memory, disk; a failing security gate: SecurityGateFailing).
    alerts: list[str] = Field(default_factory=list)
    # True on the rule for reportable incidents (DORA major, GDPR Art. 33) that leitstand fires.
    reportable: Flag = False


def _reaction_order(value: timedelta | str) -> timedelta:
    # "next business day" is the slowest reaction; order it after any duration.
    return timedelta.max if isinstance(value, str) else value


class IncidentsPolicy(PolicyModel):
    """Incident classification and the response process (DORA Art. 17-19)."""

    severities: dict[str, SeverityPolicy]
    phases: dict[str, IncidentPhase]
    postmortem: PostmortemPolicy
    dora: DoraReporting
    escalation_rules: dict[str, EscalationRule]
    calendar: WorkingCalendar = Field(default_factory=WorkingCalendar)
    response: IncidentResponseSettings = Field(default_factory=IncidentResponseSettings)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        rules = Rules()
        by_rank: dict[int, str] = {}
        for key, severity in self.severities.items():
            if severity.rank in by_rank:
                rules.add(
                    f"severities.{key}.rank",
                    f"a rank not used by '{by_rank[severity.rank]}' (got {severity.rank})",
                )
            by_rank.setdefault(severity.rank, key)
        previous: tuple[str, SeverityPolicy] | None = None
        for key in (by_rank[rank] for rank in sorted(by_rank)):
            severity = self.severities[key]
            if previous and _reaction_order(severity.reaction_time) < _reaction_order(
                previous[1].reaction_time
            ):
                shown = previous[1].reaction_time
                limit = shown if isinstance(shown, str) else format_duration(shown)
                got = severity.reaction_time
                rules.add(
                    f"severities.{key}.reaction_time",
                    f"must not be shorter than the reaction time of the more severe "
                    f"'{previous[0]}' ({limit}) "
                    f"(got {got if isinstance(got, str) else format_duration(got)})",
                )
            previous = (key, severity)
        for key, rule in self.escalation_rules.items():
            if rule.severity is not None and rule.severity not in self.severities:
                rules.add(
                    f"escalation_rules.{key}.severity",
                    f"one of {', '.join(self.severities)} (got {rule.severity!r})",
                )
        rules.check()
        return self
