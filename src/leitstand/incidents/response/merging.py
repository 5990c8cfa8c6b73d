"""Merge a duplicate incident into the one that lives on (close it as a duplicate).

The duplicate is closed with a reference to the survivor (``merged_into``); its clocks stop
(its pending deadline timers are cancelled, its open deadline alerts resolved, and a timer that
still fires finds it merged and does nothing); its systems and tenants join the survivor, its
alerts lead to the survivor, DORA assessments of tenants the survivor has none for move over,
and the survivor's timeline shows the duplicate's entries. Both incidents get an
``incident.merged`` evidence entry with the reason.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from leitstand.auth.model import Actor
from leitstand.db import Session
from leitstand.errors import ConflictError, Issue, ValidationError
from leitstand.incidents import store
from leitstand.incidents.model import IncidentStatus, label_pair
from leitstand.incidents.store import IncidentRow

if TYPE_CHECKING:
    from leitstand.incidents.response.deadline_timers import IncidentClocks
    from leitstand.incidents.service import IncidentService

__all__ = ["check_merge", "check_reason", "merge_rows"]


def check_merge(duplicate: IncidentRow, survivor: IncidentRow) -> None:
    """Refuse a merge that cannot be: closed, already merged, into itself, into a merged one."""
    if duplicate.id == survivor.id:
        raise ConflictError(f"incident {duplicate.id} cannot be merged into itself")
    if duplicate.merged_into is not None:
        raise ConflictError(
            f"incident {duplicate.id} was already merged into {duplicate.merged_into}"
        )
    if survivor.merged_into is not None:
        raise ConflictError(
            f"incident {survivor.id} was itself merged into {survivor.merged_into}; "
            f"merge into {survivor.merged_into} instead"
        )
    for row in (duplicate, survivor):
        if row.status == IncidentStatus.CLOSED.value:
            raise ConflictError(f"incident {row.id} is closed; only open incidents can be merged")


def check_reason(reason: str) -> str:
    text = reason.strip()
    if not text:
        raise ValidationError([Issue("reason", "why the incidents are one (got an empty string)")])
    return text[:2000]


def _union(first: list[str], second: list[str]) -> list[str]:
    return list(dict.fromkeys(str(v) for v in first + second if v))


def merge_rows(
    service: IncidentService,
    session: Session,
    duplicate: IncidentRow,
    survivor: IncidentRow,
    *,
    reason: str,
    actor: Actor,
    clocks: IncidentClocks | None,
) -> dict[str, object]:
    """Merge ``duplicate`` into ``survivor`` in the caller's transaction (both rows locked)."""
    check_merge(duplicate, survivor)
    now = service.clock.now()
    # The duplicate's clocks stop first: its timers are cancelled, its deadline alerts resolved.
    cancelled = clocks.stop(session, duplicate, now) if clocks is not None else 0
    own_tenants: list[str] = json.loads(survivor.tenants or "[]")
    systems = _union(survivor.system_names, duplicate.system_names)
    tenants = _union(own_tenants, json.loads(duplicate.tenants or "[]"))
    joined = {
        "systems": [s for s in systems if s not in survivor.system_names],
        "tenants": [t for t in tenants if t not in own_tenants],
    }
    survivor.system_names, survivor.tenants = systems, json.dumps(tenants)
    # Deadline alerts of the duplicate now lead back to the survivor (their escalations too).
    alert_links = store.response.move_deadline_alerts(session, duplicate.id, survivor.id)
    assessed = store.dora.assessed_tenants(session, survivor.id)
    moved = []
    for record in store.dora.assessments(session, duplicate.id):
        if record.tenant not in assessed:
            record.incident_id = survivor.id
            moved.append(record.tenant)
    # Duplicates merged into the duplicate before now live on in the survivor as well.
    store.incidents.repoint_merged(session, duplicate.id, survivor.id)
    duplicate.merged_into = survivor.id
    duplicate.status = IncidentStatus.CLOSED.value
    duplicate.closed_at = now
    duplicate.updated_at = survivor.updated_at = now
    payload: dict[str, object] = {
        "duplicate": duplicate.id,
        "into": survivor.id,
        "reason": reason,
        "joined": joined,
        "alerts": [a for a in (duplicate.alert_id,) if a is not None],
        "alert_links": alert_links,
        "dora_assessments": sorted(moved),
        "timers_cancelled": cancelled,
    }
    service.ledger.record(
        session,
        actor,
        "incident.merged",
        f"incident:{duplicate.id}",
        payload={
            **payload,
            **label_pair(
                f"Als Duplikat von {survivor.id} geschlossen: {reason[:200]}",
                f"Closed as duplicate of {survivor.id}: {reason[:200]}",
            ),
        },
    )
    service.ledger.record(
        session,
        actor,
        "incident.merged",
        f"incident:{survivor.id}",
        payload={
            **payload,
            **label_pair(
                f"Duplikat {duplicate.id} übernommen: {reason[:200]}",
                f"Duplicate {duplicate.id} merged in: {reason[:200]}",
            ),
        },
    )
    # The survivor's rules and timers follow its new tenants; the duplicate's hooks see it closed.
    service.after_change(session, survivor, why="merged")
    return payload
