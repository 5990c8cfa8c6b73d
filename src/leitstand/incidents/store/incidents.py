"""Queries and statements on incidents: load, list, numbers, escalations, merges."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import sqlalchemy as sa

from leitstand.db import Session
from leitstand.incidents.store.tables import IncidentRow, system_filter, tenant_filter

__all__ = [
    "alert_ids",
    "by_escalation",
    "incident",
    "incidents",
    "last_sequence",
    "list_incidents",
    "merged_ids",
    "open_incidents",
    "repoint_merged",
    "survivors",
    "unclosed_incidents",
]


def incident(session: Session, incident_id: str, *, lock: bool = False) -> IncidentRow | None:
    """One incident, or None; ``lock`` takes a row lock (``FOR UPDATE``)."""
    stmt = sa.select(IncidentRow).where(IncidentRow.id == incident_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.execute(stmt).scalar_one_or_none()


def list_incidents(
    session: Session,
    *,
    status: str | None,
    tenant: str | None,
    limit: int,
    system: str | None = None,
) -> list[IncidentRow]:
    """Incidents, newest first; the status, tenant and system filters run in SQL, before the
    limit."""
    stmt = sa.select(IncidentRow).order_by(IncidentRow.opened_at.desc(), IncidentRow.id.desc())
    if status is not None:
        stmt = stmt.where(IncidentRow.status == status)
    if tenant is not None:
        # An old open incident of the tenant is never cut off by the limit.
        stmt = stmt.where(tenant_filter(tenant))
    if system is not None:
        stmt = stmt.where(system_filter(system))
    return list(session.execute(stmt.limit(limit)).scalars())


def incidents(session: Session, ids: Collection[str]) -> list[IncidentRow]:
    """The incidents with these ids (any order)."""
    if not ids:
        return []
    return list(
        session.execute(
            sa.select(IncidentRow).where(IncidentRow.id.in_(sorted(set(ids))))
        ).scalars()
    )


def open_incidents(
    session: Session, ids: Collection[str], *, status: str, lock: bool
) -> list[IncidentRow]:
    """The incidents with these ids in ``status``; ``lock`` locks them in id order."""
    stmt = sa.select(IncidentRow).where(
        IncidentRow.id.in_(sorted(set(ids))), IncidentRow.status == status
    )
    if lock:
        stmt = stmt.order_by(IncidentRow.id).with_for_update()
    return list(session.execute(stmt).scalars())


def unclosed_incidents(session: Session, *, closed: str) -> list[IncidentRow]:
    """Every incident whose status is not ``closed``."""
    return list(
        session.execute(sa.select(IncidentRow).where(IncidentRow.status != closed)).scalars()
    )


def survivors(session: Session, ids: Collection[str]) -> dict[str, str]:
    """For those of ``ids`` merged into another incident: the incident they live on in."""
    rows = session.execute(
        sa.select(IncidentRow.id, IncidentRow.merged_into).where(
            IncidentRow.id.in_(sorted(set(ids))), IncidentRow.merged_into.is_not(None)
        )
    ).all()
    return {i: into for i, into in rows if into is not None}


def by_escalation(session: Session, escalation_ids: Collection[int]) -> dict[int, IncidentRow]:
    """The incidents already opened for these escalations, by escalation id."""
    if not escalation_ids:
        return {}
    rows = session.execute(
        sa.select(IncidentRow).where(IncidentRow.escalation_id.in_(sorted(set(escalation_ids))))
    ).scalars()
    return {row.escalation_id: row for row in rows if row.escalation_id is not None}


def last_sequence(session: Session, year: int) -> int:
    """The highest incident number of ``year`` (0 when there is none yet)."""
    return int(
        session.execute(
            sa.select(sa.func.coalesce(sa.func.max(IncidentRow.sequence), 0)).where(
                IncidentRow.year == year
            )
        ).scalar_one()
    )


def merged_ids(session: Session, incident_id: str) -> list[str]:
    """The duplicates merged into ``incident_id`` (directly), oldest first."""
    return list(
        session.execute(
            sa.select(IncidentRow.id)
            .where(IncidentRow.merged_into == incident_id)
            .order_by(IncidentRow.opened_at, IncidentRow.id)
        ).scalars()
    )


def repoint_merged(session: Session, old: str, new: str) -> None:
    """Duplicates merged into ``old`` now live on in ``new``."""
    session.execute(
        sa.update(IncidentRow)
        .where(IncidentRow.merged_into == old)
        .values(merged_into=new)
        .execution_options(synchronize_session=False)
    )


def alert_ids(session: Session, ids: Sequence[str]) -> list[int | None]:
    """The alert each of these incidents was opened from (None: opened by hand)."""
    if not ids:
        return []
    return list(
        session.execute(sa.select(IncidentRow.alert_id).where(IncidentRow.id.in_(ids))).scalars()
    )
