"""Queries and statements on releases, their targets (service and environment) and slots."""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from leitstand.releases.model import Phase, ReleaseInfo, Routing, TargetInfo
from leitstand.releases.store.tables import ReleaseRow, SlotRow, TargetRow

__all__ = [
    "add_release",
    "detached_release",
    "insert_target",
    "last_release",
    "lock_release",
    "lock_target",
    "release_info",
    "release_row",
    "release_rows",
    "releases_in",
    "routing_of",
    "set_slot",
    "target_info",
    "target_infos",
    "target_of",
    "target_row",
    "target_rows",
    "version_history",
]


def release_info(row: ReleaseRow) -> ReleaseInfo:
    """The read model of a release row: its columns of the same names, the snapshot parsed."""
    fields = {name: getattr(row, name) for name in ReleaseInfo.model_fields}
    fields["phase"] = Phase(row.phase)
    fields["snapshot"] = json.loads(row.snapshot) if row.snapshot else None
    return ReleaseInfo(**fields)


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


def routing_of(target: TargetRow) -> Routing:
    return Routing.from_dict(json.loads(target.routing))


# -- releases ----------------------------------------------------------------------------------


def release_row(session: Session, release_id: int) -> ReleaseRow | None:
    """The release, or None (no lock)."""
    return session.get(ReleaseRow, release_id)


def detached_release(session: Session, release_id: int) -> ReleaseRow | None:
    """The release as committed, detached: readable after ``session`` closed."""
    row = session.get(ReleaseRow, release_id)
    if row is not None:
        session.expunge(row)
    return row


def lock_release(session: Session, release_id: int, *, postgres: bool) -> ReleaseRow | None:
    """The release, locked for this transaction on PostgreSQL."""
    stmt = sa.select(ReleaseRow).where(ReleaseRow.id == release_id)
    if postgres:
        stmt = stmt.with_for_update()
    return session.execute(stmt).scalar_one_or_none()


def add_release(session: Session, row: ReleaseRow) -> None:
    """Insert a new release (its ``id`` is set afterwards)."""
    session.add(row)
    session.flush()


def release_rows(
    session: Session, *, service: str | None = None, env: str | None = None, limit: int = 100
) -> list[ReleaseRow]:
    """Releases, newest first."""
    stmt = sa.select(ReleaseRow).order_by(ReleaseRow.id.desc()).limit(limit)
    if service:
        stmt = stmt.where(ReleaseRow.service == service)
    if env:
        stmt = stmt.where(ReleaseRow.env == env)
    return list(session.execute(stmt).scalars())


def releases_in(session: Session, phases: Collection[Phase]) -> list[ReleaseRow]:
    """Releases in one of ``phases``, oldest first."""
    stmt = (
        sa.select(ReleaseRow)
        .where(ReleaseRow.phase.in_([p.value for p in phases]))
        .order_by(ReleaseRow.id)
    )
    return list(session.execute(stmt).scalars())


def last_release(session: Session, service: str, env: str) -> ReleaseRow | None:
    """The newest release of a service in an environment."""
    return session.execute(
        sa.select(ReleaseRow)
        .where(ReleaseRow.service == service, ReleaseRow.env == env)
        .order_by(ReleaseRow.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def version_history(
    session: Session, service: str, env: str
) -> list[tuple[str, str, str, str | None]]:
    """``(version, kind, phase, stable_version)`` of every release, oldest first."""
    rows = session.execute(
        sa.select(ReleaseRow.version, ReleaseRow.kind, ReleaseRow.phase, ReleaseRow.stable_version)
        .where(ReleaseRow.service == service, ReleaseRow.env == env)
        .order_by(ReleaseRow.id)
    ).all()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


# -- targets and slots -------------------------------------------------------------------------


def target_row(session: Session, service: str, env: str) -> TargetRow | None:
    """The target of a service in an environment, or None before its first release."""
    return session.execute(
        sa.select(TargetRow).where(TargetRow.service == service, TargetRow.env == env)
    ).scalar_one_or_none()


def target_of(session: Session, service: str, env: str) -> TargetRow:
    """The target of a release (it exists once a release started), no lock."""
    return lock_target(session, service, env, postgres=False)


def lock_target(session: Session, service: str, env: str, *, postgres: bool) -> TargetRow:
    """The (existing) target, locked for this transaction on PostgreSQL."""
    stmt = sa.select(TargetRow).where(TargetRow.service == service, TargetRow.env == env)
    if postgres:
        stmt = stmt.with_for_update()
    return session.execute(stmt).scalar_one()


def insert_target(session: Session, row: TargetRow) -> bool:
    """Insert a first-contact target; False when another transaction inserted it first."""
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return False
    return True


def target_rows(session: Session) -> list[TargetRow]:
    """Every target that was ever released."""
    return list(session.execute(sa.select(TargetRow)).scalars())


def target_infos(session: Session) -> dict[tuple[str, str], TargetInfo]:
    """Every released target with the versions in its slots, by ``(service, env)``."""
    slots = list(session.execute(sa.select(SlotRow)).scalars())
    return {
        (t.service, t.env): target_info(
            t, [s for s in slots if (s.service, s.env) == (t.service, t.env)]
        )
        for t in target_rows(session)
    }


def set_slot(
    session: Session,
    row: ReleaseRow,
    slot: str,
    *,
    version: str | None,
    pid: int | None,
    now: datetime,
) -> None:
    """Record what runs in ``slot`` of the release's target (None: stopped)."""
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
