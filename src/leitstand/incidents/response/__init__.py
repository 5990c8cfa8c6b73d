"""The response process: opening, merging, action items, fix approvals, tenant notices, and the
incident's deadlines (``deadlines``, pure) with the durable timers that watch them
(``deadline_timers``)."""
