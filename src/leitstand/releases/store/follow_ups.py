"""Queries and statements on canary analyses and the follow-up tasks of releases."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from leitstand.releases.store.tables import AnalysisRow, TaskRow

__all__ = [
    "add_analysis",
    "add_task",
    "analysis_rows",
    "latest_analysis",
    "open_task_titled",
    "task_row",
    "task_rows",
]


def add_analysis(session: Session, row: AnalysisRow) -> None:
    session.add(row)


def analysis_rows(session: Session, release_id: int) -> list[AnalysisRow]:
    """The release's analyses, oldest first."""
    return list(
        session.execute(
            sa.select(AnalysisRow)
            .where(AnalysisRow.release_id == release_id)
            .order_by(AnalysisRow.id)
        ).scalars()
    )


def latest_analysis(session: Session, release_id: int) -> AnalysisRow | None:
    return session.execute(
        sa.select(AnalysisRow)
        .where(AnalysisRow.release_id == release_id)
        .order_by(AnalysisRow.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def add_task(session: Session, row: TaskRow) -> None:
    """Insert a task (its ``id`` is set afterwards)."""
    session.add(row)
    session.flush()


def task_row(session: Session, task_id: int) -> TaskRow | None:
    return session.get(TaskRow, task_id)


def task_rows(session: Session, *, status: str | None = None) -> list[TaskRow]:
    """Tasks by due time, earliest first."""
    stmt = sa.select(TaskRow).order_by(TaskRow.due_at)
    if status:
        stmt = stmt.where(TaskRow.status == status)
    return list(session.execute(stmt).scalars())


def open_task_titled(session: Session, release_id: int, kind: str, prefix: str) -> TaskRow | None:
    """The open task of a release and kind whose title starts with ``prefix``."""
    return session.execute(
        sa.select(TaskRow).where(
            TaskRow.release_id == release_id,
            TaskRow.kind == kind,
            TaskRow.status == "open",
            TaskRow.title.startswith(prefix),
        )
    ).scalar_one_or_none()
