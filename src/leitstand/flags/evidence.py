"""Evidence of flag changes: who, what, before and after, and which tenants it affects."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from leitstand.auth.model import Actor
from leitstand.db import Session
from leitstand.flags.impact import affected_tenants
from leitstand.flags.model import FlagRecord
from leitstand.flags.rules import FlagRules
from leitstand.flags.schemas import TargetingSchema
from leitstand.ledger.service import Ledger

__all__ = ["record_change"]


def record_change(
    ledger: Ledger,
    session: Session,
    actor: Actor,
    action: str,
    before: FlagRecord | None,
    after: FlagRecord,
    *,
    environments: Sequence[str],
    definition: bool,
    reason: str | None,
    rules: FlagRules,
    extra: Mapping[str, object] | None = None,
) -> None:
    """Append the evidence of one flag change (one entry per affected tenant if only some)."""
    affected: list[str] = []
    changes: dict[str, object] = {}
    for env in rules.environments if definition else environments:
        old = before.config(env) if before is not None and not before.archived else None
        new = after.config(env) if not after.archived else None
        for tenant in affected_tenants(old, new, rules.tenants):
            if tenant not in affected:
                affected.append(tenant)
        if not definition:
            changes[env] = {
                "before": _targeting_doc(before, env),
                "after": _targeting_doc(after, env),
            }
    if definition and before is not None:
        changes["definition"] = {"before": _definition(before), "after": _definition(after)}
    order = {t: i for i, t in enumerate(rules.tenants)}
    affected.sort(key=lambda t: order.get(t, len(order)))
    everyone = len(affected) == len(rules.tenants) and bool(affected)
    payload: dict[str, object] = {
        "key": after.key,
        "version": after.version,
        "environments": list(environments),
        "production": any(rules.is_production(e) for e in environments),
        "reason": (reason or "").strip() or None,
        "tenants": affected,
        "scope": "all_tenants" if everyone else ("tenants" if affected else "none"),
        "changes": changes,
    } | dict(extra or {})
    subject = f"flag:{after.key}"
    if affected and not everyone:
        # One entry per tenant, so each tenant's incident timeline finds the switch.
        for tenant in affected:
            ledger.record(session, actor, action, subject, tenant=tenant, payload=payload)
    else:
        ledger.record(session, actor, action, subject, payload=payload)


def _targeting_doc(record: FlagRecord | None, env: str) -> dict[str, Any] | None:
    if record is None:
        return None
    return TargetingSchema.of(record.targeting(env)).model_dump(mode="json")


def _definition(record: FlagRecord) -> dict[str, object]:
    return {
        "type": record.kind,
        "description": record.description,
        "owner": record.owner,
        "variants": dict(record.variants),
        "off_variant": record.off_variant,
        "archived": record.archived,
    }
