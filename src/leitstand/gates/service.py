"""Use cases of the quality gates: run the stages on a project, record the run as evidence."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leitstand.auth.model import Actor
from leitstand.clock import BERLIN, Clock
from leitstand.db import Database
from leitstand.errors import Issue, ValidationError
from leitstand.gates.context import ApprovalLookup, FlagLookup, GateContext, ScannedImage
from leitstand.gates.environment import PipOptions
from leitstand.gates.model import RunResult, Stage
from leitstand.gates.project import commit_of, load_project
from leitstand.gates.reports import write_reports
from leitstand.gates.runner import Progress, run_stages, stage_checks
from leitstand.gates.security_alert import security_gate_alert
from leitstand.gates.store import (
    GateRunRecord,
    add_run,
    run_by_id,
    run_ids_by_ledger_index,
    runs_for,
)
from leitstand.ledger.canonical import Entry
from leitstand.ledger.service import EntryQuery, Ledger
from leitstand.policy.loader import load_policy
from leitstand.policy.model import Policy

if TYPE_CHECKING:
    from leitstand.alerting.service import AlertingService

__all__ = ["DIGEST", "RUN_ACTION", "GateRequest", "GateService", "artifact_digests"]

RUN_ACTION = "gate.run"
#: An artifact digest as runs record it and releases name it.
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


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
    change: int | None = None  # the change record the run is for (default: by service+version)
    osv_db: Path | None = None  # --osv-db: an OSV folder instead of gates.osv.path
    dist: Path | None = None  # artifacts built elsewhere that this run checks (no build stage)


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
        alerting: AlertingService | None = None,
    ) -> None:
        self.db = db
        self.ledger = ledger
        self.clock = clock
        self.policy = policy
        self.approvals = approvals
        self.flags = flags
        self.alerting = alerting  # SecurityGateFailing (leitstand.gates.security_alert)

    def policy_for(self, root: Path, config: Path | None) -> Policy:
        """The project's policy: ``config``, else its own leitstand.yaml, else leitstand's."""
        if config is not None:
            return load_policy(config)
        own = root / "leitstand.yaml"
        return load_policy(own) if own.is_file() else self.policy

    def run(
        self, request: GateRequest, *, actor: Actor, progress: Progress | None = None
    ) -> tuple[RunResult, Path, GateRunRecord]:
        """Run the stages, write the reports, record the run.

        Returns the result, the report folder and the run's record, whose ``id`` is what
        ``leitstand image sign --gate-run`` takes.
        """
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
            osv_db=request.osv_db.expanduser().resolve() if request.osv_db else None,
            test_output=_output_to(progress),
        )
        service = ctx.gates.service or project.name
        # A given --change is checked before any stage runs (fail fast); otherwise the change
        # is looked up afterwards, when the version can be read from the built wheel instead of
        # installing the project once more just to learn a dynamic version.
        change = (
            self._change_of(request, service, ctx.version()) if request.change is not None else None
        )
        started = time.monotonic()
        stages, not_run = run_stages(
            ctx, request.stages, keep_going=request.keep_going, progress=progress
        )
        if request.change is None:
            change = self._change_of(request, service, ctx.version())
        result = RunResult(
            project=ctx.name(),
            version=ctx.version(),
            commit=request.commit or commit_of(project.root),
            path=str(project.root),
            started_at=now.isoformat(),
            duration_s=round(time.monotonic() - started, 3),
            stages=tuple(stages),
            not_run=tuple(not_run),
            change_id=change,
        )
        built = any(s.stage is Stage.BUILD for s in stages)
        dist = out / "dist" if built else request.dist
        images = ctx.scanned_images
        # The images the scan checked are artifacts of the run too: release admission finds a
        # run by the digest it deploys, so an image is admitted only with the digest scanned.
        digests = artifact_digests(dist) + [i.manifest_digest for i in images]
        titles = {c.id: c.label(request.lang) for s in request.stages for c in stage_checks(s)}
        write_reports(result, out, lang=request.lang, titles=titles)
        _write_artifacts(out, dist, digests, images)
        digest = hashlib.sha256((out / "report.json").read_bytes()).hexdigest()
        record = self.record(
            result,
            actor=actor,
            service=service,
            artifact_digests=digests,
            report_sha256=digest,
            images=images,
        )
        return result, out, record

    def _change_of(self, request: GateRequest, service: str, version: str) -> int | None:
        state = self.approvals(service=service, version=version) if self.approvals else None
        if request.change is None:
            return state.id if state else None
        if state is None or state.id != request.change:
            newest = f"#{state.id}" if state else "none"
            raise ValidationError(
                [
                    Issue(
                        "--change",
                        f"change #{request.change} is not the change record of {service} "
                        f"{version} (its newest change record: {newest})",
                    )
                ]
            )
        return request.change

    def record(
        self,
        result: RunResult,
        *,
        actor: Actor,
        service: str,
        artifact_digests: Sequence[str] = (),
        report_sha256: str | None = None,
        images: Sequence[ScannedImage] = (),
    ) -> GateRunRecord:
        """Record a finished run: its ``gate.run`` evidence entry and the gate's own run row.

        The only writer of ``gate_runs``; release admission and image signing read those rows.
        """
        digests = sorted(dict.fromkeys(artifact_digests))
        for value in digests:
            if not DIGEST.match(value):
                raise ValidationError(
                    [Issue("artifact_digests", f"expected sha256:<64 hex> (got {value!r})")]
                )
        with self.db.transaction() as session:
            entry = self.ledger.record(
                session,
                actor,
                RUN_ACTION,
                f"project:{result.project}@{result.version}",
                payload={
                    **_evidence(result, report_sha256 or ""),
                    "service": service,
                    "artifact_digests": digests,
                    "images": [i.as_dict() for i in images],
                },
            )
            record = add_run(
                session,
                recorded_at=self.clock.now(),
                actor=actor.name,
                role=actor.role,
                service=service,
                project=result.project,
                version=result.version,
                commit=result.commit,
                change_id=result.change_id,
                status=result.status.value,
                stages={s.stage.value: s.status.value for s in result.stages},
                not_run=[s.value for s in result.not_run],
                artifact_digests=digests,
                report_sha256=report_sha256,
                ledger_index=entry.index,
                images=[i.as_dict() for i in images],
            )
            if self.alerting is not None:
                security_gate_alert(
                    session,
                    alerting=self.alerting,
                    policy=self.policy,
                    service=service,
                    actor=actor,
                )
            return record

    def recorded(
        self,
        *,
        service: str | None = None,
        version: str | None = None,
        change_id: int | None = None,
        limit: int | None = 50,
    ) -> list[GateRunRecord]:
        """The gate's own run records, newest first."""
        with self.db.reader() as session:
            return runs_for(
                session, service=service, version=version, change_id=change_id, limit=limit
            )

    def recorded_run(self, run_id: int) -> GateRunRecord | None:
        """The gate's own record of run ``run_id`` (None if there is none).

        Image signing reads it (``leitstand.images.gate_port.GateRunLookup``): only an image a
        passed run vouches for is signed.
        """
        with self.db.reader() as session:
            return run_by_id(session, run_id)

    def runs(
        self, *, project: str | None = None, limit: int = 50
    ) -> list[tuple[Entry, int | None]]:
        """Recorded gate runs, newest first: their ``gate.run`` entries (the record of truth),
        each with the id of the gate's own record of the run (None if it has none)."""
        with self.db.reader() as session:
            entries = self.ledger.entries(
                session, EntryQuery(action=RUN_ACTION, limit=None if project else limit)
            )
            found = [e for e in entries if project is None or e.payload.get("project") == project]
            del found[limit:]
            ids = run_ids_by_ledger_index(session, [e.index for e in found])
        return [(e, ids.get(e.index)) for e in found]


def _output_to(progress: Progress | None) -> Callable[[str], None] | None:
    """The test run's output lines as ``output`` progress events (shown by ``--stream``)."""
    if progress is None:
        return None
    notify = progress
    last: list[str] = [""]

    def forward(line: str) -> None:
        # pytest-xdist redraws its status line with carriage returns ("bringing up nodes..."),
        # which arrive as repeated lines through a pipe: show each such line once.
        if line and line == last[0]:
            return
        last[0] = line
        notify("output", line)

    return forward


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


def _write_artifacts(
    out: Path, dist: Path | None, digests: list[str], images: Sequence[ScannedImage] = ()
) -> None:
    # The release job of a generated pipeline reads ARTIFACT_DIGEST from artifact.env (a GitLab
    # dotenv report; GitHub: appended to $GITHUB_ENV); artifacts.json lists every file and every
    # scanned image (its manifest digest is what a release of the image passes).
    files = sorted(p for p in dist.iterdir() if p.is_file()) if dist and dist.is_dir() else []
    named = dict(zip((p.name for p in files), digests, strict=False))
    main = next((d for n, d in named.items() if n.endswith(".whl")), digests[0] if digests else "")
    listing = {"artifacts": named, "digest": main, "images": [i.as_dict() for i in images]}
    (out / "artifacts.json").write_text(json.dumps(listing, indent=2))
    (out / "artifact.env").write_text(f"ARTIFACT_DIGEST={main}\n")


def artifact_digests(folder: Path | None) -> list[str]:
    """``sha256:<hex>`` of every file in ``folder`` (the wheel and sdist a build produced)."""
    if folder is None:
        return []
    folder = folder.expanduser()
    if not folder.is_dir():
        raise ValidationError([Issue("--dist", f"a folder with built artifacts (got {folder})")])
    out = []
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        sha = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                sha.update(block)
        out.append(f"sha256:{sha.hexdigest()}")
    return out


def stages_of(names: Sequence[str]) -> tuple[Stage, ...]:
    return tuple(Stage(n) for n in names)
