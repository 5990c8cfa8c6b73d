"""The incident tables (ORM rows); the affected-tenant rows follow the ``tenants`` list, the
affected systems are rows of their own (``incident_systems``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from leitstand.db import Base, UTCDateTime

__all__ = [
    "ActionItemRow",
    "DoraAssessmentRow",
    "DoraReportRow",
    "IncidentAlertRow",
    "IncidentRow",
    "IncidentSystemRow",
    "IncidentTenantRow",
    "RecurringFindingRow",
    "system_filter",
    "tenant_filter",
]


class IncidentRow(Base):
    __tablename__ = "incidents"
    __table_args__ = (sa.UniqueConstraint("year", "sequence", name="uq_incidents_year_sequence"),)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    year: Mapped[int] = mapped_column(sa.Integer)
    sequence: Mapped[int] = mapped_column(sa.Integer)
    title: Mapped[str] = mapped_column(sa.Text)
    severity: Mapped[str] = mapped_column(sa.String(16))
    status: Mapped[str] = mapped_column(sa.String(16), index=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    opened_by: Mapped[str] = mapped_column(sa.String(200))
    service: Mapped[str | None] = mapped_column(sa.String(100))
    tenant: Mapped[str | None] = mapped_column(sa.String(100), index=True)
    source: Mapped[str] = mapped_column(sa.String(32))
    alert_id: Mapped[int | None] = mapped_column(sa.Integer)
    alert_fingerprint: Mapped[str | None] = mapped_column(sa.String(64))
    # One incident per escalation, enforced by the database (idempotent opening).
    escalation_id: Mapped[int | None] = mapped_column(sa.Integer, unique=True)
    # The response process (incidents_0002).
    phase: Mapped[str] = mapped_column(sa.String(16), server_default="detection")
    tenants: Mapped[str] = mapped_column(sa.Text, server_default="[]")  # JSON list
    commander: Mapped[str | None] = mapped_column(sa.String(200))
    scribe: Mapped[str | None] = mapped_column(sa.String(200))
    communication: Mapped[str | None] = mapped_column(sa.String(200))
    description: Mapped[str | None] = mapped_column(sa.Text)
    root_cause: Mapped[str | None] = mapped_column(sa.Text)
    root_cause_key: Mapped[str | None] = mapped_column(sa.String(100), index=True)
    impact: Mapped[str | None] = mapped_column(sa.Text)
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    detected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    aware_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    contained_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recovered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    personal_data_affected: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    gdpr_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    postmortem_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    postmortem_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    informed: Mapped[str] = mapped_column(sa.Text, server_default="[]")  # JSON: rule keys
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A duplicate closed by merging names the incident it lives on in (incidents_0004).
    merged_into: Mapped[str | None] = mapped_column(sa.String(32), index=True)
    # The affected systems, in the incident's order (incidents_0005); loaded with the incident.
    system_rows: Mapped[list[IncidentSystemRow]] = relationship(
        order_by="IncidentSystemRow.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="selectin",
    )

    @property
    def system_names(self) -> list[str]:
        """The affected systems, in order."""
        return [r.system for r in self.system_rows]

    @system_names.setter
    def system_names(self, value: Sequence[str]) -> None:
        names = _distinct(value)
        kept = {r.system: r for r in self.system_rows}
        rows = []
        for position, name in enumerate(names):
            row = kept.get(name) or IncidentSystemRow(system=name)
            row.position = position
            rows.append(row)
        self.system_rows = rows


class IncidentSystemRow(Base):
    """One affected system of an incident (incidents_0005): a system filter runs in SQL."""

    __tablename__ = "incident_systems"

    incident_id: Mapped[str] = mapped_column(
        sa.String(32), sa.ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    system: Mapped[str] = mapped_column(sa.String(100), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(sa.Integer)


def _distinct(values: Sequence[object]) -> list[str]:
    return list(dict.fromkeys(str(v) for v in values if v))


def _json_names(text: str | None) -> list[str]:
    """The names of a JSON list (an unreadable or non-list value: none)."""
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return []
    return _distinct(value) if isinstance(value, list) else []


class IncidentTenantRow(Base):
    """One affected tenant of an incident: the incident's ``tenants`` list as rows, so that a
    tenant filter runs in SQL on both backends (incidents_0003). Kept in step with the JSON list
    by the mapper events below, whichever code writes the list."""

    __tablename__ = "incident_tenants"

    incident_id: Mapped[str] = mapped_column(
        sa.String(32), sa.ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    tenant: Mapped[str] = mapped_column(sa.String(100), primary_key=True, index=True)


def _tenants_of(row: IncidentRow) -> list[str]:
    return _json_names(row.tenants)


def _write_tenants(connection: sa.Connection, row: IncidentRow, *, replace: bool) -> None:
    table = cast(sa.Table, IncidentTenantRow.__table__)
    if replace:
        connection.execute(sa.delete(table).where(table.c.incident_id == row.id))
    tenants = _tenants_of(row)
    if tenants:
        connection.execute(
            sa.insert(table), [{"incident_id": row.id, "tenant": t} for t in tenants]
        )


@sa.event.listens_for(IncidentRow, "after_insert")
def _tenants_inserted(_mapper: Any, connection: sa.Connection, target: IncidentRow) -> None:
    _write_tenants(connection, target, replace=False)


@sa.event.listens_for(IncidentRow, "after_update")
def _tenants_updated(_mapper: Any, connection: sa.Connection, target: IncidentRow) -> None:
    if sa.inspect(target).attrs.tenants.history.has_changes():
        _write_tenants(connection, target, replace=True)


def tenant_filter(tenant: str) -> sa.ColumnElement[bool]:
    """A WHERE clause on ``IncidentRow``: the incident affects ``tenant`` (an indexed lookup)."""
    return IncidentRow.id.in_(
        sa.select(IncidentTenantRow.incident_id).where(IncidentTenantRow.tenant == tenant)
    )


def system_filter(system: str) -> sa.ColumnElement[bool]:
    """A WHERE clause on ``IncidentRow``: the incident affects ``system`` (an indexed lookup)."""
    return IncidentRow.id.in_(
        sa.select(IncidentSystemRow.incident_id).where(IncidentSystemRow.system == system)
    )


class ActionItemRow(Base):
    """A Maßnahme of an incident, numbered per incident."""

    __tablename__ = "incident_actions"
    __table_args__ = (
        sa.UniqueConstraint("incident_id", "number", name="uq_incident_actions_number"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(
        sa.String(32), sa.ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(sa.Integer)
    title: Mapped[str] = mapped_column(sa.Text)
    owner: Mapped[str] = mapped_column(sa.String(200))
    due_date: Mapped[date] = mapped_column(sa.Date)
    status: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(sa.String(200))
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DoraAssessmentRow(Base):
    """One tenant's DORA classification of an incident, and its report submissions."""

    __tablename__ = "incident_dora"
    __table_args__ = (sa.UniqueConstraint("incident_id", "tenant", name="uq_incident_dora_tenant"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(
        sa.String(32), sa.ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    tenant: Mapped[str] = mapped_column(sa.String(100), index=True)
    entity_type: Mapped[str] = mapped_column(sa.String(64))
    inputs: Mapped[str] = mapped_column(sa.Text)  # JSON: the assessment facts
    major: Mapped[bool] = mapped_column(sa.Boolean)
    criteria: Mapped[str] = mapped_column(sa.Text)  # JSON list
    aware_at: Mapped[datetime] = mapped_column(UTCDateTime)
    classified_at: Mapped[datetime] = mapped_column(UTCDateTime)
    assessed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    assessed_by: Mapped[str] = mapped_column(sa.String(200))
    initial_submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    intermediate_submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    final_submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DoraReportRow(Base):
    """A submitted report: the exact draft that went to the authority, and when."""

    __tablename__ = "incident_reports"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(
        sa.String(32), sa.ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    tenant: Mapped[str] = mapped_column(sa.String(100))
    stage: Mapped[str] = mapped_column(sa.String(16))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    submitted_by: Mapped[str] = mapped_column(sa.String(200))
    reference: Mapped[str | None] = mapped_column(sa.String(200))
    content: Mapped[str] = mapped_column(sa.Text)  # JSON report
    sha256: Mapped[str] = mapped_column(sa.String(64))


class IncidentAlertRow(Base):
    """An alert leitstand raised for an incident's deadline (to resolve it, and to link its
    escalation to this incident instead of opening a new one)."""

    __tablename__ = "incident_alerts"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(
        sa.String(32), sa.ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    fingerprint: Mapped[str] = mapped_column(sa.String(64), index=True)
    clock: Mapped[str] = mapped_column(sa.String(64))
    tenant: Mapped[str | None] = mapped_column(sa.String(100))
    stage: Mapped[str] = mapped_column(sa.String(16))
    alert_id: Mapped[int | None] = mapped_column(sa.Integer)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RecurringFindingRow(Base):
    """A group of recurring incidents found to be major together (Art. 8(2)), found once."""

    __tablename__ = "incident_recurring"
    __table_args__ = (
        sa.UniqueConstraint("tenant", "root_cause_key", "incidents", name="uq_incident_recurring"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(sa.String(100))
    root_cause_key: Mapped[str] = mapped_column(sa.String(100))
    incidents: Mapped[str] = mapped_column(sa.String(500))  # comma-separated ids
    criteria: Mapped[str] = mapped_column(sa.Text)  # JSON list
    found_at: Mapped[datetime] = mapped_column(UTCDateTime)
