"""The composition root: settings in, services out. Nothing connects at import time."""

from __future__ import annotations

import getpass
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import structlog

from leitstand import domains, migrations
from leitstand.auth.service import AuthService
from leitstand.clock import Clock, SystemClock
from leitstand.db import Database
from leitstand.errors import ConfigError, LeitstandError, StoreError
from leitstand.identity import Actor
from leitstand.ledger.audit import AuditService
from leitstand.ledger.checkpoint import (
    load_or_create_signing_key,
    load_signing_key,
    open_checkpoint,
)
from leitstand.ledger.keys import LedgerSigner
from leitstand.ledger.service import Ledger, install_session_hooks
from leitstand.ledger.store.entries import state as ledger_state
from leitstand.ledger.witness import CheckpointCopy
from leitstand.ledger.witnessing import build_witnessing
from leitstand.policy.loader import find_policy_file, load_policy
from leitstand.policy.model import Policy
from leitstand.scheduler.service import Scheduler
from leitstand.settings import Settings, tighten_permissions

if TYPE_CHECKING:
    from leitstand.alerting.service import AlertingService
    from leitstand.backups.drills import DrillService
    from leitstand.backups.monitor import BackupMonitor
    from leitstand.backups.service import BackupService
    from leitstand.changes.service import ChangeService
    from leitstand.flags.service import FlagService
    from leitstand.gates.service import GateService
    from leitstand.incidents.reporting.service import IncidentReporting
    from leitstand.incidents.response.actions import ActionItems
    from leitstand.incidents.service import IncidentService
    from leitstand.releases.service import ReleaseService

__all__ = ["Container", "Wiring", "build", "local_actor"]

log = structlog.get_logger(__name__)
_T = TypeVar("_T")
_MIGRATION_LOCK = 7419001


def _find(values: Iterable[object], kind: type[_T]) -> _T:
    for value in values:
        if isinstance(value, kind):
            return value
    raise LookupError(f"no service of type {kind.__name__} is wired")


@dataclass
class Wiring:
    """What a domain's ``wire`` function gets (``leitstand.domains``): the core services and the
    services of the domains wired before it; it adds its own with ``add``."""

    settings: Settings
    clock: Clock
    policy: Policy
    db: Database
    ledger: Ledger
    scheduler: Scheduler
    services: list[object] = field(default_factory=list)

    def add(self, *services: object) -> None:
        self.services.extend(services)

    def get(self, kind: type[_T]) -> _T:
        """The one wired service of type ``kind`` (core or an earlier domain's)."""
        return _find((self.ledger, self.scheduler, *self.services), kind)


@dataclass
class Container:
    """Every service of one leitstand process, wired once.

    The core (store, ledger, users, timers) are fields; each domain's services come from its
    ``wire`` function in the registry and are found by type with ``get`` (what the API's typed
    dependencies do). The named properties below are shortcuts for the CLI and tests.
    """

    settings: Settings
    clock: Clock
    policy: Policy
    policy_file: Path | None
    db: Database
    ledger: Ledger
    auth: AuthService
    audit: AuditService
    scheduler: Scheduler
    services: list[object] = field(default_factory=list)

    def get(self, kind: type[_T]) -> _T:
        """The one service of type ``kind`` (what typed API dependencies resolve to)."""
        core = (self.policy, self.db, self.ledger, self.auth, self.audit, self.scheduler)
        return _find((*core, *self.services), kind)

    def close(self) -> None:
        self.ledger.close()
        self.db.dispose()

    # -- shortcuts to the domains' services (imported when used, so the CLI stays fast) -------

    @property
    def changes(self) -> ChangeService:
        from leitstand.changes.service import ChangeService

        return self.get(ChangeService)

    @property
    def gates(self) -> GateService:
        from leitstand.gates.service import GateService

        return self.get(GateService)

    @property
    def flags(self) -> FlagService:
        from leitstand.flags.service import FlagService

        return self.get(FlagService)

    @property
    def alerting(self) -> AlertingService:
        from leitstand.alerting.service import AlertingService

        return self.get(AlertingService)

    @property
    def incidents(self) -> IncidentService:
        from leitstand.incidents.service import IncidentService

        return self.get(IncidentService)

    @property
    def incident_actions(self) -> ActionItems:
        from leitstand.incidents.response.actions import ActionItems

        return self.get(ActionItems)

    @property
    def incident_reporting(self) -> IncidentReporting:
        from leitstand.incidents.reporting.service import IncidentReporting

        return self.get(IncidentReporting)

    @property
    def backups(self) -> BackupService:
        from leitstand.backups.service import BackupService

        return self.get(BackupService)

    @property
    def drills(self) -> DrillService:
        from leitstand.backups.drills import DrillService

        return self.get(DrillService)

    @property
    def backup_monitor(self) -> BackupMonitor:
        from leitstand.backups.monitor import BackupMonitor

        return self.get(BackupMonitor)

    @property
    def releases(self) -> ReleaseService:
        from leitstand.releases.service import ReleaseService

        return self.get(ReleaseService)


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
    wiring = Wiring(
        settings=settings, clock=clock, policy=policy, db=db, ledger=ledger, scheduler=scheduler
    )
    # Each domain wires its services in the registry's order (leitstand.domains).
    for domain in domains.DOMAINS:
        if domain.wire is not None:
            domains.load(domain.wire)(wiring)
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
        services=wiring.services,
    )
    for domain in domains.DOMAINS:
        if domain.jobs is not None:
            domains.load(domain.jobs)(container)
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
    with db.advisory_lock(_MIGRATION_LOCK):
        migrations.upgrade(db)


def _signer(db: Database, settings: Settings, policy: Policy) -> LedgerSigner:
    path = settings.signing_key_path
    with db.reader() as session:
        row = ledger_state(session)
        state = None if row is None else (row.size, row.note)
    if state is None:
        raise StoreError("ledger head row is missing: run `leitstand db upgrade`")
    size, note = state
    if size == 0 and not path.exists():
        key = load_or_create_signing_key(path)
    else:
        if not path.exists():
            raise ConfigError(
                f"signing key {path} is missing but the ledger holds {size} entries: "
                "restore the key file (or set LEITSTAND_SIGNING_KEY)"
            )
        key = load_signing_key(path)
    signer = LedgerSigner(origin=policy.evidence.origin, private_key=key)
    if note is not None:
        try:
            open_checkpoint(note, signer.verifier)
        except LeitstandError as exc:
            raise ConfigError(
                f"signing key {path} does not match the ledger's signed head ({exc}); "
                "use the key the ledger was created with"
            ) from exc
    return signer
