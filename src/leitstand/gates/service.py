"""Use cases of the quality gates: run the stages on a project, record the run as evidence."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leitstand.auth.model import Actor
from leitstand.clock import BERLIN, Clock
from leitstand.db import Database
from leitstand.gates.context import ApprovalLookup, FlagLookup, GateContext
from leitstand.gates.environment import PipOptions
from leitstand.gates.model import RunResult, Stage
from leitstand.gates.project import commit_of, load_project
from leitstand.gates.reports import write_reports
from leitstand.gates.runner import Progress, run_stages, stage_checks
from leitstand.ledger.service import EntryQuery, Ledger
from leitstand.policy.loader import load_policy
from leitstand.policy.model import Policy

__all__ = ["RUN_ACTION", "GateRequest", "GateService"]

RUN_ACTION = "gate.run"


@dataclass(frozen=True, slots=True)
class GateRequest:
    """What to run, where, and how."""

    path: Path
    stages: tuple[Stage, ...]
    out: Path | None = None
    keep_going: bool = False
    python: Path | None = None
    pip: PipOptions = field(default_factory=PipOptions)
    config: Path | None = None  # policy overlay; default: PATH/leitstand.yaml if present
    lang: str = "de"
    commit: str | None = None
    version: str | None = None


class GateService:
    """Run quality gates and keep every run in the evidence ledger."""

    def __init__(
        self,
        *,
        db: Database,
        ledger: Ledger,
        clock: Clock,
        policy: Policy,
        approvals: ApprovalLookup | None = None,
        flags: FlagLookup | None = None,
    ) -> None:
        self.db = db
        self.ledger = ledger
        self.clock = clock
        self.policy = policy
        self.approvals = approvals
        self.flags = flags

    def policy_for(self, root: Path, config: Path | None) -> Policy:
        """The project's policy: ``config``, else its own leitstand.yaml, else leitstand's."""
        if config is not None:
            return load_policy(config)
        own = root / "leitstand.yaml"
        return load_policy(own) if own.is_file() else self.policy

    def run(
        self, request: GateRequest, *, actor: Actor, progress: Progress | None = None
    ) -> tuple[RunResult, Path]:
        """Run the stages, write the reports, record the run; returns the result and the folder."""
        project = load_project(request.path)
        policy = self.policy_for(project.root, request.config)
        out = (request.out or project.root / "gate-report").expanduser().resolve()
        out.mkdir(parents=True, exist_ok=True)
        now = self.clock.now()
        ctx = GateContext(
            project=project,
            policy=policy,
            out=out,
            today=now.astimezone(BERLIN).date(),
            now=now,
            pip_options=_merge_pip(request.pip, policy),
            python=request.python.expanduser().absolute() if request.python else None,
            version_override=request.version,
            approvals=self.approvals,
            flags=self.flags,
        )
        started = time.monotonic()
        stages, not_run = run_stages(
            ctx, request.stages, keep_going=request.keep_going, progress=progress
        )
        change = None
        if self.approvals is not None and any(s.stage is Stage.COMPLIANCE for s in stages):
            state = self.approvals(service=ctx.gates.service or project.name, version=ctx.version())
            change = state.id if state else None
        result = RunResult(
            project=project.name,
            version=ctx.version(),
            commit=request.commit or commit_of(project.root),
            path=str(project.root),
            started_at=now.isoformat(),
            duration_s=round(time.monotonic() - started, 3),
            stages=tuple(stages),
            not_run=tuple(not_run),
            change_id=change,
        )
        titles = {c.id: c.label(request.lang) for s in request.stages for c in stage_checks(s)}
        write_reports(result, out, lang=request.lang, titles=titles)
        digest = hashlib.sha256((out / "report.json").read_bytes()).hexdigest()
        with self.db.transaction() as session:
            self.ledger.record(
                session,
                actor,
                RUN_ACTION,
                f"project:{result.project}@{result.version}",
                payload=_evidence(result, digest),
            )
        return result, out

    def runs(self, *, project: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Recorded gate runs, newest first (from the ledger, the record of truth)."""
        with self.db.reader() as session:
            entries = self.ledger.entries(
                session, EntryQuery(action=RUN_ACTION, limit=None if project else limit)
            )
        rows = [
            {"index": e.index, "time": e.time, "actor": e.actor, **e.payload}
            for e in entries
            if project is None or e.payload.get("project") == project
        ]
        return rows[:limit]


def _merge_pip(given: PipOptions, policy: Policy) -> PipOptions:
    build = policy.gates.build
    return PipOptions(
        find_links=tuple(dict.fromkeys([*given.find_links, *build.find_links])),
        index_url=given.index_url or build.index_url,
        no_index=given.no_index or build.no_index,
    )


def _evidence(result: RunResult, digest: str) -> dict[str, Any]:
    return {
        "project": result.project,
        "version": result.version,
        "commit": result.commit,
        "status": result.status.value,
        "stages": {s.stage.value: s.status.value for s in result.stages},
        "checks": {c.id: c.status.value for c in result.checks},
        "not_run": [s.value for s in result.not_run],
        "change_id": result.change_id,
        "duration_s": result.duration_s,
        "report_sha256": digest,
    }


def stages_of(names: Sequence[str]) -> tuple[Stage, ...]:
    return tuple(Stage(n) for n in names)
