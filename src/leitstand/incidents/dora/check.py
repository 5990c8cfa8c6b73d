"""One DORA classification with its deadlines, nothing stored (``leitstand incident classify``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from leitstand.errors import Issue, ValidationError
from leitstand.incidents.dora.classification import classify
from leitstand.incidents.dora.due_dates import (
    ReportStage,
    calendar_of,
    final_report_due,
    initial_notification_due,
    intermediate_report_due,
    weekend_rule_allowed,
)
from leitstand.incidents.dora.facts import ClassifyIn
from leitstand.incidents.parsing import parse_model
from leitstand.policy.incidents import IncidentsPolicy

__all__ = ["ClassificationOut", "classify_document", "classify_text", "utc_text"]


class ClassificationOut(BaseModel):
    """One DORA classification and the deadlines that follow (nothing stored)."""

    model_config = ConfigDict(frozen=True)

    major: bool
    criteria_met: list[str]
    reasons: list[str]
    deadlines: dict[str, str]


def utc_text(value: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``: ``2026-11-27T13:00:00Z``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def classify_text(text: str, policy: IncidentsPolicy, *, lang: str = "de") -> ClassificationOut:
    """Parse a JSON document and classify it; bad JSON names the line and column."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            [Issue("", f"invalid JSON: {exc.msg}", line=exc.lineno, column=exc.colno)]
        ) from None
    if not isinstance(data, dict):
        raise ValidationError([Issue("", "a JSON object with the assessment's keys")])
    return classify_document(parse_model(ClassifyIn, data), policy, lang=lang)


def classify_document(
    doc: ClassifyIn, policy: IncidentsPolicy, *, lang: str = "de"
) -> ClassificationOut:
    """Classification, reasons and the DORA deadlines that follow from it."""
    result = classify(doc.assessment())
    entity = doc.entity_type or policy.response.default_entity_type
    cal = calendar_of(policy)
    dora = policy.dora

    def rule(stage: ReportStage) -> Any:
        return cal if weekend_rule_allowed(entity, stage) else None

    deadlines: dict[str, str] = {}
    if result.major:
        deadlines["initial_notification"] = utc_text(
            initial_notification_due(
                aware_at=doc.aware_at,
                classified_at=doc.classified_at,
                after_classification=dora.initial_notification,
                after_awareness=dora.initial_notification_after_awareness,
                cal=rule(ReportStage.INITIAL),
            )
        )
        if doc.initial_notification_submitted_at is not None:
            deadlines["intermediate_report"] = utc_text(
                intermediate_report_due(
                    initial_submitted_at=doc.initial_notification_submitted_at,
                    within=dora.intermediate_report,
                    cal=rule(ReportStage.INTERMEDIATE),
                )
            )
        if doc.intermediate_report_submitted_at is not None:
            deadlines["final_report"] = utc_text(
                final_report_due(
                    intermediate_submitted_at=doc.intermediate_report_submitted_at,
                    months=dora.final_report_months,
                    tz=cal.tz,
                    cal=rule(ReportStage.FINAL),
                )
            )
    return ClassificationOut(
        major=result.major,
        criteria_met=[c.value for c in result.criteria_met],
        reasons=result.reason_texts(lang),
        deadlines=deadlines,
    )
