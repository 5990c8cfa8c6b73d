"""The composition root: settings in, services out. Nothing connects at import time."""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa
import structlog

from leitstand import migrations
from leitstand.alerting.service import AlertingService
from leitstand.alerting.wiring import wire_alerting
from leitstand.auth.model import Actor
from leitstand.auth.service import AuthService
from leitstand.backups.drills import DrillService
from leitstand.backups.monitor import BackupMonitor
from leitstand.backups.service import BackupService
from leitstand.backups.wiring import register_backup_jobs, wire_backups
from leitstand.changes.service import ChangeService
from leitstand.clock import Clock, SystemClock
from leitstand.db import Database
from leitstand.errors import ConfigError, LeitstandError, StoreError
from leitstand.flags.service import FlagService
from leitstand.gates.service import GateService
from leitstand.incidents.actions import ActionItems
from leitstand.incidents.reporting import IncidentReporting
from leitstand.incidents.service import IncidentService
from leitstand.incidents.wiring import wire_incidents
from leitstand.ledger.audit import AuditService
from leitstand.ledger.checkpoint import (
    load_or_create_signing_key,
    load_signing_key,
    open_checkpoint,
)
from leitstand.ledger.keys import LedgerSigner
from leitstand.ledger.service import Ledger, install_session_hooks
from leitstand.ledger.store import LedgerStateRow
from leitstand.ledger.witness import CheckpointCopy
from leitstand.ledger.witnessing import build_witnessing
from leitstand.policy.loader import find_policy_file, load_policy
from leitstand.policy.model import Policy
from leitstand.releases.service import ReleaseService
from leitstand.releases.wiring import wire_releases
from leitstand.scheduler.service import Scheduler
from leitstand.settings import Settings, tighten_permissions

__all__ = ["Container", "build", "local_actor"]

log = structlog.get_logger(__name__)
_T = TypeVar("_T")


@dataclass
class Container:
    """Every service of one leitstand process, wired once."""

    settings: Settings
    clock: Clock
    policy: Policy
    policy_file: Path | None
    db: Database
    ledger: Ledger
    auth: AuthService
    audit: AuditService
    scheduler: Scheduler
    changes: ChangeService
    gates: GateService
    flags: FlagService
    alerting: AlertingService
    incidents: IncidentService
    incident_actions: ActionItems
    incident_reporting: IncidentReporting
    backups: BackupService
    drills: DrillService
    backup_monitor: BackupMonitor
    releases: ReleaseService

    def get(self, kind: type[_T]) -> _T:
        """The one service of type ``kind`` (what typed API dependencies resolve to)."""
        for value in vars(self).values():
            if isinstance(value, kind):
                return value
        raise LookupError(f"no service of type {kind.__name__} in this container")

    def close(self) -> None:
        self.ledger.close()
        self.db.dispose()


def local_actor() -> Actor:
    """The operator running the CLI on this machine."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Actor(name=f"local:{user}", role="local")


def build(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    migrate: bool | None = None,
    policy: Policy | None = None,
) -> Container:
    """Load the policy, connect and check the store, load the signing key, wire services.

    ``migrate`` None migrates the embedded SQLite default automatically and requires an explicit
    ``leitstand db upgrade`` (or ``leitstand up``) on PostgreSQL.
    """
    settings = settings or Settings()
    clock = clock or SystemClock()
    policy_file = settings.policy or find_policy_file(Path.cwd())
    if policy is None:
        policy = load_policy(policy_file)
    if settings.is_embedded and not settings.home.exists():
        # The home folder holds the database, keys and evidence copies: owner only.
        settings.home.mkdir(mode=0o700, parents=True)
    db = Database(settings.effective_database_url, schema=settings.database_schema)
    try:
        db.check()
        _migrate(db, settings, migrate)
        # On every start: the home folder 0700, the SQLite file and its journals 0600.
        for problem in tighten_permissions(settings):
            log.warning("permissions_not_tightened", problem=problem)
        signer = _signer(db, settings, policy)
    except LeitstandError:
        db.dispose()
        raise
    install_session_hooks(db.sessions)
    evidence = policy.evidence
    witness_dir = Path(evidence.checkpoint_copy_dir or settings.home / "witness")
    if not witness_dir.is_absolute():
        witness_dir = settings.home / witness_dir
    ledger = Ledger(
        signer=signer,
        clock=clock,
        keep_every_entries=evidence.checkpoint_copy_every_entries,
        keep_interval=evidence.checkpoint_copy_interval,
        witness=build_witnessing(
            policy, CheckpointCopy(witness_dir, verifier_key=signer.verifier.format())
        ),
    )
    ledger.witness.bind(db, ledger)  # type: ignore[union-attr]  # built just above
    auth = AuthService(
        db=db,
        ledger=ledger,
        clock=clock,
        cache_seconds=settings.auth_cache_seconds,
        policy=policy.auth,
    )
    scheduler = Scheduler(
        db=db,
        clock=clock,
        ledger=ledger,
        instance=settings.instance_id,
        workers=settings.scheduler_workers,
    )
    alerting, incidents = wire_alerting(
        db=db, ledger=ledger, clock=clock, policy=policy, scheduler=scheduler
    )
    incident_actions, incident_reporting = wire_incidents(
        incidents=incidents, alerting=alerting, scheduler=scheduler
    )
    changes = ChangeService(
        db=db, ledger=ledger, clock=clock, policy=policy, scheduler=scheduler, alerting=alerting
    )
    changes.register_jobs()
    flags = FlagService(db=db, ledger=ledger, clock=clock, policy=policy)
    gates = GateService(
        db=db,
        ledger=ledger,
        clock=clock,
        policy=policy,
        approvals=changes.state_for,
        flags=flags.list_flags,
        alerting=alerting,
    )
    backups, drills, backup_monitor = wire_backups(
        db=db,
        ledger=ledger,
        clock=clock,
        policy=policy,
        home=settings.home,
        alerting=alerting,
        scheduler=scheduler,
    )
    releases = wire_releases(
        db=db,
        ledger=ledger,
        clock=clock,
        policy=policy,
        scheduler=scheduler,
        home=settings.home,
        alerting=alerting,
        changes=changes,
        backups=backups,
    )
    # A fix for a SEV-1/2 incident needs the compliance officer's approval before admission.
    releases.admission.incident_fixes = incident_reporting.fixes.check_release
    container = Container(
        settings=settings,
        clock=clock,
        policy=policy,
        policy_file=policy_file,
        db=db,
        ledger=ledger,
        auth=auth,
        audit=AuditService(db=db, ledger=ledger, clock=clock),
        scheduler=scheduler,
        changes=changes,
        gates=gates,
        flags=flags,
        alerting=alerting,
        incidents=incidents,
        incident_actions=incident_actions,
        incident_reporting=incident_reporting,
        backups=backups,
        drills=drills,
        backup_monitor=backup_monitor,
        releases=releases,
    )
    from leitstand.ledger.jobs import register_ledger_jobs

    register_ledger_jobs(container)
    register_backup_jobs(container)
    return container


def _migrate(db: Database, settings: Settings, migrate: bool | None) -> None:
    should = settings.is_embedded if migrate is None else migrate
    if should:
        if db.is_postgres:
            _migrate_locked(db)
        else:
            migrations.upgrade(db)
        return
    current, heads = migrations.current_heads(db), migrations.heads(db)
    if current != heads:
        have = ", ".join(sorted(current)) or "nothing"
        raise StoreError(
            f"database schema is at {have} but this leitstand needs "
            f"{', '.join(sorted(heads))}: run `leitstand db upgrade`"
        )


def _migrate_locked(db: Database) -> None:
    # Several instances may start together against one PostgreSQL: one migrates, others wait.
    with db.engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_advisory_lock(7419001)"))
        try:
            migrations.upgrade(db)
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(7419001)"))
            conn.commit()


def _signer(db: Database, settings: Settings, policy: Policy) -> LedgerSigner:
    path = settings.signing_key_path
    with db.reader() as session:
        state = session.execute(
            sa.select(LedgerStateRow.size, LedgerStateRow.note).where(LedgerStateRow.id == 1)
        ).one_or_none()
    if state is None:
        raise StoreError("ledger head row is missing: run `leitstand db upgrade`")
    if state.size == 0 and not path.exists():
        key = load_or_create_signing_key(path)
    else:
        if not path.exists():
            raise ConfigError(
                f"signing key {path} is missing but the ledger holds {state.size} entries: "
                "restore the key file (or set LEITSTAND_SIGNING_KEY)"
            )
        key = load_signing_key(path)
    signer = LedgerSigner(origin=policy.evidence.origin, private_key=key)
    if state.note is not None:
        try:
            open_checkpoint(state.note, signer.verifier)
        except LeitstandError as exc:
            raise ConfigError(
                f"signing key {path} does not match the ledger's signed head ({exc}); "
                "use the key the ledger was created with"
            ) from exc
    return signer
