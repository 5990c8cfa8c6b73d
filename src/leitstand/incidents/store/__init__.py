"""The incident store: the tables (``tables``) and every query of the domain, by topic.

Services call these functions with the session of their unit of work; nothing outside this
package writes SQL for incidents.
"""

from __future__ import annotations

from leitstand.incidents.store import dora, incidents, ledger, response
from leitstand.incidents.store.ledger import ledger_window
from leitstand.incidents.store.tables import (
    ActionItemRow,
    DoraAssessmentRow,
    DoraReportRow,
    IncidentAlertRow,
    IncidentRow,
    IncidentSystemRow,
    IncidentTenantRow,
    RecurringFindingRow,
    system_filter,
    tenant_filter,
)

__all__ = [
    "ActionItemRow",
    "DoraAssessmentRow",
    "DoraReportRow",
    "IncidentAlertRow",
    "IncidentRow",
    "IncidentSystemRow",
    "IncidentTenantRow",
    "RecurringFindingRow",
    "dora",
    "incidents",
    "ledger",
    "ledger_window",
    "response",
    "system_filter",
    "tenant_filter",
]
