"""Query shapes the topic modules share."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import InstrumentedAttribute

from leitstand.db import Session
from leitstand.incidents.store.tables import ActionItemRow, DoraAssessmentRow

__all__ = ["rows_by_incident"]

R = TypeVar("R", ActionItemRow, DoraAssessmentRow)


def rows_by_incident(
    session: Session, row: type[R], ids: Collection[str], order: InstrumentedAttribute[Any]
) -> dict[str, list[R]]:
    """The ``row``s of many incidents (one query), by incident, each ordered by ``order``."""
    found: dict[str, list[R]] = {i: [] for i in ids}
    if not found:
        return found
    for item in session.execute(
        sa.select(row).where(row.incident_id.in_(sorted(found))).order_by(row.incident_id, order)
    ).scalars():
        found[item.incident_id].append(item)
    return found
