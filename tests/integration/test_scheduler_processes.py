"""The scheduler across processes: crash and restart, two instances racing, downtime."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from leitstand.bootstrap import Container, build
from leitstand.clock import SystemClock
from leitstand.settings import Settings

WORKER = Path(__file__).with_name("scheduler_worker.py")


@pytest.fixture
def real_container(settings: Settings) -> Iterator[Container]:
    container = build(settings, clock=SystemClock(), migrate=True)
    with container.db.engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE test_effects (job_key VARCHAR(100) NOT NULL, instance VARCHAR(20))"
        )
    yield container
    container.close()


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["LEITSTAND_HOME"] = str(settings.home)
    if settings.database_url:
        env["LEITSTAND_DATABASE_URL"] = settings.database_url
    if settings.database_schema:
        env["LEITSTAND_DATABASE_SCHEMA"] = settings.database_schema
    env.update(extra)
    return env


def _run(settings: Settings, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(WORKER)],
        env=_env(settings, **extra),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _effects(container: Container) -> Counter[str]:
    with container.db.reader() as session:
        rows = session.execute(sa.text("SELECT job_key FROM test_effects")).scalars().all()
    return Counter(rows)


def _schedule(container: Container, keys: list[str], *, due_in: timedelta = timedelta()) -> None:
    due = container.clock.now() + due_in
    with container.db.transaction() as session:
        for key in keys:
            container.scheduler.schedule(session, kind="test.effect", key=key, due_at=due)


def test_a_crash_mid_firing_rolls_back_and_the_timer_fires_once_after_restart(
    real_container: Container, settings: Settings
) -> None:
    _schedule(real_container, ["escalate-42"])
    crashed = _run(settings, WORKER_CRASH_KEY="escalate-42")
    assert crashed.returncode == 137
    assert _effects(real_container) == Counter()
    assert real_container.scheduler.jobs()[0].status == "pending"

    restarted = _run(settings, WORKER_CRASH_KEY="escalate-42")
    assert restarted.returncode == 0, restarted.stderr
    assert "fired=1" in restarted.stdout
    again = _run(settings)
    assert "fired=0" in again.stdout
    assert _effects(real_container) == Counter({"escalate-42": 1})
    assert real_container.scheduler.jobs()[0].status == "done"


def test_two_instances_racing_fire_every_timer_exactly_once(
    real_container: Container, settings: Settings, backend: str
) -> None:
    keys = [f"t{i:03d}" for i in range(120)]
    _schedule(real_container, keys)
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER)],
            env=_env(settings, WORKER_NAME=name, WORKER_SLEEP="0.005", WORKER_SECONDS="6"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    effects = _effects(real_container)
    assert effects == Counter(dict.fromkeys(keys, 1))
    with real_container.db.reader() as session:
        per_instance = dict(
            session.execute(
                sa.text("SELECT instance, count(*) FROM test_effects GROUP BY instance")
            ).all()
        )
    assert sum(per_instance.values()) == 120
    if backend == "postgres":
        # SKIP LOCKED lets both instances work at once instead of queueing on one lock.
        assert set(per_instance) == {"a", "b"}


def test_timers_due_while_down_fire_once_on_start(
    real_container: Container, settings: Settings
) -> None:
    _schedule(real_container, ["while-down"], due_in=timedelta(seconds=1))
    real_container.scheduler.ensure_recurring(
        kind="test.effect", key="every-second", recurrence="every 1s"
    )
    time.sleep(3.5)  # nothing runs: both are overdue, the recurring one three times over
    begun = real_container.clock.now()
    started = _run(settings, WORKER_SECONDS="0.5")
    assert started.returncode == 0, started.stderr
    effects = _effects(real_container)
    assert effects["while-down"] == 1
    assert effects["every-second"] == 1
    recurring = next(j for j in real_container.scheduler.jobs() if j.key == "every-second")
    # The missed occurrences collapsed into one firing: the next one lies after the start.
    assert recurring.due_at > begun
