"""Game days, the handover checklist and the operations manual (Betriebshandbuch) outline."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Self

from pydantic import AfterValidator, Field, model_validator

from leitstand.policy.base import (
    Flag,
    Frequency,
    PolicyModel,
    Role,
    RoleList,
    Rules,
    Text,
    TextList,
    unique_list,
)
from leitstand.policy.durations import PositiveDuration, format_duration

__all__ = ["ChecklistItem", "GameDayPolicy", "RunbookSection"]


class GameDayPolicy(PolicyModel):
    """Chaos engineering game days (DORA Art. 24-27)."""

    frequency: Frequency
    regulation: str
    environments: Annotated[list[str], Field(min_length=1), AfterValidator(unique_list)]
    production_requires_warning: Flag
    min_duration: PositiveDuration
    max_duration: PositiveDuration
    participants: Annotated[RoleList, Field(min_length=1)]
    report_to: Annotated[RoleList, Field(min_length=1)]
    production_approvers: Annotated[RoleList, Field(min_length=1)]

    @model_validator(mode="after")
    def _duration_range(self) -> Self:
        rules = Rules()
        if self.min_duration > self.max_duration:
            low, high = format_duration(self.min_duration), format_duration(self.max_duration)
            rules.add(
                "max_duration",
                f"must not be shorter than min_duration ({low}) (got {high})",
                ("min_duration", f"must not be longer than max_duration ({high}) (got {low})"),
            )
        rules.check()
        return self


class ChecklistItem(PolicyModel):
    """One item of the handover checklist verified after a deployment.

    leitstand checks it against live state after every production release; when it fails, an
    action item goes to ``owner`` (a role), due within ``fix_within`` (leitstand's defaults).
    """

    text: Text
    owner: Role = Role.DEVOPS
    fix_within: PositiveDuration = timedelta(days=2)


class RunbookSection(PolicyModel):
    """One section of the operations manual with what it must cover."""

    title: Text
    items: TextList
