"""The recurring duty `logs.maintain` seals new segments and expires old ones."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from leitstand.bootstrap import Container, build
from leitstand.ledger.service import EntryQuery
from leitstand.logs.service import LogService
from leitstand.logs.wiring import MAINTAIN_KIND, schedule_log_jobs
from leitstand.policy.model import default_policy
from leitstand.settings import Settings
from leitstand.testing import ManualClock, wait_for


def _idle(container: Container) -> bool:
    """The long duty finished: its timer waits for the next occurrence again."""
    jobs = [j for j in container.scheduler.jobs(limit=1000) if j.kind == MAINTAIN_KIND]
    return len(jobs) == 1 and jobs[0].status == "pending" and jobs[0].attempts == 0


def test_the_timer_seals_then_expires_as_the_scheduler(
    container: Container, clock: ManualClock
) -> None:
    assert MAINTAIN_KIND in container.scheduler.kinds
    logs = container.get(LogService)
    logs.directory.mkdir(parents=True)
    segment = logs.directory / "debug.log-20261127-1"
    segment.write_text('{"log_type": "debug"}\n')
    schedule_log_jobs(container)  # every logs.maintenance_interval: 1h by default
    clock.advance(timedelta(hours=1, seconds=1))
    assert container.scheduler.run_due(kinds={MAINTAIN_KIND}) == 1
    wait_for("the first run", lambda: _idle(container), timeout=30)
    assert [s.path for s in logs.segments()] == [str(segment)]
    clock.advance(timedelta(days=15))
    assert container.scheduler.run_due(kinds={MAINTAIN_KIND}) == 1
    wait_for("the second run", lambda: _idle(container), timeout=30)
    assert not segment.exists() and logs.segments() == []
    with container.db.reader() as session:
        actions = [
            (e.action, e.actor.split(":")[0])
            for e in container.ledger.entries(session, EntryQuery(limit=None, newest_first=False))
            if e.action.startswith("log.")
        ]
    assert actions == [("log.segment_sealed", "scheduler"), ("log.segment_expired", "scheduler")]


def test_the_timer_runs_every_maintenance_interval_of_the_policy(
    tmp_path: Path, clock: ManualClock
) -> None:
    policy = default_policy()
    policy = policy.model_copy(
        update={"logs": policy.logs.model_copy(update={"maintenance_interval": timedelta(hours=6)})}
    )
    c = build(Settings(home=tmp_path / "home"), clock=clock, migrate=True, policy=policy)
    try:
        schedule_log_jobs(c)
        clock.advance(timedelta(hours=5, minutes=59))
        assert c.scheduler.run_due(kinds={MAINTAIN_KIND}) == 0  # not due before six hours
        clock.advance(timedelta(minutes=2))
        assert c.scheduler.run_due(kinds={MAINTAIN_KIND}) == 1
        wait_for("the run", lambda: _idle(c), timeout=30)
    finally:
        c.close()
