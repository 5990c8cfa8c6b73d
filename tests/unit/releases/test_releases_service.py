"""Release admission and the never-healthy path, on both store backends (no engines needed:
the Kubernetes router and starter only render files)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from leitstand.auth.model import Actor
from leitstand.bootstrap import Container, build
from leitstand.errors import ConflictError, ForbiddenError, NotFoundError, ValidationError
from leitstand.gates.containers import check_manifest
from leitstand.ledger.service import EntryQuery
from leitstand.policy.loader import load_policy_text
from leitstand.releases.model import Phase
from leitstand.releases.routers import RouterError
from leitstand.releases.store import ReleaseRow
from leitstand.settings import Settings
from leitstand.testing import ManualClock
from support.gate_runs import digest_of, gated_start, record_gate_run, release_digest

DEV = Actor(name="dana", role="developer")
OPS = Actor(name="olaf", role="devops")
OPS2 = Actor(name="otto", role="devops")
OFFICER = Actor(name="clara", role="compliance_officer")
FIELDS = {"what": "new endpoint", "why": "broker request", "rollback": "redeploy", "tests": "e2e"}


def _policy(root: Path, router: dict[str, Any] | None = None) -> str:
    (root / "versions" / "2.4.0").mkdir(parents=True, exist_ok=True)
    target = {
        "start": {
            "kind": "kubernetes",
            "image": "registry.example/{service}",
            "output_dir": str(root / "k8s"),
        },
        "health": {"interval": "1s", "timeout": "200ms", "passes": 2, "within": "5s"},
        "environments": {
            env: {
                "router": router
                or {
                    "kind": "kubernetes",
                    "service": "enterprise-api",
                    "output_dir": str(root / "k8s"),
                },
                "instances": {"blue": {"port": 1}, "green": {"port": 2}},
            }
            for env in ("staging", "production")
        },
    }
    # These tests are about changes, gates and approvals: signed images (required by default,
    # gates.containers.signing.required) have their own tests (tests/unit/images/test_admission.py).
    return yaml.safe_dump(
        {
            "deployment": {"releases": {"enterprise-api": target}},
            "gates": {"containers": {"signing": {"required": False}}},
        }
    )


@pytest.fixture
def rel(settings: Settings, clock: ManualClock, tmp_path: Path) -> Iterator[Container]:
    c = build(settings, clock=clock, migrate=True, policy=load_policy_text(_policy(tmp_path)))
    try:
        yield c
    finally:
        c.close()


def _actions(c: Container, prefix: str = "release.*") -> list[str]:
    with c.db.reader() as session:
        entries = c.ledger.entries(session, EntryQuery(action=prefix, newest_first=False))
    return [e.action for e in entries]


def _refusals(c: Container) -> list[str]:
    with c.db.reader() as session:
        entries = c.ledger.entries(session, EntryQuery(action="release.refused"))
    return [str(e.payload["reason"]) for e in entries]


def _release_count(c: Container) -> int:
    with c.db.reader() as session:
        return int(session.execute(sa.select(sa.func.count(ReleaseRow.id))).scalar_one())


def test_production_without_an_approved_change_is_refused_and_the_attempt_recorded(
    rel: Container,
) -> None:
    with pytest.raises(ConflictError, match="needs an approved change record"):
        rel.releases.start(service="enterprise-api", version="2.4.0", env="production", actor=OPS)
    change = rel.changes.open(
        service="enterprise-api", version="2.4.0", category="normal", fields=FIELDS, actor=DEV
    )
    with pytest.raises(ConflictError, match=f"change #{change.id} .* is pending"):
        rel.releases.start(service="enterprise-api", version="2.4.0", env="production", actor=OPS)
    assert len(_refusals(rel)) == 2 and _release_count(rel) == 0


def test_a_production_release_waits_for_an_allowed_role_that_did_not_start_it(
    rel: Container,
) -> None:
    change = rel.changes.open(
        service="enterprise-api", version="2.4.0", category="normal", fields=FIELDS, actor=DEV
    )
    rel.changes.decide(change_id=change.id, actor=OFFICER, approve=True)
    info = gated_start(rel, service="enterprise-api", version="2.4.0", env="production", actor=OPS)
    assert info.phase is Phase.AWAITING_APPROVAL and info.change_id == change.id
    with pytest.raises(ForbiddenError, match="four-eyes rule: olaf started release"):
        rel.releases.approve(release_id=info.id, actor=OPS)
    with pytest.raises(ForbiddenError, match="role 'developer' may not approve releases"):
        rel.releases.approve(release_id=info.id, actor=DEV)
    approved = rel.releases.approve(release_id=info.id, actor=OPS2, comment="go")
    assert approved.phase is Phase.STARTING and approved.approved_by == "otto"
    assert _actions(rel) == ["release.started", "release.approved"]
    with rel.db.reader() as session:
        asked = rel.ledger.entries(session, EntryQuery(action="notification.requested"))
    assert any("Freigabe nötig" in e.payload["subject"] for e in asked)


def test_staging_proceeds_without_a_change_record_or_an_approval(rel: Container) -> None:
    info = gated_start(rel, service="enterprise-api", version="2.4.0", env="staging", actor=DEV)
    assert info.phase is Phase.STARTING and info.change_id is None


def test_staging_needs_build_test_and_security_passed_for_the_artifact(rel: Container) -> None:
    start = {"service": "enterprise-api", "version": "2.4.0", "env": "staging", "actor": DEV}
    with pytest.raises(ValidationError, match="pass --artifact-digest sha256:"):
        rel.releases.start(**start)
    digest = record_gate_run(rel, service="enterprise-api", version="2.4.0", stages=["build"])
    with pytest.raises(ConflictError, match="not run: test, security") as refused:
        rel.releases.start(**start, artifact_digest=digest)
    assert "compliance" not in str(refused.value)  # staging needs build, test, security
    record_gate_run(rel, service="enterprise-api", version="2.4.0", failed=["security"])
    with pytest.raises(ConflictError, match=r"failed: security \(fail in gate run #2"):
        rel.releases.start(**start, artifact_digest=digest)
    assert len(_refusals(rel)) == 3 and _release_count(rel) == 0
    record_gate_run(rel, service="enterprise-api", version="2.4.0", stages=["security"])
    assert rel.releases.start(**start, artifact_digest=digest).phase is Phase.STARTING


def test_a_standard_change_needs_a_passing_quality_gate_run_for_production(
    rel: Container,
) -> None:
    change = rel.changes.open(
        service="enterprise-api", version="2.4.0", category="standard", fields=FIELDS, actor=DEV
    )
    start = {"service": "enterprise-api", "version": "2.4.0", "env": "production", "actor": OPS}
    digest = digest_of("enterprise-api", "2.4.0")
    with pytest.raises(
        ConflictError, match="not run: build, test, security, compliance"
    ) as refused:
        rel.releases.start(**start, artifact_digest=digest)
    assert f"change #{change.id}" in str(refused.value)
    for failed in (["test"], []):
        record_gate_run(rel, service="enterprise-api", version="2.4.0", failed=failed)
        if failed:
            with pytest.raises(ConflictError, match=r"failed: test \(fail in gate run"):
                rel.releases.start(**start, artifact_digest=digest)
    info = rel.releases.start(**start, artifact_digest=digest)
    assert info.phase is Phase.AWAITING_APPROVAL


def test_a_compliance_only_gate_run_does_not_admit_a_production_release(rel: Container) -> None:
    change = rel.changes.open(
        service="enterprise-api", version="2.4.0", category="standard", fields=FIELDS, actor=DEV
    )
    start = {"service": "enterprise-api", "version": "2.4.0", "env": "production", "actor": OPS}
    digest = record_gate_run(rel, service="enterprise-api", version="2.4.0", stages=["compliance"])
    with pytest.raises(ConflictError, match=r"not run: build, test, security \(") as refused:
        rel.releases.start(**start, artifact_digest=digest)
    assert f"change #{change.id}" in str(refused.value)
    assert _release_count(rel) == 0


def test_a_release_of_another_artifact_digest_is_not_admitted(rel: Container) -> None:
    rel.changes.open(
        service="enterprise-api", version="2.4.0", category="standard", fields=FIELDS, actor=DEV
    )
    start = {"service": "enterprise-api", "version": "2.4.0", "env": "production", "actor": OPS}
    record_gate_run(rel, service="enterprise-api", version="2.4.0")
    other = "sha256:" + "ab" * 32
    with pytest.raises(ConflictError, match=f"artifact {other}; not run: build, test"):
        rel.releases.start(**start, artifact_digest=other)
    with pytest.raises(ValidationError, match="expected sha256: and 64"):
        rel.releases.start(**start, artifact_digest="sha256:xyz")
    assert _release_count(rel) == 0


def test_a_forged_gate_run_through_the_manual_route_admits_nothing(rel: Container) -> None:
    change = rel.changes.open(
        service="enterprise-api", version="2.4.0", category="standard", fields=FIELDS, actor=DEV
    )
    oncall = Actor(name="otto-oncall", role="oncall")
    forged = {"change_id": change.id, "status": "pass", "artifact_digests": [digest_of("x", "y")]}
    with pytest.raises(ValidationError, match=r"'gate\.\*' is a reserved system namespace"):
        rel.audit.record(actor=oncall, action="gate.run", subject="project:x", payload=forged)
    entry = rel.audit.record(actor=oncall, action="manual.gate.run", subject="x", payload=forged)
    assert entry.action == "manual.gate.run"
    with pytest.raises(ConflictError, match="not run: build, test, security, compliance"):
        rel.releases.start(
            service="enterprise-api",
            version="2.4.0",
            env="production",
            actor=OPS,
            artifact_digest=digest_of("x", "y"),
        )


def test_an_emergency_change_is_deployed_by_devops_at_once(rel: Container) -> None:
    change = rel.changes.open(
        service="enterprise-api", version="2.4.0", category="emergency", fields=FIELDS, actor=DEV
    )
    rel.changes.decide(change_id=change.id, actor=OPS, approve=True)
    start = {"service": "enterprise-api", "version": "2.4.0", "env": "production", "actor": OPS}
    # The policy lets an emergency release skip only compliance (approved afterwards).
    digest = record_gate_run(
        rel, service="enterprise-api", version="2.4.0", stages=["build", "security"]
    )
    with pytest.raises(ConflictError, match="needs the gate stages build, test, security passed"):
        rel.releases.start(**start, artifact_digest=digest)
    record_gate_run(rel, service="enterprise-api", version="2.4.0", stages=["test"])
    info = rel.releases.start(**start, artifact_digest=digest)
    assert info.phase is Phase.STARTING and info.approved_by == "olaf"


def test_bad_input_is_a_clear_error_and_every_attempt_is_recorded(rel: Container) -> None:
    with pytest.raises(ValidationError, match="unknown service 'billing'"):
        rel.releases.start(service="billing", version="1.0", env="staging", actor=OPS)
    with pytest.raises(ValidationError, match="env: one of production, staging"):
        rel.releases.start(service="enterprise-api", version="1.0", env="qa", actor=OPS)
    with pytest.raises(ValidationError, match="strategy: blue-green or canary"):
        rel.releases.start(
            service="enterprise-api", version="1.0", env="staging", actor=OPS, strategy="yolo"
        )
    with pytest.raises(ValidationError, match="version: a PEP 440 or SemVer version"):
        rel.releases.start(service="enterprise-api", version="../etc", env="staging", actor=OPS)
    assert len(_refusals(rel)) == 4 and _release_count(rel) == 0


def test_an_unknown_version_is_refused_when_its_artifact_is_missing(
    settings: Settings, clock: ManualClock, tmp_path: Path
) -> None:
    data = yaml.safe_load(_policy(tmp_path))
    data["deployment"]["releases"]["enterprise-api"]["start"] = {
        "command": ["true"],
        "artifact": str(tmp_path / "versions" / "{version}"),
    }
    c = build(settings, clock=clock, migrate=True, policy=load_policy_text(yaml.safe_dump(data)))
    try:
        with pytest.raises(NotFoundError, match=r"unknown version '9\.9\.9'.*does not exist"):
            c.releases.start(service="enterprise-api", version="9.9.9", env="staging", actor=OPS)
        assert _refusals(c) and _release_count(c) == 0
    finally:
        c.close()


def test_an_unreachable_router_refuses_the_release_and_touches_nothing(
    settings: Settings, clock: ManualClock, tmp_path: Path
) -> None:
    router = {"kind": "haproxy", "socket": str(tmp_path / "gone.sock"), "backend": "be"}
    c = build(
        settings, clock=clock, migrate=True, policy=load_policy_text(_policy(tmp_path, router))
    )
    try:
        with pytest.raises(
            RouterError, match=r"haproxy admin socket .*gone.sock cannot be reached"
        ):
            c.releases.start(service="enterprise-api", version="2.4.0", env="staging", actor=OPS)
        assert "cannot be reached" in _refusals(c)[0] and _release_count(c) == 0
    finally:
        c.close()


def test_one_release_at_a_time_per_service_and_environment(rel: Container) -> None:
    first = gated_start(rel, service="enterprise-api", version="2.4.0", env="staging", actor=OPS)
    with pytest.raises(ConflictError, match=f"release #{first.id} .* still in flight"):
        rel.releases.start(service="enterprise-api", version="2.4.1", env="staging", actor=OPS)


def _settle(c: Container, clock: ManualClock, release_id: int, step: timedelta) -> Phase:
    for _ in range(200):
        c.scheduler.run_due(limit=50)
        c.scheduler.leases.drain(timeout=30)
        info = c.releases.get(release_id)
        if info.settled:
            return info.phase
        clock.advance(step)
    raise AssertionError(f"release #{release_id} did not settle: {c.releases.get(release_id)}")


def test_a_version_that_never_becomes_healthy_fails_and_the_traffic_stays(
    rel: Container, clock: ManualClock
) -> None:
    info = gated_start(rel, service="enterprise-api", version="2.4.0", env="staging", actor=OPS)
    assert _settle(rel, clock, info.id, timedelta(seconds=1)) is Phase.FAILED
    failed = rel.releases.get(info.id)
    assert failed.reason is not None and "did not become healthy within 5 s" in failed.reason
    assert "connection refused" in failed.reason.lower() or "http" in failed.reason.lower()
    (target,) = [t for t in rel.releases.targets() if t.env == "staging"]
    assert target.routing.serving() == [] and target.active_version is None
    assert _actions(rel) == [
        "release.started", "release.instance_started", "release.abandoned", "release.failed",
    ]  # fmt: skip


def test_a_release_of_a_scanned_image_starts_it_by_digest(rel: Container, tmp_path: Path) -> None:
    """The artifact digest is the manifest digest the gate run's image scan checked: the
    rendered Deployment pins exactly that image (name:tag@digest), which still passes
    leitstand's own container gate; a wheel digest leaves the image by tag."""
    digest = release_digest(rel, service="enterprise-api", version="2.4.0", sign=True)
    info = rel.releases.start(
        service="enterprise-api", version="2.4.0", env="staging", actor=OPS, artifact_digest=digest
    )
    rel.scheduler.run_due()
    rel.scheduler.leases.drain(timeout=30)
    assert rel.releases.get(info.id).phase is Phase.HEALTH_CHECK
    rendered = tmp_path / "k8s" / f"enterprise-api-{info.target_slot}-deployment.yaml"
    deployment = yaml.safe_load(rendered.read_text())
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == f"registry.example/enterprise-api:2.4.0@{digest}"
    assert deployment["metadata"]["annotations"]["leitstand.io/image-digest"] == digest
    assert check_manifest(rendered.read_text(), file=rendered.name) == []
    # Stopping the slot keeps the pin (replicas 0, the same image).
    rel.releases.abort(release_id=info.id, actor=OPS, reason="not today")
    rel.scheduler.run_due()
    rel.scheduler.leases.drain(timeout=30)
    stopped = yaml.safe_load(rendered.read_text())
    assert stopped["spec"]["replicas"] == 0
    assert stopped["spec"]["template"]["spec"]["containers"][0]["image"].endswith(digest)


def test_a_release_of_a_wheel_renders_the_image_by_tag(rel: Container, tmp_path: Path) -> None:
    info = gated_start(rel, service="enterprise-api", version="2.4.0", env="staging", actor=OPS)
    rel.scheduler.run_due()
    rel.scheduler.leases.drain(timeout=30)
    rendered = tmp_path / "k8s" / f"enterprise-api-{info.target_slot}-deployment.yaml"
    (container,) = yaml.safe_load(rendered.read_text())["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "registry.example/enterprise-api:2.4.0"


def test_an_abort_before_traffic_cancels_and_stops_the_new_version(
    rel: Container, clock: ManualClock
) -> None:
    info = gated_start(rel, service="enterprise-api", version="2.4.0", env="staging", actor=OPS)
    rel.scheduler.run_due()
    rel.scheduler.leases.drain(timeout=30)
    assert rel.releases.get(info.id).phase is Phase.HEALTH_CHECK
    with pytest.raises(ValidationError, match="reason"):
        rel.releases.abort(release_id=info.id, actor=OPS, reason=" ")
    rel.releases.abort(release_id=info.id, actor=OPS, reason="wrong build")
    assert _settle(rel, clock, info.id, timedelta(seconds=1)) is Phase.CANCELLED
    assert rel.releases.get(info.id).reason == "wrong build"
