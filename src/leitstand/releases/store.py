"""Release tables: per service and environment the routing and slots; releases and their steps."""

from __future__ import annotations

import json
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from leitstand.db import Base, UTCDateTime
from leitstand.releases.model import Phase, ReleaseInfo, Routing, TargetInfo

__all__ = [
    "AnalysisRow",
    "ReleaseRow",
    "SlotRow",
    "TargetRow",
    "TaskRow",
    "lock_release",
    "lock_target",
    "release_info",
    "routing_of",
    "set_slot",
    "target_info",
]


class TargetRow(Base):
    """A service in one environment: what serves, the committed routing, the release in flight."""

    __tablename__ = "release_targets"
    __table_args__ = (sa.UniqueConstraint("service", "env", name="uq_release_targets_service_env"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    service: Mapped[str] = mapped_column(sa.String(200))
    env: Mapped[str] = mapped_column(sa.String(64))
    active_slot: Mapped[str | None] = mapped_column(sa.String(64))
    active_version: Mapped[str | None] = mapped_column(sa.String(100))
    previous_slot: Mapped[str | None] = mapped_column(sa.String(64))
    previous_version: Mapped[str | None] = mapped_column(sa.String(100))
    previous_warm: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    routing: Mapped[str] = mapped_column(sa.Text)  # JSON: weights per slot, retired slots
    release_id: Mapped[int | None] = mapped_column(sa.Integer)  # the release in flight
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SlotRow(Base):
    """What runs in one slot."""

    __tablename__ = "release_slots"
    __table_args__ = (
        sa.UniqueConstraint("service", "env", "slot", name="uq_release_slots_service_env_slot"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    service: Mapped[str] = mapped_column(sa.String(200))
    env: Mapped[str] = mapped_column(sa.String(64))
    slot: Mapped[str] = mapped_column(sa.String(64))
    version: Mapped[str | None] = mapped_column(sa.String(100))
    pid: Mapped[int | None] = mapped_column(sa.Integer)
    state: Mapped[str] = mapped_column(sa.String(32))  # running, stopped
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReleaseRow(Base):
    """One release (or manual rollback) and the phase it is in."""

    __tablename__ = "releases"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    service: Mapped[str] = mapped_column(sa.String(200), index=True)
    env: Mapped[str] = mapped_column(sa.String(64))
    version: Mapped[str] = mapped_column(sa.String(100))
    strategy: Mapped[str] = mapped_column(sa.String(32))
    kind: Mapped[str] = mapped_column(sa.String(32))
    phase: Mapped[str] = mapped_column(sa.String(32), index=True)
    outcome: Mapped[str | None] = mapped_column(sa.String(32))  # the phase after clean-up
    seq: Mapped[int] = mapped_column(sa.Integer)  # increments on every transition
    target_slot: Mapped[str] = mapped_column(sa.String(64))
    stable_slot: Mapped[str | None] = mapped_column(sa.String(64))
    stable_version: Mapped[str | None] = mapped_column(sa.String(100))
    change_id: Mapped[int | None] = mapped_column(sa.Integer, index=True)
    requested_by: Mapped[str] = mapped_column(sa.String(200))
    requested_role: Mapped[str] = mapped_column(sa.String(64))
    approved_by: Mapped[str | None] = mapped_column(sa.String(200))
    approved_role: Mapped[str | None] = mapped_column(sa.String(64))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    step: Mapped[int] = mapped_column(sa.Integer)  # canary step index
    passes: Mapped[int] = mapped_column(sa.Integer)
    failures: Mapped[int] = mapped_column(sa.Integer)
    attempts: Mapped[int] = mapped_column(sa.Integer)  # router attempts in this phase
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_check: Mapped[str | None] = mapped_column(sa.Text)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    switched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When the rollback was decided, and how long until traffic was on the restored version.
    rollback_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rollback_seconds: Mapped[float | None] = mapped_column(sa.Float)
    snapshot: Mapped[str | None] = mapped_column(sa.Text)  # JSON: the pre-migration snapshot
    handover: Mapped[str | None] = mapped_column(sa.Text)  # JSON: the checklist's last result


class AnalysisRow(Base):
    """One canary analysis: both slots' measurements and the verdict."""

    __tablename__ = "release_analyses"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    release_id: Mapped[int] = mapped_column(
        sa.ForeignKey("releases.id", ondelete="CASCADE"), index=True
    )
    step: Mapped[int] = mapped_column(sa.Integer)
    weight: Mapped[int] = mapped_column(sa.Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime)
    verdict: Mapped[str] = mapped_column(sa.String(32))
    canary: Mapped[str] = mapped_column(sa.Text)  # JSON measurement
    stable: Mapped[str] = mapped_column(sa.Text)
    reasons: Mapped[str] = mapped_column(sa.Text)  # JSON list
    decided_by: Mapped[str | None] = mapped_column(sa.String(200))  # who resolved a pause


class TaskRow(Base):
    """A follow-up a rollback leaves: the root-cause analysis, due within the policy's time."""

    __tablename__ = "release_tasks"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    release_id: Mapped[int] = mapped_column(
        sa.ForeignKey("releases.id", ondelete="CASCADE"), index=True
    )
    service: Mapped[str] = mapped_column(sa.String(200))
    env: Mapped[str] = mapped_column(sa.String(64))
    kind: Mapped[str] = mapped_column(sa.String(32))  # root_cause, handover
    title: Mapped[str] = mapped_column(sa.Text)
    owner: Mapped[str | None] = mapped_column(sa.String(64))  # the role that must act
    status: Mapped[str] = mapped_column(sa.String(32))  # open, done
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_by: Mapped[str | None] = mapped_column(sa.String(200))
    note: Mapped[str | None] = mapped_column(sa.Text)


def release_info(row: ReleaseRow) -> ReleaseInfo:
    return ReleaseInfo(
        id=row.id,
        service=row.service,
        env=row.env,
        version=row.version,
        strategy=row.strategy,
        kind=row.kind,
        phase=Phase(row.phase),
        outcome=row.outcome,
        target_slot=row.target_slot,
        stable_slot=row.stable_slot,
        stable_version=row.stable_version,
        change_id=row.change_id,
        requested_by=row.requested_by,
        approved_by=row.approved_by,
        step=row.step,
        last_check=row.last_check,
        reason=row.reason,
        deadline=row.deadline,
        switched_at=row.switched_at,
        finished_at=row.finished_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        rollback_seconds=row.rollback_seconds,
        snapshot=json.loads(row.snapshot) if row.snapshot else None,
    )


def target_info(row: TargetRow, slots: list[SlotRow]) -> TargetInfo:
    return TargetInfo(
        service=row.service,
        env=row.env,
        active_slot=row.active_slot,
        active_version=row.active_version,
        previous_version=row.previous_version,
        previous_warm=row.previous_warm,
        routing=Routing.from_dict(json.loads(row.routing)),
        slots={s.slot: s.version for s in slots},
        release_id=row.release_id,
        updated_at=row.updated_at,
    )


def lock_release(session: Session, release_id: int, *, postgres: bool) -> ReleaseRow | None:
    stmt = sa.select(ReleaseRow).where(ReleaseRow.id == release_id)
    if postgres:
        stmt = stmt.with_for_update()
    return session.execute(stmt).scalar_one_or_none()


def lock_target(session: Session, service: str, env: str, *, postgres: bool) -> TargetRow:
    stmt = sa.select(TargetRow).where(TargetRow.service == service, TargetRow.env == env)
    if postgres:
        stmt = stmt.with_for_update()
    return session.execute(stmt).scalar_one()


def routing_of(target: TargetRow) -> Routing:
    return Routing.from_dict(json.loads(target.routing))


def set_slot(
    session: Session,
    row: ReleaseRow,
    slot: str,
    *,
    version: str | None,
    pid: int | None,
    now: datetime,
) -> None:
    found = session.execute(
        sa.select(SlotRow).where(
            SlotRow.service == row.service, SlotRow.env == row.env, SlotRow.slot == slot
        )
    ).scalar_one_or_none()
    if found is None:
        found = SlotRow(service=row.service, env=row.env, slot=slot)
        session.add(found)
    found.version = version
    found.pid = pid
    found.state = "running" if version else "stopped"
    found.updated_at = now
