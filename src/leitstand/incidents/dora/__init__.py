"""DORA (and its calendar): major-incident classification (``classification``, pure), the
assessment facts as inputs (``facts``) and the entity vocabulary (``entities``), due-date
arithmetic on the working-day calendar (``due_dates``, pure), the incident's duration as DORA
measures it (``duration``, pure), the stand-alone check (``check``)
and the monthly recurring-incident check (``recurring``)."""
