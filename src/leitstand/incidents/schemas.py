"""Incident wire formats: inputs are strict (unknown keys, negative counts and times without an
offset are refused with the field path); outputs mirror the read model."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal, Self, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    model_validator,
)
from pydantic import ValidationError as PydanticValidationError

from leitstand.api_types import Timestamp
from leitstand.errors import Issue, ValidationError
from leitstand.incidents.dora import Assessment, DataLoss

__all__ = [
    "ENTITY_TYPES",
    "MEMBER_STATES",
    "ActionIn",
    "ActionPatch",
    "AssessmentIn",
    "ClassifyIn",
    "FixDecisionIn",
    "IncidentIn",
    "IncidentPatch",
    "MergeIn",
    "NoteIn",
    "PhaseIn",
    "SubmitIn",
    "TimesIn",
    "issues_of",
    "parse_model",
]

#: DORA Art. 2(1) financial entity types, plus entities identified as essential or important
#: under NIS2 (they may not use the weekend rule for initial and intermediate reports).
ENTITY_TYPES = (
    "credit_institution",
    "payment_institution",
    "account_information_service_provider",
    "electronic_money_institution",
    "investment_firm",
    "crypto_asset_service_provider",
    "central_securities_depository",
    "central_counterparty",
    "trading_venue_operator",
    "trade_repository",
    "alternative_investment_fund_manager",
    "ucits_management_company",
    "data_reporting_service_provider",
    "insurance_undertaking",
    "reinsurance_undertaking",
    "insurance_intermediary",
    "institution_for_occupational_retirement_provision",
    "credit_rating_agency",
    "critical_benchmark_administrator",
    "crowdfunding_service_provider",
    "securitisation_repository",
    "nis2_essential_or_important_entity",
)
#: EU member states and the EEA states (ISO 3166-1 alpha-2).
MEMBER_STATES = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "FR",
        "GR",
        "HR",
        "HU",
        "IE",
        "IT",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
        "IS",
        "LI",
        "NO",
    ]
)

EntityType = Literal[
    "credit_institution",
    "payment_institution",
    "account_information_service_provider",
    "electronic_money_institution",
    "investment_firm",
    "crypto_asset_service_provider",
    "central_securities_depository",
    "central_counterparty",
    "trading_venue_operator",
    "trade_repository",
    "alternative_investment_fund_manager",
    "ucits_management_company",
    "data_reporting_service_provider",
    "insurance_undertaking",
    "reinsurance_undertaking",
    "insurance_intermediary",
    "institution_for_occupational_retirement_provision",
    "credit_rating_agency",
    "critical_benchmark_administrator",
    "crowdfunding_service_provider",
    "securitisation_repository",
    "nis2_essential_or_important_entity",
]
Count = Annotated[StrictInt, Field(ge=0)]
Pct = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
Amount = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Reputation = Literal["media", "complaints", "regulatory_breach", "client_loss"]


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
        return self.model_dump(
            mode="json",
            exclude={
                "aware_at",
                "classified_at",
                "entity_type",
                "initial_notification_submitted_at",
                "intermediate_report_submitted_at",
            },
        )


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


def issues_of(exc: PydanticValidationError, prefix: str = "") -> list[Issue]:
    """Turn Pydantic's errors into issues with dotted field paths."""
    issues: list[Issue] = []
    for err in exc.errors():
        path = ".".join(str(p) for p in (prefix, *err.get("loc", ())) if p != "")
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        got = err.get("input")
        if err.get("type") == "extra_forbidden":
            message = "unknown key"
        elif got is not None and not isinstance(got, dict | list):
            message += f" (got {got!r})"
        if ": " in message and not path and err.get("type") == "value_error":
            path, message = message.split(": ", 1)
        issues.append(Issue(path, message))
    return issues


M = TypeVar("M", bound=BaseModel)


def parse_model(model: type[M], data: object, prefix: str = "") -> M:
    """Validate ``data`` or raise leitstand's ValidationError (exit 2 / HTTP 422)."""
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        raise ValidationError(issues_of(exc, prefix)) from None


class IncidentIn(_Strict):
    title: Annotated[str, Field(min_length=1, max_length=500)]
    severity: str
    systems: list[str] = Field(default_factory=list)
    tenants: list[str] = Field(default_factory=list)
    description: str | None = None
    personal_data_affected: StrictBool = False
    occurred_at: Timestamp | None = None


_NOT_NULL = ("title", "severity", "systems", "tenants", "personal_data_affected")


class IncidentPatch(_Strict):
    title: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    severity: str | None = None
    systems: list[str] | None = None
    tenants: list[str] | None = None
    commander: str | None = None
    scribe: str | None = None
    communication: str | None = None
    description: str | None = None
    root_cause: str | None = None
    root_cause_key: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,99}$")] | None = None
    impact: str | None = None
    personal_data_affected: StrictBool | None = None
    occurred_at: Timestamp | None = None
    detected_at: Timestamp | None = None
    aware_at: Timestamp | None = None
    acknowledged_at: Timestamp | None = None
    contained_at: Timestamp | None = None
    recovered_at: Timestamp | None = None
    resolved_at: Timestamp | None = None

    @model_validator(mode="after")
    def _no_null_for_required(self) -> Self:
        # These fields always have a value: leaving them out keeps it, null cannot clear it.
        nulls = [k for k in _NOT_NULL if k in self.model_fields_set and getattr(self, k) is None]
        if nulls:
            raise ValueError(f"{', '.join(nulls)}: cannot be null (leave the field out to keep it)")
        return self

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class PhaseIn(_Strict):
    phase: str
    at: Timestamp | None = None
    note: str | None = None


class NoteIn(_Strict):
    text: Annotated[str, Field(min_length=1, max_length=4000)]


class TimesIn(_Strict):
    """A commander's correction of detection and awareness (the DORA and GDPR clocks)."""

    detected_at: Timestamp | None = None
    aware_at: Timestamp | None = None
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class MergeIn(_Strict):
    """Merge this incident (the duplicate) into ``into``, with a reason (recorded)."""

    into: Annotated[str, Field(pattern=r"^INC-\d{4}-\d{4,}$", max_length=32)]
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class ActionIn(_Strict):
    title: Annotated[str, Field(min_length=1, max_length=1000)]
    owner: Annotated[str, Field(min_length=1, max_length=200)]
    due_date: date


class ActionPatch(_Strict):
    status: Literal["open", "in_progress", "done", "cancelled"] | None = None
    owner: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    due_date: date | None = None


class SubmitIn(_Strict):
    submitted_at: Timestamp | None = None
    reference: Annotated[str, Field(max_length=200)] | None = None


class FixDecisionIn(_Strict):
    """The compliance officer's decision on a fix (release) for a SEV-1/2 incident."""

    service: Annotated[str, Field(min_length=1, max_length=200)]
    version: Annotated[str, Field(min_length=1, max_length=200)]
    approve: bool = True
    note: Annotated[str, Field(max_length=2000)] | None = None
