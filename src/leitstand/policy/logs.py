"""Log management: retention per log type (with legal minimums) and the log rules."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Self

from pydantic import AfterValidator, model_validator

from leitstand.policy.base import Flag, PolicyModel, RoleList, Rules, Text, unique_list
from leitstand.policy.durations import YEAR, PositiveDuration, format_duration

__all__ = ["LEGAL_MINIMUM_RETENTION", "LogType", "LogsPolicy"]

# Law, not policy: a leitstand.yaml cannot lower these (the seed gives DORA/HGB and BSI/DORA as
# the reasons). A year is 365 days, as everywhere in leitstand.
LEGAL_MINIMUM_RETENTION: Mapping[str, tuple[timedelta, str]] = {
    "audit": (5 * YEAR, "DORA and the commercial-law retention duty (HGB)"),
    "security": (3 * YEAR, "BSI IT-Grundschutz and DORA Art. 9"),
}


class LogType(PolicyModel):
    """A log type: how long it is kept, why, and in which environments it may be written."""

    name: Text
    period: PositiveDuration
    reason: Text
    environments: Annotated[list[str], AfterValidator(unique_list)]


class LogsPolicy(PolicyModel):
    """Retention per log type and the six log rules."""

    retention: dict[str, LogType]
    centralised: Flag  # every log goes to the central platform
    structured_json: Flag
    correlation_id: Flag
    no_pii: Flag  # personal data pseudonymised or left out
    tamper_protection: Flag
    access_roles: RoleList  # who may read logs
    automatic_rotation: Flag  # delete automatically when the retention period ends

    @model_validator(mode="after")
    def _legal_minimums(self) -> Self:
        rules = Rules()
        for key, (minimum, reason) in LEGAL_MINIMUM_RETENTION.items():
            log = self.retention.get(key)
            if log is None:
                rules.add(f"retention.{key}", f"required by law ({reason}) (got nothing)")
            elif log.period < minimum:
                rules.add(
                    f"retention.{key}.period",
                    f"at least {format_duration(minimum)}, the legal minimum ({reason}) "
                    f"(got {format_duration(log.period)})",
                )
        rules.check()
        return self
