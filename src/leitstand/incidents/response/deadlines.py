"""Every deadline of an incident, computed from its state (pure).

One function, ``deadlines``, is the truth for the UI countdowns, for the timers that warn and
alert, and for the timer handlers that check whether a deadline is still open when they fire.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from leitstand.incidents.dora.due_dates import (
    Calendar,
    ReportStage,
    calendar_of,
    final_report_due,
    gdpr_due,
    initial_notification_due,
    intermediate_report_due,
    reaction_due,
    weekend_rule_allowed,
)
from leitstand.incidents.model import ActionItem, ActionStatus
from leitstand.policy.incidents import IncidentsPolicy

__all__ = ["ClockState", "Deadline", "DoraState", "calendar_of", "deadlines"]


@dataclass(frozen=True, slots=True)
class DoraState:
    tenant: str
    entity_type: str
    major: bool
    aware_at: datetime
    classified_at: datetime
    initial_submitted_at: datetime | None = None
    intermediate_submitted_at: datetime | None = None
    final_submitted_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ClockState:
    incident_id: str
    severity: str
    opened_at: datetime
    acknowledged_at: datetime | None
    aware_at: datetime | None
    resolved_at: datetime | None
    postmortem_at: datetime | None
    personal_data_affected: bool
    gdpr_notified_at: datetime | None
    dora: Sequence[DoraState] = ()
    actions: Sequence[tuple[ActionItem, datetime | None]] = ()  # item, when it was done


@dataclass(frozen=True, slots=True)
class Deadline:
    clock: str  # reaction, dora_initial, dora_intermediate, dora_final, gdpr, postmortem, action:N
    tenant: str | None
    due_at: datetime
    met_at: datetime | None
    warn_before: timedelta
    label_de: str
    label_en: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.clock}:{self.tenant or '-'}"

    @property
    def open(self) -> bool:
        return self.met_at is None

    def label(self, lang: str = "de") -> str:
        return self.label_en if lang == "en" else self.label_de


#: The name of each DORA report stage's deadline (German, English).
_STAGE_NAMES: dict[ReportStage, tuple[str, str]] = {
    ReportStage.INITIAL: ("DORA-Erstmeldung", "DORA initial notification"),
    ReportStage.INTERMEDIATE: ("DORA-Zwischenmeldung", "DORA intermediate report"),
    ReportStage.FINAL: ("DORA-Abschlussmeldung", "DORA final report"),
}


def _dora(state: DoraState, policy: IncidentsPolicy, cal: Calendar) -> list[Deadline]:
    if not state.major:
        return []
    dora, warn = policy.dora, policy.response.warnings

    def rule(stage: ReportStage) -> Calendar | None:
        return cal if weekend_rule_allowed(state.entity_type, stage) else None

    # A stage is due once the one before it was submitted.
    due = {
        ReportStage.INITIAL: initial_notification_due(
            aware_at=state.aware_at,
            classified_at=state.classified_at,
            after_classification=dora.initial_notification,
            after_awareness=dora.initial_notification_after_awareness,
            cal=rule(ReportStage.INITIAL),
        )
    }
    if state.initial_submitted_at is not None:
        due[ReportStage.INTERMEDIATE] = intermediate_report_due(
            initial_submitted_at=state.initial_submitted_at,
            within=dora.intermediate_report,
            cal=rule(ReportStage.INTERMEDIATE),
        )
    if state.intermediate_submitted_at is not None:
        due[ReportStage.FINAL] = final_report_due(
            intermediate_submitted_at=state.intermediate_submitted_at,
            months=dora.final_report_months,
            tz=cal.tz,
            cal=rule(ReportStage.FINAL),
        )
    met = {
        ReportStage.INITIAL: (state.initial_submitted_at, warn.dora_initial),
        ReportStage.INTERMEDIATE: (state.intermediate_submitted_at, warn.dora_intermediate),
        ReportStage.FINAL: (state.final_submitted_at, warn.dora_final),
    }
    return [
        Deadline(
            f"dora_{stage.value}",
            state.tenant,
            due_at,
            met[stage][0],
            met[stage][1],
            f"{_STAGE_NAMES[stage][0]} {state.tenant}",
            f"{_STAGE_NAMES[stage][1]} {state.tenant}",
        )
        for stage, due_at in due.items()
    ]


def deadlines(state: ClockState, policy: IncidentsPolicy, cal: Calendar) -> list[Deadline]:
    """All deadlines of an incident, met or open, soonest first."""
    warn = policy.response.warnings
    out: list[Deadline] = []
    severity = policy.severities.get(state.severity)
    if severity is not None:
        out.append(
            Deadline(
                "reaction",
                None,
                reaction_due(state.opened_at, severity.reaction_time, cal),
                state.acknowledged_at,
                warn.reaction,
                f"Reaktionszeit {state.severity}",
                f"Reaction time {state.severity}",
            )
        )
    for dora in state.dora:
        out += _dora(dora, policy, cal)
    if state.personal_data_affected and state.aware_at is not None:
        out.append(
            Deadline(
                "gdpr",
                None,
                gdpr_due(state.aware_at, policy.dora.gdpr_notification),
                state.gdpr_notified_at,
                warn.gdpr,
                "DSGVO-Meldung (Art. 33)",
                "GDPR notification (Art. 33)",
            )
        )
    if state.resolved_at is not None:
        out.append(
            Deadline(
                "postmortem",
                None,
                cal.end_of_working_days(state.resolved_at, policy.postmortem.due_business_days),
                state.postmortem_at,
                warn.postmortem,
                "Post-Mortem",
                "Post-mortem",
            )
        )
    for item, done_at in state.actions:
        if item.status is ActionStatus.CANCELLED:
            continue
        out.append(
            Deadline(
                f"action:{item.number}",
                None,
                cal.at(item.due_date + timedelta(days=1), time(0, 0)),
                done_at if item.status is ActionStatus.DONE else None,
                warn.action_item,
                f"Maßnahme {item.number}: {item.title}",
                f"Action item {item.number}: {item.title}",
                {"owner": item.owner},
            )
        )
    out.sort(key=lambda d: (d.due_at, d.clock, d.tenant or ""))
    return out
