"""Feature flag use cases: create, target, toggle, kill, archive, evaluate, snapshot, lifecycle.

Every change is checked against the policy (environments, tenants, roles, a reason for
production), committed together with its evidence entry (subject ``flag:<key>``; one entry per
affected tenant when a change concerns only some tenants) and bumps the flag's version.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict, Unpack

from leitstand.auth.model import Actor
from leitstand.clock import Clock
from leitstand.db import Database, IntegrityError
from leitstand.errors import ConflictError, NotFoundError
from leitstand.flags.evaluation import Resolution, Snapshot, content_etag
from leitstand.flags.evidence import record_change
from leitstand.flags.lifecycle import (
    StaleFlag,
    full_rollout_since,
    stale_flags,
    stale_gate_fails,
)
from leitstand.flags.model import (
    BOOLEAN_VARIANTS,
    FlagRecord,
    FlagValue,
    Rule,
    Serve,
    Targeting,
    ValueType,
)
from leitstand.flags.refs import ReferenceReport, scan_references
from leitstand.flags.rules import FlagRules
from leitstand.flags.schemas import FlagConfigSchema, SnapshotSchema
from leitstand.flags.store import FlagStore
from leitstand.ledger.canonical import Entry
from leitstand.ledger.service import EntryQuery, Ledger
from leitstand.policy.model import Policy

__all__ = ["TENANT_RULE", "FlagService", "ServedSnapshot"]

#: The rule that ``tenants --add`` maintains: the tenants a flag is switched on for.
TENANT_RULE = "tenants"


class _Switches(TypedDict, total=False):
    """The switches of one environment's targeting."""

    enabled: bool
    killed: bool


@dataclass(frozen=True, slots=True)
class ServedSnapshot:
    """A snapshot with its JSON document and ETag, as served to clients."""

    snapshot: Snapshot
    document: str
    etag: str
    revision: int


class FlagService:
    """Manage feature flags and evaluate them; every change is evidence."""

    def __init__(self, *, db: Database, ledger: Ledger, clock: Clock, policy: Policy) -> None:
        self.db = db
        self.ledger = ledger
        self.clock = clock
        self.policy = policy
        self.rules = FlagRules(policy)
        self._lock = threading.Lock()
        self._served: dict[str, ServedSnapshot] = {}

    # -- reading -------------------------------------------------------------------------------

    @property
    def environments(self) -> list[str]:
        return self.rules.environments

    @property
    def tenants(self) -> list[str]:
        return self.rules.tenants

    def is_production(self, environment: str) -> bool:
        return self.rules.is_production(environment)

    def may_change(self, actor: Actor, environment: str | None) -> bool:
        """Whether ``actor`` may change flags in ``environment`` (None: flag definitions)."""
        return self.rules.may_change(actor, environment)

    def list_flags(self, *, include_archived: bool = True) -> list[FlagRecord]:
        """Every flag, by key."""
        with self.db.reader() as session:
            return FlagStore(session).all(include_archived=include_archived)

    def get(self, key: str) -> FlagRecord:
        """One flag; NotFoundError when there is none."""
        with self.db.reader() as session:
            record = FlagStore(session).get(key)
        if record is None:
            raise NotFoundError(f"flag {key!r} not found")
        return record

    def history(self, key: str, *, limit: int = 100) -> list[Entry]:
        """The evidence entries of a flag, newest first."""
        with self.db.reader() as session:
            return self.ledger.entries(session, EntryQuery(subject=f"flag:{key}", limit=limit))

    def snapshot(self, environment: str) -> ServedSnapshot:
        """The flags of ``environment`` as clients fetch them (cached per revision)."""
        self.rules.check_environment(environment)
        with self.db.reader() as session:
            store = FlagStore(session)
            revision = store.revision()
            cached = self._served.get(environment)
            if cached is not None and cached.revision == revision:
                return cached
            flags = store.all()
        active = [f for f in flags if not f.archived]
        body = {
            "environment": environment,
            "flags": [
                FlagConfigSchema.of(f.config(environment)).model_dump(mode="json") for f in active
            ],
            "archived": [f.key for f in flags if f.archived],
        }
        etag = content_etag(body)
        schema = SnapshotSchema.model_validate(body | {"generated_at": self.clock.now()})
        served = ServedSnapshot(
            snapshot=schema.to_model(etag),
            document=schema.model_dump_json(),
            etag=etag,
            revision=revision,
        )
        with self._lock:
            self._served[environment] = served
        return served

    def evaluate(
        self,
        *,
        environment: str,
        context: Mapping[str, object],
        flags: Sequence[tuple[str, ValueType | None]] | None = None,
    ) -> tuple[ServedSnapshot, list[tuple[str, Resolution]]]:
        """Evaluate flags for one context with the same code the in-process client runs."""
        served = self.snapshot(environment)
        wanted = flags if flags is not None else [(k, None) for k in sorted(served.snapshot.keys())]
        results = [
            (key, served.snapshot.resolve(key, context, expected=expected))
            for key, expected in wanted
        ]
        return served, results

    def stale(self) -> list[StaleFlag]:
        """Stale flags now, by the policy's lifetimes (for the quality gate and the CLI)."""
        return stale_flags(self.list_flags(), policy=self.policy, now=self.clock.now())

    def stale_gate_fails(self, stale: Sequence[StaleFlag]) -> bool:
        """Whether the policy makes stale flags fail the quality gate."""
        return stale_gate_fails(stale, policy=self.policy)

    def references(self, root: Path) -> ReferenceReport:
        """Scan a code tree for flag references (policy ``feature_flags.references``)."""
        return scan_references(
            root, flags=self.list_flags(), policy=self.policy.deployment.feature_flags.references
        )

    # -- changing ------------------------------------------------------------------------------

    def create(
        self,
        *,
        key: str,
        kind: str,
        actor: Actor,
        value_type: ValueType = ValueType.BOOLEAN,
        variants: Mapping[str, FlagValue] | None = None,
        off_variant: str | None = None,
        description: str = "",
        owner: str | None = None,
        environments: Mapping[str, Targeting] | None = None,
        reason: str | None = None,
    ) -> FlagRecord:
        """Create a flag; it is off in every environment unless ``environments`` says more."""
        if variants is None:
            variants = dict(BOOLEAN_VARIANTS) if value_type is ValueType.BOOLEAN else {}
        if off_variant is None:
            off_variant = "off" if value_type is ValueType.BOOLEAN else next(iter(variants), "")
        now = self.clock.now()
        envs = dict(environments or {})
        record = FlagRecord(
            key=key,
            kind=kind,
            value_type=value_type,
            variants=_normalised(value_type, variants),
            off_variant=off_variant,
            description=description,
            owner=owner,
            environments={env: envs.get(env, Targeting()) for env in self.environments} | envs,
            created_at=now,
            updated_at=now,
        )
        self.rules.validate(record)
        touched = [env for env, t in envs.items() if t != Targeting()]
        self.rules.authorize(actor, touched, definition=True)
        self.rules.require_reason(touched, reason)
        record = dataclasses.replace(
            record, full_rollout_since=full_rollout_since(None, record, now)
        )
        try:
            with self.db.transaction() as session:
                FlagStore(session).add(record, created_by=actor.name)
                record_change(
                    self.ledger,
                    session,
                    actor,
                    "flag.created",
                    None,
                    record,
                    environments=touched,
                    definition=True,
                    reason=reason,
                    rules=self.rules,
                    extra={
                        "type": kind,
                        "value_type": value_type.value,
                        "variants": dict(record.variants),
                        "off_variant": off_variant,
                        "description": description,
                        "owner": owner,
                    },
                )
        except IntegrityError as exc:
            raise ConflictError(f"flag {key!r} already exists") from exc
        return record

    def update(
        self,
        key: str,
        *,
        actor: Actor,
        kind: str | None = None,
        description: str | None = None,
        owner: str | None = None,
        variants: Mapping[str, FlagValue] | None = None,
        off_variant: str | None = None,
        reason: str | None = None,
        expected_version: int | None = None,
    ) -> FlagRecord:
        """Change a flag's type, description, owner or variants."""

        def change(flag: FlagRecord) -> FlagRecord:
            new_variants = flag.variants
            if variants is not None:
                new_variants = _normalised(flag.value_type, variants)
            return dataclasses.replace(
                flag,
                kind=kind if kind is not None else flag.kind,
                description=description if description is not None else flag.description,
                owner=owner if owner is not None else flag.owner,
                variants=new_variants,
                off_variant=off_variant if off_variant is not None else flag.off_variant,
            )

        return self._change(
            key,
            change,
            actor=actor,
            action="flag.updated",
            environments=None,
            reason=reason,
            expected_version=expected_version,
        )

    def set_targeting(
        self,
        key: str,
        environment: str,
        targeting: Targeting,
        *,
        actor: Actor,
        reason: str | None = None,
        expected_version: int | None = None,
        change_id: int | None = None,
    ) -> FlagRecord:
        """Replace the whole targeting of one environment."""
        return self._change_targeting(
            key,
            environment,
            lambda _f, _t: targeting,
            actor=actor,
            action="flag.targeting_changed",
            reason=reason,
            expected_version=expected_version,
            change_id=change_id,
        )

    def toggle(
        self,
        key: str,
        environment: str,
        *,
        enabled: bool,
        actor: Actor,
        reason: str | None = None,
        change_id: int | None = None,
    ) -> FlagRecord:
        """Switch a flag's targeting on or off in one environment."""
        action = "flag.enabled" if enabled else "flag.disabled"
        return self._switch(key, environment, action, actor, reason, change_id, enabled=enabled)

    def kill(
        self,
        key: str,
        environment: str,
        *,
        killed: bool,
        actor: Actor,
        reason: str | None = None,
        change_id: int | None = None,
    ) -> FlagRecord:
        """Pull (or release) the kill switch: the off variant for everyone, over every rule."""
        action = "flag.killed" if killed else "flag.kill_released"
        return self._switch(key, environment, action, actor, reason, change_id, killed=killed)

    def _switch(
        self,
        key: str,
        environment: str,
        action: str,
        actor: Actor,
        reason: str | None,
        change_id: int | None,
        **switches: Unpack[_Switches],
    ) -> FlagRecord:
        """Set one environment's switches (``enabled``, ``killed``) as ``action``."""
        return self._change_targeting(
            key,
            environment,
            lambda _f, t: dataclasses.replace(t, **switches),
            actor=actor,
            action=action,
            reason=reason,
            change_id=change_id,
        )

    def set_tenants(
        self,
        key: str,
        environment: str,
        *,
        actor: Actor,
        add: Sequence[str] = (),
        remove: Sequence[str] = (),
        exclude: Sequence[str] = (),
        include: Sequence[str] = (),
        variant: str | None = None,
        reason: str | None = None,
        change_id: int | None = None,
    ) -> FlagRecord:
        """Switch a flag on for tenants (the ``tenants`` rule) or exclude them.

        Adding a tenant also switches the environment's targeting on: activating a tenant is
        meant to take effect.
        """

        def change(flag: FlagRecord, t: Targeting) -> Targeting:
            rules = list(t.rules)
            index = next((i for i, r in enumerate(rules) if r.name == TENANT_RULE), None)
            current = rules[index] if index is not None else None
            listed = list(current.tenants) if current else []
            listed += [x for x in add if x not in listed]
            listed = [x for x in listed if x not in remove]
            serve_variant = variant or (current.serve.variant if current else None)
            serve_variant = serve_variant or _on_variant(flag)
            rule = Rule(name=TENANT_RULE, serve=Serve(variant=serve_variant), tenants=tuple(listed))
            if index is None and listed:
                rules.insert(0, rule)
            elif index is not None and listed:
                rules[index] = rule
            elif index is not None:
                del rules[index]
            excluded = [x for x in t.exclude_tenants if x not in include]
            excluded += [x for x in exclude if x not in excluded]
            return dataclasses.replace(
                t,
                rules=tuple(rules),
                exclude_tenants=tuple(excluded),
                enabled=t.enabled or bool(add),
            )

        return self._change_targeting(
            key,
            environment,
            change,
            actor=actor,
            action="flag.tenants_changed",
            reason=reason,
            change_id=change_id,
        )

    def rollout(
        self,
        key: str,
        environment: str,
        *,
        percentage: float,
        actor: Actor,
        variant: str | None = None,
        stickiness: str | None = None,
        reason: str | None = None,
        change_id: int | None = None,
    ) -> FlagRecord:
        """Serve a variant to a sticky percentage of everyone the rules do not match.

        A share above 0 also switches the environment's targeting on.
        """

        def change(flag: FlagRecord, t: Targeting) -> Targeting:
            current = t.default
            serve = Serve(
                variant=variant or current.variant or _on_variant(flag),
                percentage=percentage,
                stickiness=stickiness or current.stickiness,
            )
            return dataclasses.replace(t, default=serve, enabled=t.enabled or percentage > 0)

        return self._change_targeting(
            key,
            environment,
            change,
            actor=actor,
            action="flag.rollout_changed",
            reason=reason,
            change_id=change_id,
        )

    def archive(self, key: str, *, actor: Actor, reason: str | None = None) -> FlagRecord:
        """Archive a flag removed from the code; evaluations then return the caller's default."""
        now = self.clock.now()

        def change(flag: FlagRecord) -> FlagRecord:
            if flag.archived:
                raise ConflictError(f"flag {key!r} is already archived")
            return dataclasses.replace(flag, archived_at=now)

        return self._change(
            key, change, actor=actor, action="flag.archived", environments=None, reason=reason
        )

    def restore(self, key: str, *, actor: Actor, reason: str | None = None) -> FlagRecord:
        """Bring an archived flag back."""

        def change(flag: FlagRecord) -> FlagRecord:
            if not flag.archived:
                raise ConflictError(f"flag {key!r} is not archived")
            return dataclasses.replace(flag, archived_at=None)

        return self._change(
            key,
            change,
            actor=actor,
            action="flag.restored",
            environments=None,
            reason=reason,
            allow_archived=True,
        )

    # -- the one write path --------------------------------------------------------------------

    def _change_targeting(
        self,
        key: str,
        environment: str,
        change: Callable[[FlagRecord, Targeting], Targeting],
        *,
        actor: Actor,
        action: str,
        reason: str | None,
        expected_version: int | None = None,
        change_id: int | None = None,
    ) -> FlagRecord:
        self.rules.check_environment(environment)

        def apply(flag: FlagRecord) -> FlagRecord:
            new = change(flag, flag.targeting(environment))
            return dataclasses.replace(
                flag, environments=dict(flag.environments) | {environment: new}
            )

        return self._change(
            key,
            apply,
            actor=actor,
            action=action,
            environments=[environment],
            reason=reason,
            expected_version=expected_version,
            change_id=change_id,
        )

    def _change(
        self,
        key: str,
        change: Callable[[FlagRecord], FlagRecord],
        *,
        actor: Actor,
        action: str,
        environments: Sequence[str] | None,
        reason: str | None,
        expected_version: int | None = None,
        allow_archived: bool = False,
        change_id: int | None = None,
    ) -> FlagRecord:
        now = self.clock.now()
        with self.db.transaction() as session:
            store = FlagStore(session)
            row = store.row(key, lock=True)
            if row is None:
                raise NotFoundError(f"flag {key!r} not found")
            before = store.record(row)
            if expected_version is not None and expected_version != before.version:
                raise ConflictError(
                    f"flag {key!r} changed meanwhile: version is {before.version}, "
                    f"expected {expected_version}; reload and try again"
                )
            if before.archived and not allow_archived:
                raise ConflictError(f"flag {key!r} is archived: restore it before changing it")
            after = change(before)
            definition = environments is None
            touched = _live(before, after) if environments is None else list(environments)
            self.rules.authorize(actor, touched, definition=definition)
            if after == before:
                return before  # nothing changes: no new version, no evidence
            self.rules.validate(after)
            self.rules.require_reason(touched, reason)
            after = dataclasses.replace(
                after,
                version=before.version + 1,
                updated_at=now,
                full_rollout_since=full_rollout_since(before, after, now),
            )
            store.save(row, after)
            record_change(
                self.ledger,
                session,
                actor,
                action,
                before,
                after,
                environments=touched,
                definition=definition,
                reason=reason,
                rules=self.rules,
                # The change record this switch belongs to: the change log shows it there.
                extra={"change_id": change_id} if change_id is not None else None,
            )
        return after


def _on_variant(flag: FlagRecord) -> str:
    for name in flag.variants:
        if name != flag.off_variant:
            return name
    return flag.off_variant


def _normalised(value_type: ValueType, variants: Mapping[str, FlagValue]) -> dict[str, FlagValue]:
    if value_type is ValueType.FLOAT:
        return {
            k: float(v) if isinstance(v, int) and not isinstance(v, bool) else v
            for k, v in variants.items()
        }
    return dict(variants)


def _live(before: FlagRecord, after: FlagRecord) -> list[str]:
    # A definition change touches every environment where the flag is switched on.
    return [
        env
        for env in after.environments
        if before.targeting(env).enabled or after.targeting(env).enabled
    ]
