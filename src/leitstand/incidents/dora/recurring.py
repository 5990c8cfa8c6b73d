"""Recurring incidents (DORA Art. 8(2)): the monthly check for incidents major together.

Per tenant, incidents with the same root-cause key that are not major on their own but meet
Art. 8(1) together count as one major incident (grouping rules in ``dora``). Recording a group
stores it once, informs the reporting clocks of its latest incident and raises an alert;
tenants of entity type microenterprise are skipped.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from leitstand.db import Session
from leitstand.incidents import store
from leitstand.incidents.dora.classification import Occurrence, assessment_of, recurring_groups
from leitstand.incidents.parts import ACTOR, IncidentFacade, IncidentPart
from leitstand.incidents.store import RecurringFindingRow
from leitstand.scheduler.service import JobContext

__all__ = ["RECURRING", "RecurringIncidents"]

#: Scheduler job kind of the monthly check.
RECURRING = "incidents.recurring"


class RecurringIncidents(IncidentPart):
    """Find, record and alert groups of recurring incidents per tenant.

    Args:
        incidents: the incident service (store, ledger, clocks and policy).
        entity_type: the entity type of a tenant (its policy entry, else the default).
    """

    def __init__(self, incidents: IncidentFacade, *, entity_type: Callable[[str], str]) -> None:
        super().__init__(incidents)
        self.entity_type = entity_type

    def find(self, session: Session, *, now: datetime, record: bool) -> list[dict[str, Any]]:
        """Find groups of recurring incidents per tenant; ``record`` stores and alerts new ones."""
        rows = store.dora.assessments_with_root_cause(session)
        by_tenant: dict[str, list[Occurrence]] = {}
        for assessment, incident in rows:
            if self.entity_type(assessment.tenant) in ("microenterprise",):
                continue
            by_tenant.setdefault(assessment.tenant, []).append(
                Occurrence(
                    incident_id=incident.id,
                    root_cause=incident.root_cause_key or "",
                    occurred_at=incident.occurred_at or incident.opened_at,
                    assessment=assessment_of(json.loads(assessment.inputs)),
                    major=assessment.major,
                )
            )
        found: list[dict[str, Any]] = []
        for tenant in sorted(by_tenant):
            for group in recurring_groups(by_tenant[tenant], now=now):
                item = {
                    "tenant": tenant,
                    "root_cause_key": group.root_cause,
                    "incidents": group.incident_ids,
                    "criteria_met": [c.value for c in group.classification.criteria_met],
                    "reasons": group.classification.reason_texts("de"),
                }
                found.append(item)
                if record:
                    self._record(session, item, now)
        return found

    def _record(self, session: Session, item: dict[str, Any], now: datetime) -> None:
        ids = ",".join(item["incidents"])
        if store.dora.finding_exists(session, item["tenant"], item["root_cause_key"], ids):
            return
        session.add(
            RecurringFindingRow(
                tenant=item["tenant"],
                root_cause_key=item["root_cause_key"],
                incidents=ids,
                criteria=json.dumps(item["criteria_met"]),
                found_at=now,
            )
        )
        latest = self.incidents.load_row(session, item["incidents"][-1])
        self.ledger.record(
            session,
            ACTOR,
            "incident.recurring_major",
            f"incident:{latest.id}",
            tenant=item["tenant"],
            payload={
                **item,
                "label_de": f"Wiederholte Vorfälle ({ids}) zusammen schwerwiegend "
                f"(Art. 8 Abs. 2) für {item['tenant']}",
                "label_en": f"Recurring incidents ({ids}) major together (Art. 8(2)) "
                f"for {item['tenant']}",
            },
        )
        self.incidents.clocks.inform(
            session, latest, reportable=True, why=f"Art. 8(2): {item['tenant']} {ids}"
        )
        self.incidents.clocks.alerts.raise_alert(
            session,
            name="RecurringMajorIncident",
            severity=self.policy.incidents.response.near_deadline_alert,
            summary=f"{item['tenant']}: {ids} together major (DORA Art. 8(2))",
            labels={"incident": latest.id, "root_cause": item["root_cause_key"]},
            tenant=item["tenant"],
            source="incidents",
            actor=ACTOR,
        )

    def handle(self, ctx: JobContext) -> None:
        """Monthly timer: record recurring incidents that are major together."""
        self.find(ctx.session, now=ctx.now, record=True)

    def incident_ids(self, session: Session, tenant: str, key: str | None) -> list[str]:
        """The incidents of recorded findings of ``tenant`` with root cause ``key``."""
        if not key:
            return []
        rows = store.dora.finding_incidents(session, tenant, key)
        return sorted({i for r in rows for i in r.split(",")})
