"""Construct the release service, register its timers, and reconcile routers on start-up."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from leitstand.clock import Clock
from leitstand.db import Database
from leitstand.errors import LeitstandError
from leitstand.ledger.service import Ledger
from leitstand.policy.model import Policy
from leitstand.releases.aftermath import TASK_DUE, Aftermath
from leitstand.releases.duties import Duties
from leitstand.releases.flow import SYSTEM, Flow
from leitstand.releases.handover import HANDOVER, Handover
from leitstand.releases.migrations import MigrationRunner
from leitstand.releases.runtime import RuntimeFactory
from leitstand.releases.scrape import write_scrape_targets
from leitstand.releases.service import ReleaseService
from leitstand.releases.snapshots import Snapshots
from leitstand.releases.steps import Steps
from leitstand.releases.store import routing_of, target_rows
from leitstand.scheduler.service import Scheduler

if TYPE_CHECKING:
    from leitstand.alerting.service import AlertingService
    from leitstand.backups.service import BackupService
    from leitstand.bootstrap import Container, Wiring
    from leitstand.changes.service import ChangeService

__all__ = ["reconcile_routers", "wire", "wire_releases"]

log = structlog.get_logger(__name__)


def wire_releases(
    *,
    db: Database,
    ledger: Ledger,
    clock: Clock,
    policy: Policy,
    scheduler: Scheduler,
    home: Path,
    alerting: AlertingService | None,
    changes: ChangeService | None,
    backups: BackupService | None = None,
) -> ReleaseService:
    """Build the service; the scheduler learns the release steps and the task deadline."""
    factory = RuntimeFactory(policy=policy, home=home)
    flow = Flow(ledger=ledger, scheduler=scheduler, clock=clock)
    aftermath = Aftermath(
        ledger=ledger,
        clock=clock,
        policy=policy,
        scheduler=scheduler,
        alerting=alerting,
        changes=changes,
    )
    steps = Steps(
        db=db, flow=flow, factory=factory, policy=policy, clock=clock, aftermath=aftermath
    )
    steps.register(scheduler)
    migrations = MigrationRunner(home=home, clock=clock)
    handover = Handover(
        ledger=ledger, policy=policy, factory=factory, aftermath=aftermath, backups=backups
    )
    scheduler.register(HANDOVER, handover.job)
    duties = Duties(
        db=db,
        flow=flow,
        factory=factory,
        policy=policy,
        clock=clock,
        migrations=migrations,
        snapshots=Snapshots(policy=policy, migrations=migrations, backups=backups),
        handover=handover,
    )
    duties.register(scheduler)
    scheduler.register(TASK_DUE, aftermath.task_due)
    return ReleaseService(
        db=db,
        ledger=ledger,
        clock=clock,
        policy=policy,
        flow=flow,
        steps=steps,
        duties=duties,
        factory=factory,
        changes=changes,
        handover=handover,
    )


def reconcile_routers(container: Container) -> int:
    """`leitstand up`: put every router back on the committed routing if it drifted.

    A router restarted without its state, or a change applied just before a crash whose step
    never committed, leaves the router and the store disagreeing; the store wins (it only ever
    routes to versions that passed their checks), and the release step that was cut off runs
    again from there. Returns how many routers were corrected.
    """
    releases = container.releases
    corrected = 0
    with container.db.reader() as session:
        targets = [(t.service, t.env, routing_of(t)) for t in target_rows(session)]
    for service, env, committed in targets:
        if not committed.serving():
            continue
        try:
            runtime = releases.factory.get(service, env)
            # The managed Prometheus scrapes the slots (also those started by an older leitstand).
            with contextlib.suppress(OSError):
                write_scrape_targets(container.settings.home, runtime)
            live = runtime.router.current()
            if live.same_traffic(committed):
                continue
            runtime.router.apply(committed)
        except LeitstandError as exc:
            log.warning("release_router_unreachable", service=service, error=exc.message)
            continue
        corrected += 1
        with container.db.transaction() as session:
            container.ledger.record(
                session,
                SYSTEM,
                "release.routing_reconciled",
                f"service:{service}",
                payload={
                    "service": service,
                    "env": env,
                    "router": live.as_dict(),
                    "committed": committed.as_dict(),
                },
            )
    return corrected


def wire(w: Wiring) -> None:
    """The registry's entry (``leitstand.domains``): releases, with the services they consult."""
    from leitstand.alerting.service import AlertingService
    from leitstand.backups.service import BackupService
    from leitstand.changes.service import ChangeService
    from leitstand.images.service import ImageService
    from leitstand.incidents.reporting.service import IncidentReporting

    releases = wire_releases(
        db=w.db,
        ledger=w.ledger,
        clock=w.clock,
        policy=w.policy,
        scheduler=w.scheduler,
        home=w.settings.home,
        alerting=w.get(AlertingService),
        changes=w.get(ChangeService),
        backups=w.get(BackupService),
    )
    # A fix for a SEV-1/2 incident needs the compliance officer's approval before admission.
    releases.admission.incident_fixes = w.get(IncidentReporting).fixes.check_release
    # A production release of an image needs a signature recorded by images, by a trusted key.
    releases.admission.image_admission = w.get(ImageService).admit_release
    w.add(releases)
