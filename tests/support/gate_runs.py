"""Test support for release admission: gate runs recorded through the gate service itself.

Admission (Fail = Stop) reads the gate's own run records. Tests that start releases record a run
with ``record_gate_run`` (through ``GateService.record``, the only writer of those records, never
raw SQL) and start with the digest it returns; ``gated_start`` does both.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leitstand.auth.model import Actor
from leitstand.gates.model import CheckResult, RunResult, Stage, StageResult, Status

if TYPE_CHECKING:
    from leitstand.bootstrap import Container
    from leitstand.releases.model import ReleaseInfo

__all__ = [
    "ALL_STAGES",
    "CI",
    "digest_of",
    "gated_start",
    "record_gate_run",
    "record_gate_run_at",
]

ALL_STAGES: tuple[str, ...] = tuple(s.value for s in Stage)
#: The pipeline's identity in tests.
CI = Actor(name="ci-runner", role="devops")


def digest_of(service: str, version: str) -> str:
    """A stable stand-in artifact digest for a service version (``sha256:<hex>``)."""
    return "sha256:" + hashlib.sha256(f"{service}@{version}".encode()).hexdigest()


def record_gate_run(
    container: Container,
    *,
    service: str,
    version: str,
    stages: Sequence[str] = ALL_STAGES,
    failed: Sequence[str] = (),
    digest: str | None = None,
    change_id: int | None = None,
    actor: Actor = CI,
) -> str:
    """Record a finished gate run of ``stages`` (those in ``failed`` failed); returns its digest.

    ``change_id`` defaults to the service version's newest change record, as a real run finds it.
    """
    digest = digest or digest_of(service, version)
    if change_id is None:
        state = container.changes.state_for(service=service, version=version)
        change_id = state.id if state else None
    results = []
    for name in stages:
        stage = Stage(name)
        status = Status.FAIL if name in failed else Status.PASS
        check = CheckResult(id=f"{stage.value}.recorded", status=status, summary="test run")
        results.append(StageResult(stage=stage, status=status, checks=(check,), duration_s=0.0))
    result = RunResult(
        project=service,
        version=version,
        commit=None,
        path=".",
        started_at=container.clock.now().isoformat(),
        duration_s=0.0,
        stages=tuple(results),
        change_id=change_id,
    )
    container.gates.record(result, actor=actor, service=service, artifact_digests=[digest])
    return digest


def record_gate_run_at(home: Path, policy: Path | None = None, **kwargs: Any) -> str:
    """``record_gate_run`` into the store of a leitstand home (for tests driving the CLI)."""
    from leitstand.bootstrap import build
    from leitstand.settings import Settings

    container = build(Settings(home=home, policy=policy))
    try:
        return record_gate_run(container, **kwargs)
    finally:
        container.close()


def gated_start(
    container: Container,
    *,
    service: str,
    version: str,
    env: str,
    actor: Actor,
    **kwargs: Any,
) -> ReleaseInfo:
    """Start a release after recording a passing gate run of every stage for its artifact."""
    digest = record_gate_run(container, service=service, version=version)
    return container.releases.start(
        service=service, version=version, env=env, actor=actor, artifact_digest=digest, **kwargs
    )
