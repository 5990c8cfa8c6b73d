"""RPO and RTO per system as Prometheus metrics on leitstand's ``/metrics``.

Values are read at scrape time: the RPO grows with the clock between two measurements, exactly
as the risk does.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from leitstand.backups.monitor import BackupMonitor

if TYPE_CHECKING:
    from leitstand.bootstrap import Container

__all__ = ["BackupCollector", "register_backup_metrics"]


def _timestamp(text: str | None) -> float | None:
    return datetime.fromisoformat(text).timestamp() if text else None


class BackupCollector(Collector):
    """Gauges per system (objectives, measurements, estimates) and per schedule row."""

    def __init__(self, monitor: BackupMonitor) -> None:
        self.monitor = monitor

    def describe(self) -> Iterable[Metric]:
        # Nothing up front: collecting reads the store, which must not happen at registration.
        return []

    def collect(self) -> Iterable[Metric]:
        rpo_objective = GaugeMetricFamily(
            "leitstand_backup_rpo_objective_seconds",
            "RPO objective of the system (policy).",
            labels=["system"],
        )
        rto_objective = GaugeMetricFamily(
            "leitstand_backup_rto_objective_seconds",
            "RTO objective of the system (policy).",
            labels=["system"],
        )
        rpo = GaugeMetricFamily(
            "leitstand_backup_rpo_seconds",
            "Age of the newest restorable point (data a loss now would cost).",
            labels=["system"],
        )
        breach = GaugeMetricFamily(
            "leitstand_backup_rpo_breach",
            "1 when the measured RPO exceeds the objective or nothing is restorable.",
            labels=["system"],
        )
        rto = GaugeMetricFamily(
            "leitstand_backup_rto_estimate_seconds",
            "RTO estimate: slowest latest passed recovery drill of the system.",
            labels=["system"],
        )
        configured = GaugeMetricFamily(
            "leitstand_backup_configured",
            "1 when the system has a backup configuration.",
            labels=["system"],
        )
        last_success = GaugeMetricFamily(
            "leitstand_backup_last_success_timestamp_seconds",
            "End of the newest backup run that reached every site and verified.",
            labels=["system", "row"],
        )
        overdue = GaugeMetricFamily(
            "leitstand_backup_drill_overdue",
            "1 when a recovery drill is overdue.",
            labels=["system", "kind"],
        )
        for o in self.monitor.objectives():
            rpo_objective.add_metric([o.system], o.rpo_seconds)
            rto_objective.add_metric([o.system], o.rto_seconds)
            configured.add_metric([o.system], 1.0 if o.configured else 0.0)
            if not o.configured:
                continue
            if o.rpo_measured is not None:
                rpo.add_metric([o.system], o.rpo_measured)
            if o.rpo_status != "unknown":
                breach.add_metric([o.system], 1.0 if o.rpo_status == "breach" else 0.0)
            if o.rto_estimate is not None:
                rto.add_metric([o.system], o.rto_estimate)
            for row, run in o.runs.items():
                stamp = _timestamp(run.get("last_success_at"))
                if stamp is not None:
                    last_success.add_metric([o.system, row], stamp)
            for d in o.drills:
                overdue.add_metric([o.system, d.kind], 1.0 if d.overdue else 0.0)
        yield from (
            rpo_objective,
            rto_objective,
            configured,
            rpo,
            breach,
            rto,
            last_success,
            overdue,
        )


def register_backup_metrics(registry: CollectorRegistry, container: Container) -> None:
    """Add the backup gauges to the app's registry."""
    registry.register(BackupCollector(container.backup_monitor))
