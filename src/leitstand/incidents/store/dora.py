"""Queries on DORA assessments, submitted reports and recurring-incident findings."""

from __future__ import annotations

from collections.abc import Collection

import sqlalchemy as sa

from leitstand.db import Session
from leitstand.incidents.store.common import rows_by_incident
from leitstand.incidents.store.tables import (
    DoraAssessmentRow,
    DoraReportRow,
    IncidentRow,
    RecurringFindingRow,
)

__all__ = [
    "assessed_tenants",
    "assessment",
    "assessments",
    "assessments_by_incident",
    "assessments_with_root_cause",
    "finding_exists",
    "finding_incidents",
    "latest_reference",
    "reports",
]


def assessment(session: Session, incident_id: str, tenant: str) -> DoraAssessmentRow | None:
    """The tenant's assessment of the incident, or None."""
    return session.execute(
        sa.select(DoraAssessmentRow).where(
            DoraAssessmentRow.incident_id == incident_id, DoraAssessmentRow.tenant == tenant
        )
    ).scalar_one_or_none()


def assessments(session: Session, incident_id: str) -> list[DoraAssessmentRow]:
    """The incident's assessments by tenant."""
    return list(
        session.execute(
            sa.select(DoraAssessmentRow)
            .where(DoraAssessmentRow.incident_id == incident_id)
            .order_by(DoraAssessmentRow.tenant)
        ).scalars()
    )


def assessments_by_incident(
    session: Session, ids: Collection[str]
) -> dict[str, list[DoraAssessmentRow]]:
    """The assessments of many incidents (one query), by incident, each by tenant."""
    return rows_by_incident(session, DoraAssessmentRow, ids, DoraAssessmentRow.tenant)


def assessed_tenants(session: Session, incident_id: str) -> set[str]:
    return set(
        session.execute(
            sa.select(DoraAssessmentRow.tenant).where(DoraAssessmentRow.incident_id == incident_id)
        ).scalars()
    )


def assessments_with_root_cause(
    session: Session,
) -> list[tuple[DoraAssessmentRow, IncidentRow]]:
    """Every assessment of an incident with a root-cause key, with its incident."""
    rows = session.execute(
        sa.select(DoraAssessmentRow, IncidentRow)
        .join(IncidentRow, IncidentRow.id == DoraAssessmentRow.incident_id)
        .where(IncidentRow.root_cause_key.is_not(None))
    ).all()
    return [(a, i) for a, i in rows]


def reports(session: Session, incident_id: str) -> list[DoraReportRow]:
    """The incident's submitted reports, oldest first."""
    return list(
        session.execute(
            sa.select(DoraReportRow)
            .where(DoraReportRow.incident_id == incident_id)
            .order_by(DoraReportRow.submitted_at, DoraReportRow.id)
        ).scalars()
    )


def latest_reference(session: Session, incident_id: str, tenant: str) -> str | None:
    """The authority's reference of the tenant's latest submission that has one."""
    return session.execute(
        sa.select(DoraReportRow.reference)
        .where(
            DoraReportRow.incident_id == incident_id,
            DoraReportRow.tenant == tenant,
            DoraReportRow.reference.is_not(None),
        )
        .order_by(DoraReportRow.submitted_at.desc())
        .limit(1)
    ).scalar_one_or_none()


def finding_exists(session: Session, tenant: str, root_cause_key: str, incidents: str) -> bool:
    """A recurring-incident finding of exactly these incidents was recorded before."""
    found = session.execute(
        sa.select(RecurringFindingRow.id).where(
            RecurringFindingRow.tenant == tenant,
            RecurringFindingRow.root_cause_key == root_cause_key,
            RecurringFindingRow.incidents == incidents,
        )
    ).scalar_one_or_none()
    return found is not None


def finding_incidents(session: Session, tenant: str, root_cause_key: str) -> list[str]:
    """The incident lists (comma-separated ids) of the tenant's findings with this root cause."""
    return list(
        session.execute(
            sa.select(RecurringFindingRow.incidents).where(
                RecurringFindingRow.tenant == tenant,
                RecurringFindingRow.root_cause_key == root_cause_key,
            )
        ).scalars()
    )
