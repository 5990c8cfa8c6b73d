"""Durable timers on both backends, with a manual clock."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from leitstand.auth.model import Actor
from leitstand.bootstrap import Container
from leitstand.errors import ValidationError
from leitstand.ledger.service import EntryQuery
from leitstand.scheduler.model import Recurrence, next_retry, parse_recurrence
from leitstand.scheduler.service import JobContext, LeaseContext, Scheduler
from leitstand.testing import ManualClock

ADMIN = Actor(name="anna", role="devops")


def _fired(container: Container, key: str) -> int:
    with container.db.reader() as session:
        return int(
            session.execute(
                sa.text(
                    "SELECT count(*) FROM scheduler_runs r JOIN scheduler_jobs j "
                    "ON j.id = r.job_id WHERE j.key = :k"
                ),
                {"k": key},
            ).scalar_one()
        )


def test_a_timer_fires_once_when_due_and_not_before(
    container: Container, clock: ManualClock
) -> None:
    calls: list[str] = []
    container.scheduler.register("test.note", lambda ctx: calls.append(ctx.key))
    with container.db.transaction() as session:
        container.scheduler.schedule(
            session, kind="test.note", key="k1", due_at=clock.now() + timedelta(minutes=15)
        )
    assert container.scheduler.run_due() == 0
    clock.advance(timedelta(minutes=15))
    assert container.scheduler.run_due() == 1
    assert container.scheduler.run_due() == 0
    assert calls == ["k1"]
    assert _fired(container, "k1") == 1
    assert container.scheduler.jobs()[0].status == "done"


def test_scheduling_is_idempotent_per_key(container: Container, clock: ManualClock) -> None:
    with container.db.transaction() as session:
        first = container.scheduler.schedule(session, kind="test.x", key="same", due_at=clock.now())
        second = container.scheduler.schedule(
            session, kind="test.x", key="same", due_at=clock.now() + timedelta(hours=1)
        )
    assert first == second
    assert len(container.scheduler.jobs()) == 1


def test_handler_effects_and_the_fired_mark_commit_together(
    container: Container, clock: ManualClock
) -> None:
    def failing(ctx: JobContext) -> None:
        container.ledger.append(
            ctx.session, actor="t", role="system", action="test.effect", subject=ctx.key
        )
        raise RuntimeError("downstream unavailable")

    container.scheduler.register("test.fail", failing)
    with container.db.transaction() as session:
        container.scheduler.schedule(session, kind="test.fail", key="f1", due_at=clock.now())
    assert container.scheduler.run_due() == 1
    job = container.scheduler.jobs()[0]
    assert job.status == "pending"
    assert job.attempts == 1
    assert job.last_error == "RuntimeError: downstream unavailable"
    assert job.due_at == clock.now() + timedelta(seconds=30)
    assert container.audit.log(EntryQuery(action="test.effect")) == []
    assert _fired(container, "f1") == 0
    assert container.audit.verify().ok


def test_timers_of_one_kind_due_together_reach_the_set_wise_handler_in_one_call(
    container: Container, clock: ManualClock
) -> None:
    calls: list[list[str]] = []
    singles: list[str] = []

    def many(contexts: Sequence[JobContext]) -> None:
        calls.append([c.key for c in contexts])
        for ctx in contexts:
            container.ledger.append(
                ctx.session, actor="t", role="system", action="test.many", subject=ctx.key
            )

    container.scheduler.register("test.many", lambda ctx: singles.append(ctx.key), many=many)
    container.scheduler.register("test.other", lambda ctx: singles.append(ctx.key))
    with container.db.transaction() as session:
        for n, kind in enumerate(["test.many"] * 3 + ["test.other"] + ["test.many"] * 2):
            container.scheduler.schedule(
                session, kind=kind, key=f"k{n}", due_at=clock.now() + timedelta(seconds=n)
            )
    clock.advance(timedelta(minutes=1))
    assert container.scheduler.run_due(limit=10) == 6
    # Runs of consecutive timers (in due order) keep the order of firing across kinds.
    assert calls == [["k0", "k1", "k2"], ["k4", "k5"]]
    assert singles == ["k3"]
    newest_first = container.audit.log(EntryQuery(action="test.many"))
    assert [e.subject for e in reversed(newest_first)] == [
        "k0",
        "k1",
        "k2",
        "k4",
        "k5",
    ]
    assert all(_fired(container, f"k{n}") == 1 for n in range(6))
    assert container.scheduler.run_due() == 0


def test_a_failing_set_wise_handler_falls_back_to_one_timer_at_a_time(
    container: Container, clock: ManualClock
) -> None:
    def many(contexts: Sequence[JobContext]) -> None:
        for ctx in contexts:
            container.ledger.append(
                ctx.session, actor="t", role="system", action="test.effect", subject=ctx.key
            )
        raise RuntimeError("one of them is bad")

    def one(ctx: JobContext) -> None:
        if ctx.key == "bad":
            raise RuntimeError("bad payload")
        container.ledger.append(
            ctx.session, actor="t", role="system", action="test.effect", subject=ctx.key
        )

    container.scheduler.register("test.batch", one, many=many)
    with container.db.transaction() as session:
        for key in ("good1", "bad", "good2"):
            container.scheduler.schedule(session, kind="test.batch", key=key, due_at=clock.now())
    assert container.scheduler.run_due() == 3
    # The set-wise attempt left nothing behind; each good timer fired once, the bad one alone
    # is a recorded failure waiting for its retry.
    effects = [e.subject for e in container.audit.log(EntryQuery(action="test.effect"))]
    assert sorted(effects) == ["good1", "good2"]
    jobs = {j.key: j for j in container.scheduler.jobs()}
    assert jobs["good1"].status == jobs["good2"].status == "done"
    assert jobs["bad"].status == "pending" and jobs["bad"].last_error == "RuntimeError: bad payload"
    assert container.audit.verify().ok


def test_a_timer_that_keeps_failing_is_marked_failed_with_evidence(
    container: Container, clock: ManualClock
) -> None:
    def failing(_ctx: JobContext) -> None:
        raise RuntimeError("postgresql://app:s3cret@db/x refused")

    container.scheduler.register("test.fail", failing)
    with container.db.transaction() as session:
        container.scheduler.schedule(
            session, kind="test.fail", key="f2", due_at=clock.now(), max_attempts=3
        )
    for _ in range(3):
        clock.advance(timedelta(hours=1))
        container.scheduler.run_due()
    job = container.scheduler.jobs()[0]
    assert job.status == "failed"
    entries = container.audit.log(EntryQuery(action="scheduler.job.failed"))
    assert len(entries) == 1
    assert "s3cret" not in str(entries[0].payload)


def test_unknown_kind_is_a_recorded_failure_not_a_crash(
    container: Container, clock: ManualClock
) -> None:
    with container.db.transaction() as session:
        container.scheduler.schedule(session, kind="nobody.handles", key="u", due_at=clock.now())
    assert container.scheduler.run_due() == 1
    assert "no handler registered" in (container.scheduler.jobs()[0].last_error or "")


def test_missed_recurrences_collapse_into_one_firing(
    container: Container, clock: ManualClock
) -> None:
    calls: list[datetime] = []
    container.scheduler.register("test.tick", lambda ctx: calls.append(ctx.due_at))
    container.scheduler.ensure_recurring(kind="test.tick", key="hourly", recurrence="every 1h")
    clock.advance(timedelta(hours=5, minutes=30))
    assert container.scheduler.run_due() == 1
    assert container.scheduler.run_due() == 0
    job = container.scheduler.jobs()[0]
    assert job.due_at > clock.now()
    assert len(calls) == 1


def test_recurring_timer_survives_policy_reload_unless_its_schedule_changes(
    container: Container, clock: ManualClock
) -> None:
    container.scheduler.register("test.tick", lambda ctx: None)
    container.scheduler.ensure_recurring(kind="test.tick", key="daily", recurrence="0 2 * * *")
    due = container.scheduler.jobs()[0].due_at
    clock.advance(timedelta(minutes=1))
    container.scheduler.ensure_recurring(kind="test.tick", key="daily", recurrence="0 2 * * *")
    assert container.scheduler.jobs()[0].due_at == due
    container.scheduler.ensure_recurring(kind="test.tick", key="daily", recurrence="0 3 * * *")
    assert container.scheduler.jobs()[0].due_at == due + timedelta(hours=1)


def test_cancelled_timer_never_fires(container: Container, clock: ManualClock) -> None:
    calls: list[str] = []
    container.scheduler.register("test.note", lambda ctx: calls.append(ctx.key))
    with container.db.transaction() as session:
        container.scheduler.schedule(session, kind="test.note", key="c", due_at=clock.now())
        assert container.scheduler.cancel(session, "c")
    assert container.scheduler.run_due() == 0
    assert calls == []


def test_cron_schedules_are_read_in_berlin_time_across_daylight_saving() -> None:
    daily = parse_recurrence("0 2 * * *")
    winter = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    assert daily.next_after(winter) == datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
    summer = datetime(2027, 6, 1, 9, 0, tzinfo=UTC)
    assert daily.next_after(summer) == datetime(2027, 6, 2, 0, 0, tzinfo=UTC)


def test_bad_schedules_are_refused_with_a_clear_message(container: Container) -> None:
    with pytest.raises(ValueError, match="5-field cron expression"):
        parse_recurrence("every day")
    with pytest.raises(ValidationError, match=r"schedule\.bad"):
        container.scheduler.ensure_recurring(kind="x", key="bad", recurrence="61 * * * *")


def test_retry_backoff_doubles_and_is_capped() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    base, cap = timedelta(seconds=30), timedelta(minutes=10)
    delays = [next_retry(n, now, base=base, cap=cap) - now for n in range(1, 7)]
    assert delays == [
        timedelta(seconds=30),
        timedelta(minutes=1),
        timedelta(minutes=2),
        timedelta(minutes=4),
        timedelta(minutes=8),
        timedelta(minutes=10),
    ]
    assert Recurrence("every 90s").next_after(now) == now + timedelta(seconds=90)


def test_a_long_duty_runs_without_holding_a_write_transaction(
    container: Container, clock: ManualClock
) -> None:
    started, release = threading.Event(), threading.Event()

    def backup(ctx: LeaseContext) -> None:
        started.set()
        assert release.wait(10)
        with ctx.db.transaction() as session:
            container.ledger.append(
                session, actor="t", role="system", action="test.backup", subject=ctx.key
            )

    container.scheduler.register_long("test.backup", backup, lease=timedelta(minutes=5))
    with container.db.transaction() as session:
        container.scheduler.schedule(session, kind="test.backup", key="b1", due_at=clock.now())
    assert container.scheduler.run_due() == 1
    assert started.wait(10)
    assert container.scheduler.jobs()[0].status == "running"
    # Another writer commits while the duty runs: no lock is held by the scheduler.
    container.audit.record(actor=ADMIN, action="manual.meanwhile", subject="s")
    release.set()
    assert container.scheduler.leases.drain(timeout=10)
    job = container.scheduler.jobs()[0]
    assert (job.status, job.lease_until) == ("done", None)
    assert _fired(container, "b1") == 1
    assert [e.action for e in container.audit.log(EntryQuery(newest_first=False))] == [
        "manual.meanwhile",
        "test.backup",
    ]


def test_a_failing_long_duty_is_retried_with_backoff(
    container: Container, clock: ManualClock
) -> None:
    def broken(_ctx: LeaseContext) -> None:
        raise OSError("repository unreachable")

    container.scheduler.register_long("test.broken", broken)
    with container.db.transaction() as session:
        container.scheduler.schedule(session, kind="test.broken", key="x", due_at=clock.now())
    container.scheduler.run_due()
    assert container.scheduler.leases.drain(timeout=10)
    job = container.scheduler.jobs()[0]
    assert (job.status, job.attempts) == ("pending", 1)
    assert job.last_error == "OSError: repository unreachable"
    assert job.due_at == clock.now() + timedelta(seconds=30)


def test_an_expired_lease_is_taken_over_and_the_late_result_discarded(
    container: Container, clock: ManualClock
) -> None:
    release = threading.Event()
    runs: list[str] = []

    def duty(ctx: LeaseContext) -> None:
        runs.append(ctx.instance)
        if ctx.instance == "a":
            release.wait(10)  # instance a "hangs" and stops renewing (its lease is long)

    first = Scheduler(db=container.db, clock=clock, ledger=container.ledger, instance="a")
    second = Scheduler(db=container.db, clock=clock, ledger=container.ledger, instance="b")
    first.register_long("test.duty", duty, lease=timedelta(hours=1))
    second.register_long("test.duty", duty, lease=timedelta(hours=1))
    with container.db.transaction() as session:
        first.schedule(session, kind="test.duty", key="d", due_at=clock.now())
    assert first.run_due() == 1
    assert second.run_due() == 0, "a live lease is respected"
    clock.advance(timedelta(hours=2))
    assert second.run_due() == 1
    assert second.leases.drain(timeout=10)
    release.set()
    assert first.leases.drain(timeout=10)
    assert runs == ["a", "b"]
    assert _fired(container, "d") == 1
    assert container.scheduler.jobs()[0].fired_by == "b"


def test_the_loop_sleeps_until_the_next_timer_but_never_past_the_poll_interval(
    container: Container, clock: ManualClock
) -> None:
    assert container.scheduler._idle_seconds(1.0) == 1.0
    with container.db.transaction() as session:
        container.scheduler.schedule(
            session, kind="test.x", key="soon", due_at=clock.now() + timedelta(milliseconds=250)
        )
    assert container.scheduler._idle_seconds(1.0) == pytest.approx(0.25)
    clock.advance(timedelta(seconds=5))
    assert container.scheduler._idle_seconds(1.0) == 0.0
