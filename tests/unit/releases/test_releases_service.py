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
from leitstand.ledger.service import EntryQuery
from leitstand.policy.loader import load_policy_text
from leitstand.releases.model import Phase
from leitstand.releases.routers import RouterError
from leitstand.releases.store import ReleaseRow
from leitstand.settings import Settings
from leitstand.testing import ManualClock

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
    return yaml.safe_dump({"deployment": {"releases": {"enterprise-api": target}}})


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
    info = rel.releases.start(
        service="enterprise-api", version="2.4.0", env="production", actor=OPS
    )
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
    info = rel.releases.start(service="enterprise-api", version="2.4.0", env="staging", actor=DEV)
    assert info.phase is Phase.STARTING and info.change_id is None


def test_a_standard_change_needs_a_passing_quality_gate_run_for_production(
    rel: Container,
) -> None:
    change = rel.changes.open(
        service="enterprise-api", version="2.4.0", category="standard", fields=FIELDS, actor=DEV
    )
    with pytest.raises(ConflictError, match="no quality-gate run is recorded"):
        rel.releases.start(service="enterprise-api", version="2.4.0", env="production", actor=OPS)
    for status in ("fail", "pass"):
        with rel.db.transaction() as session:
            rel.ledger.record(
                session, Actor(name="ci", role="devops"), "gate.run", "project:api@2.4.0",
                payload={"change_id": change.id, "status": status, "stages": {}},
            )  # fmt: skip
        if status == "fail":
            with pytest.raises(ConflictError, match="newest quality-gate run did not pass"):
                rel.releases.start(
                    service="enterprise-api", version="2.4.0", env="production", actor=OPS
                )
    info = rel.releases.start(
        service="enterprise-api", version="2.4.0", env="production", actor=OPS
    )
    assert info.phase is Phase.AWAITING_APPROVAL


def test_an_emergency_change_is_deployed_by_devops_at_once(rel: Container) -> None:
    change = rel.changes.open(
        service="enterprise-api", version="2.4.0", category="emergency", fields=FIELDS, actor=DEV
    )
    rel.changes.decide(change_id=change.id, actor=OPS, approve=True)
    info = rel.releases.start(
        service="enterprise-api", version="2.4.0", env="production", actor=OPS
    )
    assert info.phase is Phase.STARTING and info.approved_by == "olaf"


def test_bad_input_is_a_clear_error_and_every_attempt_is_recorded(rel: Container) -> None:
    with pytest.raises(NotFoundError, match="unknown service 'billing'"):
        rel.releases.start(service="billing", version="1.0", env="staging", actor=OPS)
    with pytest.raises(ValidationError, match="env: one of production, staging"):
        rel.releases.start(service="enterprise-api", version="1.0", env="qa", actor=OPS)
    with pytest.raises(ValidationError, match="strategy: blue-green or canary"):
        rel.releases.start(
            service="enterprise-api", version="1.0", env="staging", actor=OPS, strategy="yolo"
        )
    with pytest.raises(ValidationError, match="version: letters, digits"):
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
    first = rel.releases.start(service="enterprise-api", version="2.4.0", env="staging", actor=OPS)
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
    info = rel.releases.start(service="enterprise-api", version="2.4.0", env="staging", actor=OPS)
    assert _settle(rel, clock, info.id, timedelta(seconds=1)) is Phase.FAILED
    failed = rel.releases.get(info.id)
    assert failed.reason is not None and "did not become healthy within 5 s" in failed.reason
    assert "connection refused" in failed.reason.lower() or "http" in failed.reason.lower()
    (target,) = [t for t in rel.releases.targets() if t.env == "staging"]
    assert target.routing.serving() == [] and target.active_version is None
    assert _actions(rel) == [
        "release.started", "release.instance_started", "release.abandoned", "release.failed",
    ]  # fmt: skip


def test_an_abort_before_traffic_cancels_and_stops_the_new_version(
    rel: Container, clock: ManualClock
) -> None:
    info = rel.releases.start(service="enterprise-api", version="2.4.0", env="staging", actor=OPS)
    rel.scheduler.run_due()
    rel.scheduler.leases.drain(timeout=30)
    assert rel.releases.get(info.id).phase is Phase.HEALTH_CHECK
    with pytest.raises(ValidationError, match="reason"):
        rel.releases.abort(release_id=info.id, actor=OPS, reason=" ")
    rel.releases.abort(release_id=info.id, actor=OPS, reason="wrong build")
    assert _settle(rel, clock, info.id, timedelta(seconds=1)) is Phase.CANCELLED
    assert rel.releases.get(info.id).reason == "wrong build"
