"""Reading the recovery objectives: per system the objectives, last RPO reading, RTO estimate,
latest runs and the drills with their due dates (for the page, the API and the metrics)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from leitstand.backups import store
from leitstand.backups.model import (
    DRILL_TESTS,
    DrillKind,
    DrillStatus,
    RunStatus,
    drill_due,
    rto_estimate,
)
from leitstand.backups.store import latest_runs, load
from leitstand.clock import Clock
from leitstand.db import Database, Session
from leitstand.policy.continuity import BackupData, ServicePolicy
from leitstand.policy.model import Policy

__all__ = [
    "DrillDue",
    "Objective",
    "ObjectiveReader",
    "applicable_drills",
    "run_timer_key",
]


def run_timer_key(row: str, system: str) -> str:
    """The scheduler key of a schedule row's recurring timer for a system."""
    return f"backups.run:{row}:{system}"


def applicable_drills(kinds: set[BackupData]) -> list[DrillKind]:
    """Which of the five drills a system's configuration allows."""
    if BackupData.DATABASE not in kinds:
        return []
    drills = [DrillKind.FULL_RESTORE, DrillKind.PITR, DrillKind.FAILOVER]
    if BackupData.FILES in kinds:
        drills.append(DrillKind.APPLICATION_RESTORE)
    drills.append(DrillKind.DISASTER_RECOVERY)
    return drills


@dataclass(frozen=True, slots=True)
class DrillDue:
    kind: str
    test: str
    frequency: str
    last_passed: datetime | None
    last_status: str | None
    due: datetime | None
    overdue: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "test": self.test,
            "frequency": self.frequency,
            "last_passed": self.last_passed.isoformat() if self.last_passed else None,
            "last_status": self.last_status,
            "due": self.due.isoformat() if self.due else None,
            "overdue": self.overdue,
        }


@dataclass(frozen=True, slots=True)
class Objective:
    """RTO and RPO of one system: objectives, measurements and their status."""

    system: str
    name: str
    priority: str
    configured: bool
    rto_seconds: float
    rpo_seconds: float
    rpo_measured: float | None
    restorable_until: datetime | None
    rpo_status: str  # ok, breach, unknown, not_configured
    rpo_reason: str
    measured_at: datetime | None
    rto_estimate: float | None
    rto_status: str  # ok, exceeded, unknown
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    drills: list[DrillDue] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "name": self.name,
            "priority": self.priority,
            "configured": self.configured,
            "rto_seconds": self.rto_seconds,
            "rpo_seconds": self.rpo_seconds,
            "rpo_measured_seconds": self.rpo_measured,
            "restorable_until": self.restorable_until.isoformat()
            if self.restorable_until
            else None,
            "rpo_status": self.rpo_status,
            "rpo_reason": self.rpo_reason,
            "measured_at": self.measured_at.isoformat() if self.measured_at else None,
            "rto_estimate_seconds": self.rto_estimate,
            "rto_status": self.rto_status,
            "runs": self.runs,
            "drills": [d.as_dict() for d in self.drills],
        }


class ObjectiveReader:
    """Reads objectives, readings, runs and drills from the store (no engine calls)."""

    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        policy: Policy,
        data_kinds: Callable[[str], list[BackupData]],
    ) -> None:
        self.db = db
        self.clock = clock
        self.policy = policy
        self.data_kinds = data_kinds

    def drill_schedule(self, session: Session, system: str, *, now: datetime) -> list[DrillDue]:
        """Every applicable drill of ``system`` with its last result and next due date."""
        kinds = set(self.data_kinds(system))
        first = store.first_run_start(
            session,
            system=system,
            data=BackupData.DATABASE.value,
            status=RunStatus.SUCCEEDED.value,
        )
        result = []
        for kind in applicable_drills(kinds):
            test_key = DRILL_TESTS[kind]
            test = self.policy.backups.recovery_tests.get(test_key)
            if test is None:
                continue
            last = store.latest_drill(session, system=system, kind=kind.value)
            passed = store.newest_drill_start(
                session, system=system, kind=kind.value, status=DrillStatus.PASSED.value
            )
            due = None
            if passed is not None or first is not None:
                due = drill_due(test.frequency, last_passed=passed, configured_since=first or now)
            result.append(
                DrillDue(
                    kind=kind.value,
                    test=test_key,
                    frequency=test.frequency.value,
                    last_passed=passed,
                    last_status=last.status if last else None,
                    due=due,
                    overdue=due is not None and now > due,
                )
            )
        return result

    def objectives(self) -> list[Objective]:
        """Every system of the policy with objectives, last readings and estimates."""
        now = self.clock.now()
        out = []
        with self.db.reader() as session:
            for system, service in self.policy.services.items():
                out.append(self._objective(session, system, service, now))
        return out

    def _objective(
        self, session: Session, system: str, service: ServicePolicy, now: datetime
    ) -> Objective:
        rto, rpo = service.rto.total_seconds(), service.rpo.total_seconds()
        configured = system in self.policy.backups.systems
        measured: float | None = None
        point: datetime | None = None
        measured_at: datetime | None = None
        status, reason = "not_configured", "no backup configuration"
        estimate: float | None = None
        runs: dict[str, dict[str, Any]] = {}
        drills: list[DrillDue] = []
        if configured:
            status, reason = "unknown", "not measured yet"
            state = store.state(session, f"rpo:{system}")
            if state is not None:
                point, measured_at = state.point, state.measured_at
                reason = (load(state.detail) or {}).get("reason", "")
                if point is not None:
                    measured = max(0.0, (now - point).total_seconds())
                    status = "breach" if measured > rpo else "ok"
                else:
                    status = "breach"
            estimate = self._rto_estimate(session, system)
            runs = self._runs(session, system)
            drills = self.drill_schedule(session, system, now=now)
        rto_status = "unknown" if estimate is None else ("ok" if estimate <= rto else "exceeded")
        return Objective(
            system=system,
            name=service.name,
            priority=service.priority.value,
            configured=configured,
            rto_seconds=rto,
            rpo_seconds=rpo,
            rpo_measured=measured,
            restorable_until=point,
            rpo_status=status,
            rpo_reason=reason,
            measured_at=measured_at,
            rto_estimate=estimate,
            rto_status=rto_status,
            runs=runs,
            drills=drills,
        )

    @staticmethod
    def _rto_estimate(session: Session, system: str) -> float | None:
        latest: dict[str, float | None] = {}
        for kind, seconds in store.drill_seconds(
            session, system=system, status=DrillStatus.PASSED.value
        ):
            latest[kind] = seconds
        return rto_estimate(v for v in latest.values() if v is not None)

    @staticmethod
    def _runs(session: Session, system: str) -> dict[str, dict[str, Any]]:
        good = latest_runs(session, system=system, statuses=[RunStatus.SUCCEEDED.value])
        runs = {}
        for (_, row), r in latest_runs(session, system=system).items():
            last_good = good.get((system, row))
            runs[row] = {
                "status": r.status,
                "started_at": r.started_at.isoformat(),
                "finished_at": r.finished_at.isoformat() if r.finished_at else None,
                "sites": {s["site"]: s["ok"] for s in (load(r.sites) or [])},
                "error": r.error,
                "last_success_at": last_good.finished_at.isoformat()
                if last_good is not None and last_good.finished_at is not None
                else None,
            }
        return runs
