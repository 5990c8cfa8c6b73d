"""The gate's own run records: written by the gate service only, bound to change and artifacts."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from leitstand.auth.model import Actor
from leitstand.bootstrap import Container
from leitstand.errors import ValidationError
from leitstand.gates.model import Stage
from leitstand.gates.service import GateRequest, artifact_digests
from leitstand.ledger.service import EntryQuery
from support.gate_runs import record_gate_run
from support.gates_lab import write_project

DEV = Actor(name="dana", role="developer")
CI = Actor(name="ci-runner", role="devops")
FIELDS = {"what": "x", "why": "y", "rollback": "z", "tests": "t"}


def test_a_recorded_run_keeps_its_stages_digests_change_and_evidence_index(
    container: Container,
) -> None:
    change = container.changes.open(
        service="enterprise-api", version="2.4.0", category="standard", fields=FIELDS, actor=DEV
    )
    digest = record_gate_run(
        container, service="enterprise-api", version="2.4.0", failed=["security"]
    )
    (record,) = container.gates.recorded(service="enterprise-api")
    assert record.change_id == change.id and record.status == "fail"
    assert record.stages == {
        "build": "pass",
        "test": "pass",
        "security": "fail",
        "compliance": "pass",
    }
    assert record.artifact_digests == [digest]
    (entry,) = container.audit.log(EntryQuery(action="gate.run"))
    assert record.ledger_index == entry.index and entry.actor == "ci-runner"
    assert entry.payload["artifact_digests"] == [digest] and not entry.action.startswith("manual.")


def test_a_run_refuses_digests_that_are_not_sha256(container: Container) -> None:
    with pytest.raises(ValidationError, match="expected sha256:<64 hex>"):
        record_gate_run(container, service="enterprise-api", version="1.0", digest="md5:abc")
    assert container.gates.recorded() == []


def test_artifact_digests_hash_every_built_file(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "app-1.0-py3-none-any.whl").write_bytes(b"wheel")
    (dist / "app-1.0.tar.gz").write_bytes(b"sdist")
    assert artifact_digests(dist) == [  # in file-name order: the wheel, then the sdist
        "sha256:" + hashlib.sha256(b"wheel").hexdigest(),
        "sha256:" + hashlib.sha256(b"sdist").hexdigest(),
    ]
    assert artifact_digests(None) == []
    with pytest.raises(ValidationError, match="--dist: a folder with built artifacts"):
        artifact_digests(tmp_path / "missing")


def test_a_run_tied_to_another_change_is_refused_before_any_stage_runs(
    container: Container, tmp_path: Path
) -> None:
    project = write_project(tmp_path / "app", name="enterprise-api", version="2.4.0")
    change = container.changes.open(
        service="enterprise-api", version="2.4.0", category="normal", fields=FIELDS, actor=DEV
    )
    request = GateRequest(path=project, stages=(Stage.COMPLIANCE,), change=change.id + 1)
    with pytest.raises(ValidationError, match=f"--change: change #{change.id + 1} is not the"):
        container.gates.run(request, actor=CI)
    assert not (project / "gate-report" / "report.json").exists()
    assert container.gates.recorded() == []
