"""The handover checklist (the seed's "Übergabe-Checkliste"), checked after production releases.

After every production release that completed, each item of ``handover_checklist`` is checked
against live state, with its evidence: the router and the store (deployed), the health endpoint
(health checks), Prometheus (monitoring), the generated rules, routes and on-call shift
(alerting), the backups domain (backup), the gate's own run records (operations manual), the
change log (ledger), the smoke paths (verification), the recipients of the documentation
handover. An item without an automatic check never passes by itself. Every failing item opens an
action item (a release task) for the item's ``owner``, due within its ``fix_within``; the whole
result is kept on the release and in the ledger (``release.handover_checked``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx

from leitstand.alerting.model import recipients_for
from leitstand.alerting.oncall import current_shift
from leitstand.db import Session
from leitstand.errors import LeitstandError
from leitstand.gates.store import runs_for
from leitstand.ledger.service import EntryQuery, Ledger
from leitstand.policy.model import Policy
from leitstand.releases.aftermath import Aftermath
from leitstand.releases.analysis import PrometheusQueries, prometheus_url
from leitstand.releases.flow import SYSTEM, evidence
from leitstand.releases.health import probe, smoke
from leitstand.releases.model import Phase
from leitstand.releases.runtime import Runtime, RuntimeFactory
from leitstand.releases.store import (
    ReleaseRow,
    TargetRow,
    TaskRow,
    open_task_titled,
    release_row,
    target_of,
)
from leitstand.scheduler.service import JobContext

if TYPE_CHECKING:
    from leitstand.backups.service import BackupService

__all__ = ["HANDOVER", "Handover", "ItemResult", "stored"]

HANDOVER = "releases.handover"


@dataclass(frozen=True, slots=True)
class ItemResult:
    key: str
    ok: bool
    detail: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Context:
    session: Session
    row: ReleaseRow
    target: TargetRow
    runtime: Runtime
    now: datetime


class Handover:
    """Checks the handover checklist of one release and opens action items for failures."""

    def __init__(
        self,
        *,
        ledger: Ledger,
        policy: Policy,
        factory: RuntimeFactory,
        aftermath: Aftermath,
        backups: BackupService | None,
    ) -> None:
        self.ledger = ledger
        self.policy = policy
        self.factory = factory
        self.aftermath = aftermath
        self.backups = backups
        self.checks: dict[str, Callable[[_Context], ItemResult]] = {
            "deployed_to_production": self._deployed,
            "health_checks_passed": self._health,
            "monitoring_active": self._monitoring,
            "alerting_configured": self._alerting,
            "backup_covers_new_data": self._backup,
            "runbook_updated": self._runbook,
            "change_log_entry": self._change_log,
            "post_deployment_verification": self._verification,
            "documentation_handed_over": self._documentation,
        }

    def job(self, ctx: JobContext) -> None:
        """The timer set when a production release completed: check the list once."""
        row = release_row(ctx.session, int(ctx.payload["release_id"]))
        if row is not None and self.wanted(row):
            self.check(ctx.session, row, ctx.now)

    def wanted(self, row: ReleaseRow) -> bool:
        env = self.policy.environments.get(row.env)
        return bool(env and env.production) and row.phase == Phase.COMPLETED.value

    def check(self, session: Session, row: ReleaseRow, now: datetime) -> dict[str, Any]:
        """Check every item now, keep the result on the release, open action items."""
        target = target_of(session, row.service, row.env)
        ctx = _Context(session, row, target, self.factory.get(row.service, row.env), now)
        items: list[dict[str, Any]] = []
        for key, item in self.policy.handover_checklist.items():
            check = self.checks.get(key)
            try:
                result = (
                    check(ctx)
                    if check
                    else ItemResult(key, False, "no automatic check: to be confirmed by its owner")
                )
            except (LeitstandError, httpx.HTTPError, OSError, ValueError) as exc:
                result = ItemResult(key, False, f"could not be checked: {exc}")
            task: int | None = None
            if result.ok:
                self._close(ctx, key, result)
            else:
                task = self._action(ctx, key, result)
            items.append(
                {
                    "key": key,
                    "text": {"de": item.text.de, "en": item.text.en},
                    "ok": result.ok,
                    "detail": result.detail,
                    "evidence": result.evidence,
                    "owner": item.owner.value,
                    "task_id": task,
                }
            )
        failed = [i["key"] for i in items if not i["ok"]]
        summary: dict[str, Any] = {
            "checked_at": now.isoformat(),
            "passed": not failed,
            "failed": failed,
            "items": items,
        }
        row.handover = json.dumps(summary, default=str)
        self.ledger.record(
            session,
            SYSTEM,
            "release.handover_checked",
            f"release:{row.id}",
            payload=evidence(
                row, passed=not failed, failed=failed, items={i["key"]: i["ok"] for i in items}
            ),
        )
        return summary

    @staticmethod
    def _open_task(ctx: _Context, key: str) -> TaskRow | None:
        return open_task_titled(ctx.session, ctx.row.id, "handover", f"[{key}]")

    def _close(self, ctx: _Context, key: str, result: ItemResult) -> None:
        """An item that passes now closes its action item (with the evidence as its note)."""
        task = self._open_task(ctx, key)
        if task is not None:
            task.status, task.done_at, task.done_by = "done", ctx.now, SYSTEM.name
            task.note = f"passed when checked again: {result.detail}"
            self.ledger.record(
                ctx.session, SYSTEM, "release.task_done", f"release:{ctx.row.id}",
                payload={"task_id": task.id, "service": task.service, "env": task.env,
                         "note": task.note, "overdue": ctx.now > task.due_at},
            )  # fmt: skip

    def _action(self, ctx: _Context, key: str, result: ItemResult) -> int:
        """The open action item of this release and item, or a new one."""
        tag = f"[{key}]"
        existing = self._open_task(ctx, key)
        if existing is not None:
            return existing.id
        item = self.policy.handover_checklist[key]
        return self.aftermath.open_task(
            ctx.session,
            ctx.row,
            kind="handover",
            owner=item.owner.value,
            title=f"{tag} Übergabe {ctx.row.service} {ctx.row.version}: {item.text.de} "
            f"({result.detail})",
            within=item.fix_within,
        )

    # -- the items -----------------------------------------------------------------------------

    def _entry(self, session: Session, row: ReleaseRow, action: str) -> int | None:
        found = self.ledger.entries(
            session, EntryQuery(subject=f"release:{row.id}", action=action, limit=1)
        )
        return found[0].index if found else None

    def _deployed(self, ctx: _Context) -> ItemResult:
        row, target = ctx.row, ctx.target
        serving = target.active_version == row.version and row.phase == Phase.COMPLETED.value
        ev = {
            "release_id": row.id,
            "phase": row.phase,
            "active_version": target.active_version,
            "switched_at": row.switched_at.isoformat() if row.switched_at else None,
            "ledger_index": self._entry(ctx.session, row, "release.switched"),
        }
        detail = (
            f"{row.version} serves {row.env} (slot {target.active_slot})"
            if serving
            else f"{target.active_version or 'unknown'} serves {row.env}, not {row.version}"
        )
        return ItemResult("deployed_to_production", serving, detail, ev)

    def _serving_slot(self, ctx: _Context) -> str:
        return ctx.target.active_slot or ctx.row.target_slot

    def _health(self, ctx: _Context) -> ItemResult:
        healthy = self._entry(ctx.session, ctx.row, "release.healthy")
        url = ctx.runtime.health_url(self._serving_slot(ctx))
        live = probe(url, timeout=ctx.runtime.target.health.timeout.total_seconds())
        ok = healthy is not None and live.ok
        detail = f"{url}: {live.detail}" + ("" if healthy else "; no passed checks recorded")
        return ItemResult(
            "health_checks_passed",
            ok,
            detail,
            {"ledger_index": healthy, "url": url, "live": live.detail},
        )

    def _monitoring(self, ctx: _Context) -> ItemResult:
        url = prometheus_url(ctx.runtime.target.analysis.prometheus_url, self.factory.home)
        labels = ctx.runtime.environment.instances[self._serving_slot(ctx)].labels()
        selector = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        boards = sorted(
            p.name for p in (self.factory.home / "stack/config/grafana/dashboards").glob("*.json")
        )
        if url is None:
            return ItemResult(
                "monitoring_active",
                False,
                "no Prometheus configured or running",
                {"dashboards": boards},
            )
        query = f"max(up{{{selector}}})"
        timeout = ctx.runtime.target.analysis.query_timeout.total_seconds()
        value = PrometheusQueries(url, timeout=timeout).value(query, ctx.now)
        ok = value == 1
        detail = f"Prometheus {url}: {query} = {value}" + ("" if ok else " (not scraped)")
        return ItemResult(
            "monitoring_active",
            ok,
            detail,
            {"prometheus": url, "query": query, "value": value, "dashboards": boards},
        )

    def _alerting(self, ctx: _Context) -> ItemResult:
        config = self.factory.home / "stack/config"
        rules = sorted(p.name for p in (config / "prometheus/rules").glob("*.rules.yml"))
        routes = (config / "alertmanager/alertmanager.yml").is_file()
        shift = current_shift(self.policy.alerting.oncall, ctx.now)
        missing = [
            what
            for what, there in (
                ("alert rules (the managed stack's prometheus/rules)", bool(rules)),
                ("alert routes (alertmanager.yml)", routes),
                ("an on-call person (alerting.oncall)", shift is not None),
            )
            if not there
        ]
        detail = (
            "missing: " + ", ".join(missing)
            if missing
            else (f"{len(rules)} rule files, routes, on call: {shift.person if shift else '-'}")
        )
        return ItemResult(
            "alerting_configured",
            not missing,
            detail,
            {"rule_files": rules, "routes": routes, "oncall": shift.person if shift else None},
        )

    def _backup(self, ctx: _Context) -> ItemResult:
        if self.backups is None:
            return ItemResult("backup_covers_new_data", False, "no backups domain here")
        system = ctx.row.service
        kinds = self.backups.data_kinds(system)
        runs: dict[str, Any] = {}
        for kind in kinds:
            good = self.backups.last_good(system, kind)
            runs[kind.value] = (
                {"run": good.id, "finished_at": good.finished_at} if good is not None else None
            )
        missing = [k for k, v in runs.items() if v is None]
        ok = bool(kinds) and not missing
        detail = (
            f"verified backups of {', '.join(runs)}"
            if ok
            else f"no verified backup of {', '.join(missing) or 'anything'} for {system}"
        )
        return ItemResult("backup_covers_new_data", ok, detail, {"runs": runs})

    def _runbook(self, ctx: _Context) -> ItemResult:
        runs = [
            r
            for r in runs_for(ctx.session, service=ctx.row.service, version=ctx.row.version)
            if "compliance" in r.stages
        ]
        newest = max(runs, key=lambda r: r.id, default=None)
        if newest is None:
            return ItemResult(
                "runbook_updated",
                False,
                f"no compliance gate run (runbook check) for {ctx.row.version}",
            )
        ok = newest.stages["compliance"] == "pass"
        return ItemResult(
            "runbook_updated",
            ok,
            f"compliance gate (runbook sections) {newest.stages['compliance']} in gate run "
            f"#{newest.id}",
            {"gate_run": newest.id, "ledger_index": newest.ledger_index},
        )

    def _change_log(self, ctx: _Context) -> ItemResult:
        row = ctx.row
        if row.change_id is None:
            return ItemResult("change_log_entry", False, "the release has no change record")
        entries = self.ledger.entries(
            ctx.session,
            EntryQuery(subject=f"change:{row.change_id}", action="change.deployed", limit=None),
        )
        mine = [e for e in entries if e.payload.get("release_id") == row.id]
        ok = bool(mine)
        detail = (
            f"change #{row.change_id} deployed (ledger entry {mine[0].index})"
            if ok
            else f"no change-log entry of change #{row.change_id} for release #{row.id}"
        )
        return ItemResult(
            "change_log_entry",
            ok,
            detail,
            {"change_id": row.change_id, "ledger_index": mine[0].index if mine else None},
        )

    def _verification(self, ctx: _Context) -> ItemResult:
        health = ctx.runtime.target.health
        base = ctx.runtime.base_url(self._serving_slot(ctx))
        failures = smoke(base, health.smoke, timeout=health.timeout.total_seconds())
        completed = self._entry(ctx.session, ctx.row, "release.completed")
        ok = not failures and completed is not None
        detail = (
            f"smoke paths {', '.join(health.smoke)} answer"
            if not failures
            else "smoke failures: " + ", ".join(failures)
        )
        return ItemResult(
            "post_deployment_verification",
            ok,
            detail,
            {"smoke_paths": list(health.smoke), "failures": failures, "ledger_index": completed},
        )

    def _documentation(self, ctx: _Context) -> ItemResult:
        owner = self.policy.handover_checklist["documentation_handed_over"].owner
        people, nobody = recipients_for([owner], self.policy.alerting.people, None)
        alerting = self.aftermath.alerting
        if not people or alerting is None:
            return ItemResult(
                "documentation_handed_over",
                False,
                f"nobody holds the role {owner.value} to receive the deployment "
                "procedure and the operations manual",
                {"unresolved": nobody},
            )
        alerting.notify(
            ctx.session,
            roles=[owner],
            subject=f"Übergabe: {ctx.row.service} {ctx.row.version} ({ctx.row.env})",
            body="Deployment-Verfahren und Betriebshandbuch zur Dokumentation: "
            f"`leitstand release show {ctx.row.id}`, `leitstand policy show`.",
            actor=SYSTEM,
        )
        names = sorted(p.person for p in people)
        return ItemResult(
            "documentation_handed_over", True, f"sent to {', '.join(names)}", {"recipients": names}
        )


def stored(row: ReleaseRow) -> dict[str, Any] | None:
    return dict(json.loads(row.handover)) if row.handover else None
