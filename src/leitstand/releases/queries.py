"""Reading releases: what serves where, the history, analyses, timelines, root-cause tasks."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from leitstand.clock import Clock
from leitstand.db import Database
from leitstand.errors import NotFoundError
from leitstand.ledger.service import EntryQuery, Ledger
from leitstand.policy.model import Policy
from leitstand.releases.model import IN_FLIGHT, ReleaseInfo, Routing, TargetInfo
from leitstand.releases.store import (
    AnalysisRow,
    ReleaseRow,
    SlotRow,
    TargetRow,
    TaskRow,
    release_info,
    target_info,
)

__all__ = ["ReleaseQueries", "task_dict"]


class ReleaseQueries:
    """Read-only views of releases (the base of ``ReleaseService``)."""

    def __init__(self, *, db: Database, ledger: Ledger, clock: Clock, policy: Policy) -> None:
        self.db = db
        self.ledger = ledger
        self.clock = clock
        self.policy = policy

    def get(self, release_id: int) -> ReleaseInfo:
        with self.db.reader() as session:
            row = session.get(ReleaseRow, release_id)
            if row is None:
                raise NotFoundError(f"release #{release_id} does not exist")
            return release_info(row)

    def history(
        self, *, service: str | None = None, env: str | None = None, limit: int = 100
    ) -> list[ReleaseInfo]:
        stmt = sa.select(ReleaseRow).order_by(ReleaseRow.id.desc()).limit(limit)
        if service:
            stmt = stmt.where(ReleaseRow.service == service)
        if env:
            stmt = stmt.where(ReleaseRow.env == env)
        with self.db.reader() as session:
            return [release_info(r) for r in session.execute(stmt).scalars()]

    def targets(self) -> list[TargetInfo]:
        """Every configured service and environment with what serves it now."""
        with self.db.reader() as session:
            slots = list(session.execute(sa.select(SlotRow)).scalars())
            rows = {
                (t.service, t.env): target_info(
                    t, [s for s in slots if (s.service, s.env) == (t.service, t.env)]
                )
                for t in session.execute(sa.select(TargetRow)).scalars()
            }
        found: list[TargetInfo] = []
        for service, target in self.policy.deployment.releases.items():
            for env, environment in target.environments.items():
                info = rows.get((service, env))
                if info is None:
                    found.append(
                        TargetInfo(
                            service=service,
                            env=env,
                            active_slot=None,
                            active_version=None,
                            previous_version=None,
                            previous_warm=False,
                            routing=Routing.empty(list(environment.instances)),
                            slots=dict.fromkeys(environment.instances),
                            release_id=None,
                            updated_at=None,
                        )
                    )
                else:
                    found.append(info)
        return found

    def analyses(self, release_id: int) -> list[dict[str, Any]]:
        with self.db.reader() as session:
            rows = session.execute(
                sa.select(AnalysisRow)
                .where(AnalysisRow.release_id == release_id)
                .order_by(AnalysisRow.id)
            ).scalars()
            return [
                {
                    "step": a.step,
                    "weight": a.weight,
                    "started_at": a.started_at.isoformat(),
                    "ended_at": a.ended_at.isoformat(),
                    "verdict": a.verdict,
                    "canary": json.loads(a.canary),
                    "stable": json.loads(a.stable),
                    "reasons": json.loads(a.reasons),
                    "decided_by": a.decided_by,
                }
                for a in rows
            ]

    def timeline(self, release_id: int) -> list[dict[str, Any]]:
        """The release's ledger entries, oldest first."""
        with self.db.reader() as session:
            entries = self.ledger.entries(
                session,
                EntryQuery(subject=f"release:{release_id}", newest_first=False, limit=None),
            )
        return [
            {
                "index": e.index,
                "time": e.time,
                "actor": e.actor,
                "role": e.role,
                "action": e.action,
                "payload": e.payload,
            }
            for e in entries
        ]

    def tasks(self, *, status: str | None = None) -> list[dict[str, Any]]:
        stmt = sa.select(TaskRow).order_by(TaskRow.due_at)
        if status:
            stmt = stmt.where(TaskRow.status == status)
        with self.db.reader() as session:
            return [task_dict(t, self.clock.now()) for t in session.execute(stmt).scalars()]

    def in_flight(self) -> list[ReleaseInfo]:
        phases = [p.value for p in IN_FLIGHT]
        with self.db.reader() as session:
            rows = session.execute(
                sa.select(ReleaseRow).where(ReleaseRow.phase.in_(phases)).order_by(ReleaseRow.id)
            ).scalars()
            return [release_info(r) for r in rows]


def task_dict(task: TaskRow, now: Any) -> dict[str, Any]:
    return {
        "id": task.id,
        "release_id": task.release_id,
        "service": task.service,
        "env": task.env,
        "kind": task.kind,
        "title": task.title,
        "owner": task.owner,
        "status": task.status,
        "overdue": task.status == "open" and now > task.due_at,
        "due_at": task.due_at.isoformat(),
        "done_at": task.done_at.isoformat() if task.done_at else None,
        "done_by": task.done_by,
        "note": task.note,
    }
