"""The overview's verification result comes from the verifier's own records, never a payload."""

from __future__ import annotations

from datetime import timedelta

import pytest

from leitstand.auth.model import Actor
from leitstand.bootstrap import Container
from leitstand.errors import ValidationError
from leitstand.ledger.jobs import schedule_ledger_jobs
from leitstand.ledger.service import EntryQuery
from leitstand.testing import ManualClock

ONCALL = Actor(name="otto", role="oncall")


def test_the_scheduled_verification_writes_the_verifiers_record(
    container: Container, clock: ManualClock
) -> None:
    schedule_ledger_jobs(container)
    forged = {"ok": True, "size": 999999, "first_bad_index": None, "problems": []}
    with pytest.raises(ValidationError, match=r"'ledger\.\*' is a reserved system namespace"):
        container.audit.record(actor=ONCALL, action="ledger.verified", subject="l", payload=forged)
    container.audit.record(
        actor=ONCALL, action="manual.ledger.verified", subject="l", payload=forged
    )
    assert container.audit.last_verification() is None
    clock.advance(timedelta(seconds=container.settings.verify_interval_seconds))
    container.scheduler.run_due()
    assert container.scheduler.leases.drain(timeout=30)
    last = container.audit.last_verification()
    assert last is not None and last.ok and last.actor.startswith("scheduler:")
    assert last.entries_checked == 1 and last.first_bad_index is None
    (entry,) = container.audit.log(EntryQuery(action="ledger.verified"))
    assert last.ledger_index == entry.index
