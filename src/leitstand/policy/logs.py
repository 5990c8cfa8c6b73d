"""Log management: retention per log type (with legal minimums) and the log rules.

``no_pii`` is carried out by pseudonymising (``leitstand.logs.pseudonym``): the values of the
fields in ``pseudonymise_fields`` and every e-mail and IP address in text become keyed pseudonyms
under the key that ``pseudonym_key`` points to (``env:NAME`` or ``file:path``, as the backup
keys; the key itself never goes into the policy). A compliance officer holding the key can
re-identify a pseudonym.
"""

from __future__ import annotations

import re
from typing import Annotated, Self

from pydantic import AfterValidator, model_validator
from pydantic_core import PydanticCustomError

from leitstand.policy.backup_targets import SecretRef
from leitstand.policy.base import Flag, PolicyModel, RoleList, Rules, Text, unique_list
from leitstand.policy.durations import PositiveDuration, format_duration
from leitstand.policy.log_streams import LogStreams, streams_field
from leitstand.policy.values import describe

__all__ = ["LegalMinimum", "LogType", "LogsPolicy"]


_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def _field_name(value: str) -> str:
    if not _FIELD.match(value):
        raise PydanticCustomError(
            "field_name", f"a log field name such as client_ip (got {describe(value)})"
        )
    return value.lower()


FieldName = Annotated[str, AfterValidator(_field_name)]


class LogType(PolicyModel):
    """A log type: how long it is kept, why, and in which environments it may be written."""

    name: Text
    period: PositiveDuration
    reason: Text
    environments: Annotated[list[str], AfterValidator(unique_list)]


class LegalMinimum(PolicyModel):
    """The shortest retention a law demands for a log type, and which law."""

    period: PositiveDuration
    reason: Text


class LogsPolicy(PolicyModel):
    """Retention per log type, its legal minimums and the six log rules."""

    retention: dict[str, LogType]
    # The legal minimum per log type: ``policy validate`` rejects a shorter retention. A legal
    # reading, so a policy value (the HGB question, see leitstand.policy.defaults.operations).
    legal_minimums: dict[str, LegalMinimum]
    centralised: Flag  # every log goes to the central platform
    structured_json: Flag
    correlation_id: Flag
    no_pii: Flag  # personal data pseudonymised or left out
    tamper_protection: Flag
    access_roles: RoleList  # who may read logs
    automatic_rotation: Flag  # delete automatically when the retention period ends
    # Where the pseudonym key is (env:NAME or file:path); required while no_pii is set.
    pseudonym_key: SecretRef | None
    # Fields whose whole value is personal (case-insensitive); e-mail and IP addresses are
    # found in every other text as well.
    pseudonymise_fields: Annotated[list[FieldName], AfterValidator(unique_list)]
    # Per log type: stream file, rotation, readers, legal hold (leitstand.policy.log_streams).
    streams: LogStreams = streams_field()
    # How often the recurring duty seals new segments and expires old ones.
    maintenance_interval: PositiveDuration

    @model_validator(mode="after")
    def _legal_minimums(self) -> Self:
        rules = Rules()
        if self.no_pii and self.pseudonym_key is None:
            rules.add(
                "pseudonym_key",
                "env:VARIABLE or file:/path/to/key while no_pii is true: personal data in log "
                "lines is pseudonymised with that key (got nothing)",
            )
        for key, legal in self.legal_minimums.items():
            minimum, reason = legal.period, legal.reason.en
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
