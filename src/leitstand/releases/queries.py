"""Reading releases: what serves where, the history, analyses, timelines, root-cause tasks.

The read models are Pydantic models (``model.ReleaseInfo`` and those of ``schemas``): what the
API, the pages and ``--json`` show.
"""

from __future__ import annotations

import json
from datetime import datetime

from leitstand.clock import Clock
from leitstand.db import Database
from leitstand.errors import NotFoundError
from leitstand.ledger.service import EntryQuery, Ledger
from leitstand.policy.model import Policy
from leitstand.releases.model import IN_FLIGHT, ReleaseInfo, Routing, TargetInfo
from leitstand.releases.schemas import AnalysisOut, ReleaseDetailOut, TaskOut, TimelineEntryOut
from leitstand.releases.store import (
    AnalysisRow,
    TaskRow,
    analysis_rows,
    release_info,
    release_row,
    release_rows,
    releases_in,
    target_infos,
    task_rows,
)

__all__ = ["ReleaseQueries", "analysis_out", "task_out"]


class ReleaseQueries:
    """Read-only views of releases (the base of ``ReleaseService``)."""

    def __init__(self, *, db: Database, ledger: Ledger, clock: Clock, policy: Policy) -> None:
        self.db = db
        self.ledger = ledger
        self.clock = clock
        self.policy = policy

    def get(self, release_id: int) -> ReleaseInfo:
        with self.db.reader() as session:
            row = release_row(session, release_id)
            if row is None:
                raise NotFoundError(f"release #{release_id} does not exist")
            return release_info(row)

    def history(
        self, *, service: str | None = None, env: str | None = None, limit: int = 100
    ) -> list[ReleaseInfo]:
        with self.db.reader() as session:
            rows = release_rows(session, service=service, env=env, limit=limit)
            return [release_info(r) for r in rows]

    def detail(self, release_id: int) -> ReleaseDetailOut:
        """One release with its canary analyses and its evidence timeline."""
        return ReleaseDetailOut.of_release(
            self.get(release_id),
            analyses=self.analysis_list(release_id),
            timeline=self.timeline_entries(release_id),
        )

    def targets(self) -> list[TargetInfo]:
        """Every configured service and environment with what serves it now."""
        with self.db.reader() as session:
            rows = target_infos(session)
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

    def analysis_list(self, release_id: int) -> list[AnalysisOut]:
        """The release's canary analyses, oldest first."""
        with self.db.reader() as session:
            return [analysis_out(a) for a in analysis_rows(session, release_id)]

    def timeline_entries(self, release_id: int) -> list[TimelineEntryOut]:
        """The release's ledger entries, oldest first."""
        with self.db.reader() as session:
            entries = self.ledger.entries(
                session,
                EntryQuery(subject=f"release:{release_id}", newest_first=False, limit=None),
            )
        return [
            TimelineEntryOut(
                index=e.index,
                time=e.time,
                actor=e.actor,
                role=e.role,
                action=e.action,
                payload=e.payload,
            )
            for e in entries
        ]

    def task_list(self, *, status: str | None = None) -> list[TaskOut]:
        """Follow-up tasks (root cause, handover), earliest due first."""
        with self.db.reader() as session:
            return [task_out(t, self.clock.now()) for t in task_rows(session, status=status)]

    def in_flight(self) -> list[ReleaseInfo]:
        with self.db.reader() as session:
            return [release_info(r) for r in releases_in(session, IN_FLIGHT)]


def analysis_out(row: AnalysisRow) -> AnalysisOut:
    return AnalysisOut(
        step=row.step,
        weight=row.weight,
        started_at=row.started_at,
        ended_at=row.ended_at,
        verdict=row.verdict,
        canary=json.loads(row.canary),
        stable=json.loads(row.stable),
        reasons=json.loads(row.reasons),
        decided_by=row.decided_by,
    )


def task_out(task: TaskRow, now: datetime) -> TaskOut:
    return TaskOut(
        id=task.id,
        release_id=task.release_id,
        service=task.service,
        env=task.env,
        kind=task.kind,
        title=task.title,
        owner=task.owner,
        status=task.status,
        overdue=task.status == "open" and now > task.due_at,
        due_at=task.due_at,
        done_at=task.done_at,
        done_by=task.done_by,
        note=task.note,
    )
