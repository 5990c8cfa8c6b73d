"""Flag tables and their repository: one row per flag, one per flag and environment.

Variants and each environment's targeting (with its tenant lists: ``rules[].tenants``,
``exclude_tenants``) are JSON columns, stored in the TargetingSchema shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from leitstand.db import Base, UTCDateTime
from leitstand.flags.model import FlagRecord, Targeting, ValueType
from leitstand.flags.schemas import TargetingSchema

__all__ = ["FlagRow", "FlagStore", "FlagTargetingRow", "targeting_document"]


class FlagRow(Base):
    __tablename__ = "flags"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(100), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(50))
    value_type: Mapped[str] = mapped_column(sa.String(16))
    description: Mapped[str] = mapped_column(sa.Text)
    owner: Mapped[str | None] = mapped_column(sa.String(200))
    # Variant name -> value, stored with sorted names (the order variants are read in).
    variants: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    off_variant: Mapped[str] = mapped_column(sa.String(64))
    # Incremented by every change; the sum over all rows is the snapshot revision.
    version: Mapped[int] = mapped_column(sa.Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(sa.String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    targeting: Mapped[list[FlagTargetingRow]] = relationship(
        back_populates="flag", cascade="all, delete-orphan", lazy="selectin"
    )


class FlagTargetingRow(Base):
    __tablename__ = "flag_targeting"
    __table_args__ = (
        sa.UniqueConstraint("flag_id", "environment", name="uq_flag_targeting_flag_environment"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    flag_id: Mapped[int] = mapped_column(sa.ForeignKey("flags.id", ondelete="CASCADE"), index=True)
    environment: Mapped[str] = mapped_column(sa.String(64))
    config: Mapped[dict[str, Any]] = mapped_column(sa.JSON)  # TargetingSchema document
    full_rollout_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    flag: Mapped[FlagRow] = relationship(back_populates="targeting")


def _record(row: FlagRow) -> FlagRecord:
    environments: dict[str, Targeting] = {}
    since: dict[str, datetime | None] = {}
    for t in row.targeting:
        environments[t.environment] = TargetingSchema.model_validate(t.config).to_model()
        since[t.environment] = t.full_rollout_since
    return FlagRecord(
        key=row.key,
        kind=row.kind,
        value_type=ValueType(row.value_type),
        variants=dict(row.variants),
        off_variant=row.off_variant,
        description=row.description,
        owner=row.owner,
        environments=environments,
        created_at=row.created_at,
        updated_at=row.updated_at,
        version=row.version,
        archived_at=row.archived_at,
        full_rollout_since=since,
    )


def targeting_document(targeting: Targeting) -> dict[str, Any]:
    """The stored JSON document of one environment's targeting."""
    return TargetingSchema.of(targeting).model_dump(mode="json")


def _variants(variants: Mapping[str, object]) -> dict[str, Any]:
    return dict(sorted(variants.items()))


class FlagStore:
    """Reads and writes flag rows inside the caller's session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def row(self, key: str, *, lock: bool = False) -> FlagRow | None:
        stmt = sa.select(FlagRow).where(FlagRow.key == key)
        if lock and self.session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        return self.session.execute(stmt).scalar_one_or_none()

    def get(self, key: str) -> FlagRecord | None:
        row = self.row(key)
        return _record(row) if row is not None else None

    def record(self, row: FlagRow) -> FlagRecord:
        return _record(row)

    def all(self, *, include_archived: bool = True) -> list[FlagRecord]:
        stmt = sa.select(FlagRow).order_by(FlagRow.key)
        if not include_archived:
            stmt = stmt.where(FlagRow.archived_at.is_(None))
        return [_record(r) for r in self.session.execute(stmt).scalars()]

    def revision(self) -> int:
        """Grows with every change to any flag (the sum of the rows' versions)."""
        # A new flag adds a row with version 1, every change adds 1: the sum only grows.
        total = self.session.execute(sa.select(sa.func.coalesce(sa.func.sum(FlagRow.version), 0)))
        return int(total.scalar_one())

    def add(self, record: FlagRecord, *, created_by: str) -> FlagRow:
        row = FlagRow(
            key=record.key,
            kind=record.kind,
            value_type=record.value_type.value,
            description=record.description,
            owner=record.owner,
            variants=_variants(record.variants),
            off_variant=record.off_variant,
            version=record.version,
            created_at=record.created_at,
            created_by=created_by,
            updated_at=record.updated_at,
            archived_at=record.archived_at,
        )
        for env, targeting in record.environments.items():
            row.targeting.append(
                FlagTargetingRow(
                    environment=env,
                    config=targeting_document(targeting),
                    full_rollout_since=record.full_rollout_since.get(env),
                    updated_at=record.updated_at,
                )
            )
        self.session.add(row)
        self.session.flush()
        return row

    def save(self, row: FlagRow, record: FlagRecord) -> None:
        """Write ``record`` over ``row`` (the caller bumped the version)."""
        row.kind = record.kind
        row.description = record.description
        row.owner = record.owner
        row.variants = _variants(record.variants)
        row.off_variant = record.off_variant
        row.version = record.version
        row.updated_at = record.updated_at
        row.archived_at = record.archived_at
        existing = {t.environment: t for t in row.targeting}
        for env, targeting in record.environments.items():
            document = targeting_document(targeting)
            since = record.full_rollout_since.get(env)
            current = existing.get(env)
            if current is None:
                row.targeting.append(
                    FlagTargetingRow(
                        environment=env,
                        config=document,
                        full_rollout_since=since,
                        updated_at=record.updated_at,
                    )
                )
            elif current.config != document or current.full_rollout_since != since:
                current.config = document
                current.full_rollout_since = since
                current.updated_at = record.updated_at
        self.session.flush()
