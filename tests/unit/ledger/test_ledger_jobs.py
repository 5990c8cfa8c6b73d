"""The ledger's recurring duties run through the scheduler."""

from __future__ import annotations

from datetime import timedelta

from leitstand.auth.model import Actor
from leitstand.bootstrap import Container
from leitstand.ledger.jobs import schedule_ledger_jobs
from leitstand.ledger.service import EntryQuery
from leitstand.testing import ManualClock

ACTOR = Actor(name="anna", role="devops")


def test_the_copy_job_keeps_the_head_and_copies_it_to_the_second_location(
    container: Container, clock: ManualClock
) -> None:
    schedule_ledger_jobs(container)
    container.audit.record(actor=ACTOR, action="manual.a", subject="s")
    clock.advance(timedelta(seconds=5))
    container.audit.record(actor=ACTOR, action="manual.b", subject="s")
    witness = container.ledger.witness
    assert witness is not None
    assert [size for size, _ in witness.notes()] == [1]  # the second head is not kept yet
    clock.advance(container.policy.evidence.checkpoint_copy_interval)
    container.scheduler.run_due()
    assert [size for size, _ in witness.notes()] == [1, 2]
    report = container.audit.verify()
    assert report.ok
    assert report.witness_checked == 2


def test_the_verify_job_records_its_result(container: Container, clock: ManualClock) -> None:
    schedule_ledger_jobs(container)
    container.audit.record(actor=ACTOR, action="manual.a", subject="s")
    clock.advance(timedelta(seconds=container.settings.verify_interval_seconds))
    container.scheduler.run_due()
    assert container.scheduler.leases.drain(timeout=30)
    verified = container.audit.log(EntryQuery(action="ledger.verified"))
    assert len(verified) == 1
    assert verified[0].payload["ok"] is True
    assert verified[0].actor.startswith("scheduler:")
