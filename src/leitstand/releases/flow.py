"""Phase transitions: one committed row change, its timer and its evidence, in one transaction.

Every transition bumps the release's ``seq``; timers carry the ``seq`` they were made for, so a
timer from an earlier phase (fired late, or again after a crash) finds a newer ``seq`` and does
nothing. Timer keys contain the ``seq`` too, which keeps them unique per phase.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from leitstand.auth.model import Actor
from leitstand.clock import Clock
from leitstand.db import Session
from leitstand.ledger.service import Ledger
from leitstand.releases.model import TERMINAL, Phase
from leitstand.releases.store import ReleaseRow
from leitstand.scheduler.service import Scheduler

__all__ = ["STEP", "SYSTEM", "WORK", "Flow", "evidence"]

STEP = "releases.step"  # short steps in the firing transaction: polls, routing, analysis
WORK = "releases.work"  # long duties under a lease: start, stop, migrate

SYSTEM = Actor(name="leitstand", role="system")

_WORK = frozenset({Phase.MIGRATING, Phase.STARTING, Phase.RETIRING, Phase.CLEANING_UP})
_POLL = frozenset({Phase.HEALTH_CHECK, Phase.ANALYSING, Phase.PAUSED, Phase.OBSERVING})
_ADVANCE_NOW = frozenset({Phase.SWITCHING, Phase.ROLLING_BACK, Phase.VERIFYING})


def evidence(row: ReleaseRow, **extra: Any) -> dict[str, Any]:
    """The payload every release entry carries, so the change log can show it on its own."""
    return {
        "release_id": row.id,
        "service": row.service,
        "version": row.version,
        "env": row.env,
        "strategy": row.strategy,
        "kind": row.kind,
        "change_id": row.change_id,
        "phase": row.phase,
        **extra,
    }


class Flow:
    """Moves releases between phases and schedules what each phase needs."""

    def __init__(self, *, ledger: Ledger, scheduler: Scheduler, clock: Clock) -> None:
        self.ledger = ledger
        self.scheduler = scheduler
        self.clock = clock

    def record(
        self, session: Session, row: ReleaseRow, action: str, actor: Actor = SYSTEM, **extra: Any
    ) -> None:
        self.ledger.record(
            session, actor, action, f"release:{row.id}", payload=evidence(row, **extra)
        )

    def advance(
        self,
        session: Session,
        row: ReleaseRow,
        phase: Phase,
        *,
        now: datetime | None = None,
        deadline: datetime | None = None,
    ) -> None:
        """Enter ``phase`` and schedule its timers (the caller records the evidence)."""
        now = now or self.clock.now()
        row.phase = phase.value
        row.seq += 1
        row.passes = row.failures = row.attempts = 0
        row.deadline = deadline
        row.updated_at = now
        if phase in TERMINAL:
            row.finished_at = now
            return
        if phase in _WORK:
            self._timer(session, row, WORK, "work", now)
        if phase in _POLL:
            self.poll(session, row, 0, now)
        if phase in _ADVANCE_NOW:
            self._timer(session, row, STEP, "advance", now)
        if phase in (Phase.ANALYSING, Phase.PAUSED) and deadline is not None:
            self._timer(session, row, STEP, "advance", deadline)

    def poll(self, session: Session, row: ReleaseRow, n: int, due: datetime) -> None:
        self._timer(session, row, STEP, "poll", due, n=n)

    def retry(self, session: Session, row: ReleaseRow, due: datetime) -> None:
        """Run this phase's step again at ``due`` (after a router error, say)."""
        self._timer(session, row, STEP, "advance", due, n=row.attempts)

    def _timer(
        self, session: Session, row: ReleaseRow, kind: str, what: str, due: datetime, n: int = 0
    ) -> None:
        self.scheduler.schedule(
            session,
            kind=kind,
            key=f"release:{row.id}:{row.seq}:{what}:{n}",
            due_at=due,
            payload={"release_id": row.id, "seq": row.seq, "what": what, "n": n},
            max_attempts=50,
        )

    def abandon(self, session: Session, row: ReleaseRow, *, reason: str, now: datetime) -> None:
        """The new version never got traffic: stop it, traffic stays as it is."""
        row.outcome = Phase.FAILED.value
        row.reason = reason
        self.record(session, row, "release.abandoned", reason=reason)
        self.advance(session, row, Phase.CLEANING_UP, now=now)
