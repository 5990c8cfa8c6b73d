"""leitstand's settings for running incidents (not in the seed): calendar, alerts, timers.

The seed fixes severities, phases and the DORA deadlines (``incidents.*``); what it leaves open is
how leitstand tracks them: the working-day calendar (German public holidays differ by federal
state; the customer's data centre is in Hamburg, hence ``HH``), which alert severity a near or
missed deadline raises, how early it warns, and how far back the timeline looks.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_core import PydanticCustomError

from leitstand.policy.base import PolicyModel, Role, RoleList
from leitstand.policy.durations import Duration, PositiveDuration
from leitstand.policy.values import describe

__all__ = ["DeadlineWarnings", "IncidentResponseSettings", "WorkingCalendar"]

# The German federal states (ISO 3166-2:DE without the prefix), as the holidays library names them.
FEDERAL_STATES = (
    "BB",
    "BE",
    "BW",
    "BY",
    "HB",
    "HE",
    "HH",
    "MV",
    "NI",
    "NW",
    "RP",
    "SH",
    "SL",
    "SN",
    "ST",
    "TH",
)


def _state(value: str) -> str:
    if value not in FEDERAL_STATES:
        raise PydanticCustomError(
            "federal_state",
            f"one of {', '.join(FEDERAL_STATES)} (got {describe(value)})",
        )
    return value


_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _clock_time(value: object) -> str:
    # A string "HH:MM": YAML 1.1 would read an unquoted 17:00 as the number 1020.
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1440:
        value = f"{value // 60:02d}:{value % 60:02d}"
    if not isinstance(value, str) or not _CLOCK.match(value):
        raise PydanticCustomError("clock_time", f"a time of day like 17:00 (got {describe(value)})")
    return value


class WorkingCalendar(PolicyModel):
    """Working days for deadlines: Monday to Friday without the state's public holidays."""

    timezone: str = "Europe/Berlin"
    federal_state: Annotated[str, AfterValidator(_state)] = "HH"
    # "Next working day" (SEV-4 reaction time) means by this local time on that day.
    working_day_end: Annotated[str, BeforeValidator(_clock_time)] = "17:00"


class DeadlineWarnings(PolicyModel):
    """How long before a deadline a warning alert is raised (0: no warning)."""

    reaction: Duration = timedelta(0)
    dora_initial: Duration = timedelta(hours=1)
    dora_intermediate: Duration = timedelta(hours=12)
    dora_final: Duration = timedelta(days=3)
    gdpr: Duration = timedelta(hours=12)
    postmortem: Duration = timedelta(days=1)
    action_item: Duration = timedelta(days=1)


def _severity_per_incident() -> dict[str, str]:
    # A missed SEV-1 reaction goes straight to the outage level (management is paged at once);
    # the rest start at "critical" and escalate like any unacknowledged alert.
    return {"SEV-1": "outage", "SEV-2": "critical", "SEV-3": "critical", "SEV-4": "warning"}


class IncidentResponseSettings(PolicyModel):
    """Alerts for deadlines, the timeline window and the monthly recurring-incident check."""

    near_deadline_alert: str = "warning"
    missed_deadline_alert: str = "critical"
    reaction_breach_alert: dict[str, str] = Field(default_factory=_severity_per_incident)
    warnings: DeadlineWarnings = Field(default_factory=DeadlineWarnings)
    timeline_lookback: PositiveDuration = timedelta(hours=4)
    recurring_check: str = "0 6 1 * *"
    # DORA entity type of a tenant unless the tenant names its own (broker houses are
    # insurance intermediaries, DORA Art. 2(1)(n)).
    default_entity_type: str = "insurance_intermediary"
    # Who releases the notice to an affected broker house at SEV-1/2 before it is sent.
    tenant_notice_releasers: RoleList = Field(
        default_factory=lambda: [Role.COMPLIANCE_OFFICER, Role.DEVOPS, Role.MANAGEMENT]
    )
