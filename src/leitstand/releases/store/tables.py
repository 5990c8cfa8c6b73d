"""Release tables: per service and environment the routing and slots; releases and their steps."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from leitstand.db import Base, UTCDateTime

__all__ = ["AnalysisRow", "ReleaseRow", "SlotRow", "TargetRow", "TaskRow"]


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
    # The manifest digest of the image the gates scanned for this release (its artifact
    # digest, when a gate run of the version scanned it as an image): started by digest.
    image_digest: Mapped[str | None] = mapped_column(sa.String(71))


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
