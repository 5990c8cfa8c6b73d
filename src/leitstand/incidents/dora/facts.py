"""The facts of a DORA assessment as inputs (strict: unknown keys, negative counts and member
states outside the EU/EEA are refused with the field path); what ``classification`` decides on."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Self, get_args

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, model_validator

from leitstand.api_types import Timestamp
from leitstand.errors import Issue
from leitstand.incidents.dora.classification import Assessment, DataLoss
from leitstand.incidents.dora.entities import MEMBER_STATES, EntityType

__all__ = ["IMPACT_TYPES", "AssessmentIn", "ClassifyIn", "DataLossIn", "ImpactType"]

Count = Annotated[StrictInt, Field(ge=0)]
Pct = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
Amount = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Reputation = Literal["media", "complaints", "regulatory_breach", "client_loss"]
#: Field 3.18 "Types of impact in the Member States": what the incident hit in a member state,
#: after Delegated Regulation (EU) 2024/1772 Art. 4 (clients or financial counterparts; branches
#: or group entities active there; financial market infrastructures or third-party providers
#: that other financial entities share).
ImpactType = Literal[
    "clients",
    "financial_counterparts",
    "branch",
    "group_entities",
    "financial_market_infrastructure",
    "third_party_providers",
]
IMPACT_TYPES: tuple[str, ...] = get_args(ImpactType)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataLossIn(_Strict):
    availability: StrictBool
    authenticity: StrictBool
    integrity: StrictBool
    confidentiality: StrictBool


class _Facts(_Strict):
    critical_services_affected: StrictBool
    malicious_unauthorised_access: StrictBool
    clients_affected: Count
    clients_total: Count
    financial_counterparts_affected_pct: Pct
    transactions_number_affected_pct: Pct
    transactions_value_affected_pct: Pct
    relevant_clients_affected: StrictBool
    reputational_impact: list[Reputation]
    duration_hours: Amount
    critical_function_downtime_hours: Amount
    member_states_affected: list[str]
    data_loss: DataLossIn
    economic_impact_eur: Amount
    entity_type: EntityType | None = None
    #: Field 3.18 per member state (optional: what the entity knows; else left to complete).
    member_state_impacts: dict[str, list[ImpactType]] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        issues: list[Issue] = []
        if self.clients_total and self.clients_affected > self.clients_total:
            issues.append(
                Issue(
                    "clients_affected",
                    f"must not exceed clients_total ({self.clients_total}) "
                    f"(got {self.clients_affected})",
                )
            )
        for index, code in enumerate(self.member_states_affected):
            if code not in MEMBER_STATES:
                issues.append(
                    Issue(
                        f"member_states_affected.{index}",
                        f"an ISO code of an EU/EEA member state like DE or AT (got {code!r})",
                    )
                )
        for code, kinds in (self.member_state_impacts or {}).items():
            if code not in self.member_states_affected:
                issues.append(
                    Issue(
                        f"member_state_impacts.{code}",
                        "a member state listed in member_states_affected "
                        f"({', '.join(self.member_states_affected) or 'none'}) (got {code!r})",
                    )
                )
            if not kinds or len(set(kinds)) != len(kinds):
                issues.append(
                    Issue(f"member_state_impacts.{code}", "at least one type, each only once")
                )
        if len(set(self.reputational_impact)) != len(self.reputational_impact):
            issues.append(Issue("reputational_impact", "each entry only once"))
        if issues:
            raise ValueError("; ".join(str(i) for i in issues))
        return self

    def assessment(self) -> Assessment:
        return Assessment(
            critical_services_affected=self.critical_services_affected,
            malicious_unauthorised_access=self.malicious_unauthorised_access,
            clients_affected=self.clients_affected,
            clients_total=self.clients_total,
            financial_counterparts_affected_pct=self.financial_counterparts_affected_pct,
            transactions_number_affected_pct=self.transactions_number_affected_pct,
            transactions_value_affected_pct=self.transactions_value_affected_pct,
            relevant_clients_affected=self.relevant_clients_affected,
            reputational_impact=tuple(self.reputational_impact),
            duration_hours=self.duration_hours,
            critical_function_downtime_hours=self.critical_function_downtime_hours,
            member_states_affected=tuple(self.member_states_affected),
            data_loss=DataLoss(**self.data_loss.model_dump()),
            economic_impact_eur=self.economic_impact_eur,
        )

    def facts(self) -> dict[str, Any]:
        """The facts alone (without times and entity type), as stored and shown."""
        facts = self.model_dump(
            mode="json",
            exclude={
                "aware_at",
                "classified_at",
                "entity_type",
                "initial_notification_submitted_at",
                "intermediate_report_submitted_at",
            },
        )
        if facts.get("member_state_impacts") is None:
            facts.pop("member_state_impacts", None)  # optional: stored only when given
        return facts


class ClassifyIn(_Facts):
    """The input of ``leitstand incident classify`` (one assessment, nothing stored)."""

    aware_at: Timestamp
    classified_at: Timestamp
    initial_notification_submitted_at: Timestamp | None = None
    intermediate_report_submitted_at: Timestamp | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        order = [
            ("aware_at", self.aware_at),
            ("classified_at", self.classified_at),
            ("initial_notification_submitted_at", self.initial_notification_submitted_at),
            ("intermediate_report_submitted_at", self.intermediate_report_submitted_at),
        ]
        previous: tuple[str, datetime] | None = None
        for name, value in order:
            if value is None:
                continue
            if previous is not None and value < previous[1]:
                raise ValueError(f"{name}: must not be before {previous[0]}")
            previous = (name, value)
        if self.intermediate_report_submitted_at and not self.initial_notification_submitted_at:
            raise ValueError(
                "intermediate_report_submitted_at: needs initial_notification_submitted_at"
            )
        return self


class AssessmentIn(_Facts):
    """A tenant's assessment of a stored incident; times default to the incident's awareness
    and the moment of (first major) classification."""

    aware_at: Timestamp | None = None
    classified_at: Timestamp | None = None
