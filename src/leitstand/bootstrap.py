"""The composition root: settings in, services out. Nothing connects at import time."""

from __future__ import annotations

import getpass
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Generic, TypeVar, cast, overload

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

__all__ = ["Container", "Shortcut", "Wiring", "build", "local_actor"]

log = structlog.get_logger(__name__)
_T = TypeVar("_T")
_MIGRATION_LOCK = 7419001


def _find(values: Iterable[object], kind: type[_T]) -> _T:
    for value in values:
        if isinstance(value, kind):
            return value
    raise _not_wired(kind)


def _not_wired(kind: type) -> LookupError:
    return LookupError(f"no service of type {kind.__name__} is wired")


class Shortcut(Generic[_T]):
    """``container.<name>``: the container's service of the class at ``target``
    (``module:Class``), imported on first use so that reading the container imports no domain."""

    def __init__(self, target: str) -> None:
        self.target = target
        self._kind: type[_T] | None = None

    def kind(self) -> type[_T]:
        if self._kind is None:
            self._kind = cast("type[_T]", domains.load(self.target))
        return self._kind

    @overload
    def __get__(self, container: None, owner: type[Container]) -> Shortcut[_T]: ...
    @overload
    def __get__(self, container: Container, owner: type[Container]) -> _T: ...
    def __get__(self, container: Container | None, owner: type[Container]) -> Shortcut[_T] | _T:
        return self if container is None else container.get(self.kind())

    def __set__(self, container: Container, value: object) -> None:
        raise AttributeError(f"{self.target} is wired once: the shortcut is read-only")


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
    dependencies do), from an index built when the container is made. The named ``Shortcut``
    attributes below (``container.incidents``, ...) are typed shortcuts for the CLI and tests.
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

    _by_type: dict[type, object] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.reindex()

    def reindex(self) -> None:
        """Index the services by their class and its base classes, the first of a type winning
        (core, then registry order). Done when the container is made and after a field is
        replaced (the policy reload)."""
        core = (self.policy, self.db, self.ledger, self.auth, self.audit, self.scheduler)
        self._by_type = {}
        for service in (*core, *self.services):
            for kind in type(service).__mro__:
                self._by_type.setdefault(kind, service)

    def get(self, kind: type[_T]) -> _T:
        """The one service of type ``kind`` (what typed API dependencies resolve to)."""
        try:
            return cast("_T", self._by_type[kind])
        except KeyError:
            raise _not_wired(kind) from None

    def close(self) -> None:
        self.ledger.close()
        self.db.dispose()

    # -- shortcuts to the domains' services (imported when used, so the CLI stays fast) -------

    changes: ClassVar[Shortcut[ChangeService]] = Shortcut("leitstand.changes.service:ChangeService")
    gates: ClassVar[Shortcut[GateService]] = Shortcut("leitstand.gates.service:GateService")
    flags: ClassVar[Shortcut[FlagService]] = Shortcut("leitstand.flags.service:FlagService")
    alerting: ClassVar[Shortcut[AlertingService]] = Shortcut(
        "leitstand.alerting.service:AlertingService"
    )
    incidents: ClassVar[Shortcut[IncidentService]] = Shortcut(
        "leitstand.incidents.service:IncidentService"
    )
    incident_actions: ClassVar[Shortcut[ActionItems]] = Shortcut(
        "leitstand.incidents.response.actions:ActionItems"
    )
    incident_reporting: ClassVar[Shortcut[IncidentReporting]] = Shortcut(
        "leitstand.incidents.reporting.service:IncidentReporting"
    )
    backups: ClassVar[Shortcut[BackupService]] = Shortcut("leitstand.backups.service:BackupService")
    drills: ClassVar[Shortcut[DrillService]] = Shortcut("leitstand.backups.drills:DrillService")
    backup_monitor: ClassVar[Shortcut[BackupMonitor]] = Shortcut(
        "leitstand.backups.monitor:BackupMonitor"
    )
    releases: ClassVar[Shortcut[ReleaseService]] = Shortcut(
        "leitstand.releases.service:ReleaseService"
    )


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
