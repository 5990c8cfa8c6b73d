"""Incidents: the response process, DORA per tenant, GDPR, post-mortems.

Where is what:

- ``model`` (pure rules: ids, phases, milestones), ``schemas`` (wire inputs and the ``*Out``
  read models), ``store`` (tables and every query), ``service`` (``IncidentService``: open,
  phases, notes, merge, close), ``api``/``views``/``cli`` (entry points), ``wiring``.
- ``response``: opening, merging, action items, fix approvals, tenant notices, the incident's
  deadlines (``deadlines``, pure) and the durable timers that watch them (``deadline_timers``).
- ``dora``: major-incident classification (``classification``), due-date arithmetic on the
  working-day calendar (``due_dates``), the stand-alone check (``check``), recurring incidents.
- ``reporting``: the ``IncidentReporting`` service, the timeline, DORA report drafts
  (``dora_reports``), the GDPR notification, the post-mortem and PDF/HTML rendering.
- ``wording`` (pure, Babel): how documents and notices word terms, numbers and dates.
"""
