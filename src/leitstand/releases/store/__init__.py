"""The releases store: the tables (``tables``) and every query and statement of the domain.

Services call these functions with the session of their unit of work. ``releases`` holds the
releases, targets and slots, ``follow_ups`` the canary analyses and tasks; ``project_db`` is the
SQLAlchemy side of the *project's* database that releases migrate (not leitstand's own).
"""

from __future__ import annotations

from leitstand.releases.store.follow_ups import (
    add_analysis,
    add_task,
    analysis_rows,
    latest_analysis,
    open_task_titled,
    task_row,
    task_rows,
)
from leitstand.releases.store.releases import (
    add_release,
    detached_release,
    insert_target,
    last_release,
    lock_release,
    lock_target,
    release_info,
    release_row,
    release_rows,
    releases_in,
    routing_of,
    set_slot,
    target_info,
    target_infos,
    target_of,
    target_row,
    target_rows,
    version_history,
)
from leitstand.releases.store.tables import AnalysisRow, ReleaseRow, SlotRow, TargetRow, TaskRow

__all__ = [
    "AnalysisRow",
    "ReleaseRow",
    "SlotRow",
    "TargetRow",
    "TaskRow",
    "add_analysis",
    "add_release",
    "add_task",
    "analysis_rows",
    "detached_release",
    "insert_target",
    "last_release",
    "latest_analysis",
    "lock_release",
    "lock_target",
    "open_task_titled",
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
    "task_row",
    "task_rows",
    "version_history",
]
