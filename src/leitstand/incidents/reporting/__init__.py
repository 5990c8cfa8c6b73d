"""Reporting and documents: the ``IncidentReporting`` service (``service``), the timeline
(``timeline``, ``history``), DORA report drafts (``dora_reports``), the GDPR notification
(``gdpr_notification``), the post-mortem (``postmortem``) and their rendering;
their wording is ``leitstand.incidents.wording``."""

from __future__ import annotations

from leitstand.incidents.reporting.service import IncidentReporting

__all__ = ["IncidentReporting"]
