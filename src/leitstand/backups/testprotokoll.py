"""The Testprotokoll of a drill as data (format ``leitstand.testprotokoll/1``)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from leitstand.auth.model import Actor
from leitstand.backups.drill_steps import DrillRun
from leitstand.backups.model import DRILL_TESTS, DrillKind, DrillStatus, Site
from leitstand.backups.report import FORMAT
from leitstand.backups.store import DrillRow
from leitstand.policy.model import Policy

__all__ = ["build_protocol"]


def build_protocol(
    policy: Policy,
    row: DrillRow,
    run: DrillRun,
    actor: Actor,
    target: datetime | None,
    error: str | None,
    status: DrillStatus,
    *,
    now: datetime,
) -> dict[str, Any]:
    """The Testprotokoll of a finished drill as JSON: what, when, who, phases, result."""
    kind = DrillKind(row.kind)
    test_key = DRILL_TESTS[kind]
    test = policy.backups.recovery_tests.get(test_key)
    service = policy.services.get(row.system)
    total = round(sum(p.seconds for p in run.phases if p.name != "cleanup"), 3)
    rto = service.rto.total_seconds() if service is not None else None
    site = run.setup.site
    names = {
        Site.PRIMARY: policy.backups.sites.primary.name,
        Site.SECONDARY: policy.backups.sites.secondary.name,
    }
    source = run.facts.get("backup_set") or ""
    snap = run.facts.get("files_snapshot")
    if snap:
        source = (source + ", " if source else "") + f"restic {snap['id']}"
    return {
        "format": FORMAT,
        "drill_id": row.id,
        "drill_key": row.drill_key,
        "kind": kind.value,
        "test": test_key,
        "test_name": {"de": test.name.de, "en": test.name.en} if test else None,
        "frequency": test.frequency.value if test else None,
        "documentation": test.documentation.value if test else None,
        "system": row.system,
        "system_name": service.name if service else row.system,
        "site": site.value,
        "site_name": names[site].de,
        "actor": {"name": actor.name, "role": actor.role},
        "trigger": row.trigger,
        "started_at": row.started_at.isoformat(),
        "finished_at": now.isoformat(),
        "target_time": run.facts.get("target_time") or (target.isoformat() if target else None),
        "source": source or f"pgBackRest repo{site.repo} ({site.value})",
        "scratch": run.facts.get("scratch"),
        "phases": [asdict(p) for p in run.phases],
        "total_seconds": total,
        "rto_seconds": rto,
        "within_rto": rto is not None and total <= rto,
        "checks": [
            {
                "name": c.name,
                "ok": c.ok,
                "detail": c.detail,
                "skipped": c.skipped,
                "values": dict(c.values),
            }
            for c in run.checks
        ],
        "row_counts": run.facts.get("row_counts", {}),
        "facts": {k: v for k, v in run.facts.items() if k not in ("row_counts", "scratch")},
        "deviations": run.deviations,
        "error": error,
        "result": status.value,
        "cleaned_up": bool(run.facts.get("cleaned_up")),
    }
