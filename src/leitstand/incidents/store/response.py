"""Queries and statements on action items and the alerts raised for deadlines."""

from __future__ import annotations

from collections.abc import Collection

import sqlalchemy as sa

from leitstand.db import Session
from leitstand.incidents.store.common import rows_by_incident
from leitstand.incidents.store.tables import ActionItemRow, IncidentAlertRow

__all__ = [
    "action",
    "actions",
    "actions_by_incident",
    "deadline_alert_ids",
    "deadline_alert_links",
    "move_deadline_alerts",
    "next_action_number",
    "unresolved_deadline_alerts",
]

#: Any tenant (a filter left out), as opposed to None (the incident-wide deadline).
ANY = object()


def actions(session: Session, incident_id: str) -> list[ActionItemRow]:
    """The incident's action items by number."""
    return list(
        session.execute(
            sa.select(ActionItemRow)
            .where(ActionItemRow.incident_id == incident_id)
            .order_by(ActionItemRow.number)
        ).scalars()
    )


def actions_by_incident(session: Session, ids: Collection[str]) -> dict[str, list[ActionItemRow]]:
    """The action items of many incidents (one query), by incident, each by number."""
    return rows_by_incident(session, ActionItemRow, ids, ActionItemRow.number)


def action(session: Session, incident_id: str, number: int) -> ActionItemRow | None:
    return session.execute(
        sa.select(ActionItemRow).where(
            ActionItemRow.incident_id == incident_id, ActionItemRow.number == number
        )
    ).scalar_one_or_none()


def next_action_number(session: Session, incident_id: str) -> int:
    """The number the incident's next action item gets."""
    last = session.execute(
        sa.select(sa.func.coalesce(sa.func.max(ActionItemRow.number), 0)).where(
            ActionItemRow.incident_id == incident_id
        )
    ).scalar_one()
    return int(last) + 1


def unresolved_deadline_alerts(
    session: Session,
    incident_id: str,
    *,
    clock: str | None = None,
    stage: str | None = None,
    tenant: str | object | None = ANY,
) -> list[IncidentAlertRow]:
    """The incident's deadline alerts not yet resolved, optionally of one clock, stage, tenant
    (``tenant=None``: the incident-wide ones)."""
    stmt = sa.select(IncidentAlertRow).where(
        IncidentAlertRow.incident_id == incident_id, IncidentAlertRow.resolved_at.is_(None)
    )
    if clock is not None:
        stmt = stmt.where(IncidentAlertRow.clock == clock)
    if stage is not None:
        stmt = stmt.where(IncidentAlertRow.stage == stage)
    if tenant is None:
        stmt = stmt.where(IncidentAlertRow.tenant.is_(None))
    elif isinstance(tenant, str):
        stmt = stmt.where(IncidentAlertRow.tenant == tenant)
    return list(session.execute(stmt).scalars())


def deadline_alert_links(session: Session, fingerprints: Collection[str]) -> dict[str, str]:
    """The incident each fingerprint's first deadline alert was raised for."""
    first: dict[str, str] = {}
    if not fingerprints:
        return first
    for link in session.execute(
        sa.select(IncidentAlertRow)
        .where(IncidentAlertRow.fingerprint.in_(sorted(fingerprints)))
        .order_by(IncidentAlertRow.id)
    ).scalars():
        first.setdefault(link.fingerprint, link.incident_id)
    return first


def deadline_alert_ids(session: Session, incident_id: str) -> list[int | None]:
    """The alert ids of the incident's deadline alerts (None: not raised yet)."""
    return list(
        session.execute(
            sa.select(IncidentAlertRow.alert_id).where(IncidentAlertRow.incident_id == incident_id)
        ).scalars()
    )


def move_deadline_alerts(session: Session, old: str, new: str) -> int:
    """The deadline alerts of incident ``old`` lead to ``new`` from now on; how many."""
    result = session.execute(
        sa.update(IncidentAlertRow)
        .where(IncidentAlertRow.incident_id == old)
        .values(incident_id=new)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
