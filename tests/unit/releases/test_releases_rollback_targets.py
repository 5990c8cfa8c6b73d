"""Rollback targets from the release history, the managed Prometheus found by the analysis, and
the scrape targets leitstand writes for it (both store backends, no engines needed)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from leitstand.alerting.engine_config import Endpoints, prometheus_config
from leitstand.app import create_app
from leitstand.auth.model import Actor, Role
from leitstand.bootstrap import Container, build
from leitstand.errors import ConflictError
from leitstand.ledger.service import EntryQuery
from leitstand.policy.loader import load_policy_text
from leitstand.policy.model import default_policy
from leitstand.releases.analysis import prometheus_url
from leitstand.releases.decisions import NoRollbackTargetError
from leitstand.releases.history import good_versions, previous_good
from leitstand.releases.model import Kind, Phase
from leitstand.releases.scrape import scrape_targets, write_scrape_targets
from leitstand.releases.store import ReleaseRow, TargetRow
from leitstand.settings import Settings
from leitstand.testing import ManualClock
from leitstand.testing.web import sign_in

OPS = Actor(name="olaf", role="devops")
SERVICE = "enterprise-api"


def _policy(root: Path) -> str:
    target = {
        "start": {"kind": "kubernetes", "image": "r/{service}", "output_dir": str(root / "k8s")},
        "environments": {
            "staging": {
                "router": {"kind": "kubernetes", "service": SERVICE, "output_dir": str(root)},
                "instances": {"blue": {"port": 8081}, "green": {"port": 8082}},
            }
        },
    }
    return yaml.safe_dump({"deployment": {"releases": {SERVICE: target}}})


@pytest.fixture
def rel(settings: Settings, clock: ManualClock, tmp_path: Path) -> Iterator[Container]:
    c = build(settings, clock=clock, migrate=True, policy=load_policy_text(_policy(tmp_path)))
    try:
        yield c
    finally:
        c.close()


def _history(c: Container, rows: list[tuple[str, Kind, Phase, str | None]], active: str) -> None:
    """Releases as they ended (version, kind, phase, stable version) and what serves now."""
    now = c.clock.now()
    with c.db.transaction() as session:
        for version, kind, phase, stable in rows:
            session.add(
                ReleaseRow(
                    service=SERVICE, env="staging", version=version, strategy="blue_green",
                    kind=kind.value, phase=phase.value, seq=1, target_slot="green",
                    stable_slot="blue", stable_version=stable, requested_by="olaf",
                    requested_role="devops", step=0, passes=0, failures=0, attempts=0,
                    created_at=now, updated_at=now,
                )
            )  # fmt: skip
        session.add(
            TargetRow(
                service=SERVICE, env="staging", active_slot="blue", active_version=active,
                previous_warm=False, updated_at=now,
                routing=json.dumps({"weights": {"blue": 100, "green": 0}, "retired": ["green"]}),
            )
        )  # fmt: skip


def _versions(c: Container) -> tuple[list[str], str | None, str | None]:
    with c.db.reader() as session:
        good = good_versions(session, SERVICE, "staging")
        serving = good[-1] if good else None
        return good, serving, previous_good(session, SERVICE, "staging", exclude={serving})


def test_a_version_rolled_back_automatically_is_never_the_rollback_target(
    rel: Container,
) -> None:
    # Journey 2: 2.4.0 serves, 2.4.1 was rolled back at its first canary step.
    _history(
        rel,
        [
            ("2.3.9", Kind.DEPLOY, Phase.COMPLETED, None),
            ("2.4.0", Kind.DEPLOY, Phase.COMPLETED, "2.3.9"),
            ("2.4.1", Kind.DEPLOY, Phase.ROLLED_BACK, "2.4.0"),
            ("2.4.2", Kind.DEPLOY, Phase.FAILED, "2.4.0"),
        ],
        active="2.4.0",
    )
    assert _versions(rel) == (["2.3.9", "2.4.0"], "2.4.0", "2.3.9")
    info = rel.releases.rollback(service=SERVICE, env="staging", actor=OPS, reason="x")
    assert (info.kind, info.version, info.stable_version) == ("rollback", "2.3.9", "2.4.0")
    with rel.db.reader() as session:
        (decided,) = rel.ledger.entries(session, EntryQuery(action="release.rollback_decided"))
    assert decided.payload["restored_version"] == "2.3.9"
    assert decided.payload["rolled_back_version"] == "2.4.0"


def test_a_version_a_manual_rollback_took_traffic_from_is_not_a_target_again(
    rel: Container,
) -> None:
    _history(
        rel,
        [
            ("1.0", Kind.DEPLOY, Phase.COMPLETED, None),
            ("1.1", Kind.DEPLOY, Phase.COMPLETED, "1.0"),
            ("1.2", Kind.DEPLOY, Phase.COMPLETED, "1.1"),
            ("1.1", Kind.ROLLBACK, Phase.COMPLETED, "1.2"),  # 1.2 rolled back by hand
        ],
        active="1.1",
    )
    assert _versions(rel) == (["1.0", "1.1"], "1.1", "1.0")


def test_without_a_good_earlier_version_a_manual_rollback_is_refused_clearly(
    rel: Container,
) -> None:
    _history(
        rel,
        [
            ("2.4.0", Kind.DEPLOY, Phase.COMPLETED, None),
            ("2.4.1", Kind.DEPLOY, Phase.ROLLED_BACK, "2.4.0"),
        ],
        active="2.4.0",
    )
    with pytest.raises(NoRollbackTargetError, match="no earlier version that completed") as err:
        rel.releases.rollback(service=SERVICE, env="staging", actor=OPS, reason="x")
    assert isinstance(err.value, ConflictError)
    assert (err.value.exit_code, err.value.http_status) == (1, 409)
    assert "serving: 2.4.0" in err.value.message


def test_the_analysis_finds_the_managed_prometheus_by_its_state_file(tmp_path: Path) -> None:
    assert prometheus_url(None, tmp_path) is None
    assert prometheus_url("http://prom:9090", tmp_path) == "http://prom:9090"
    stack = tmp_path / "stack"
    stack.mkdir()
    # The shape leitstand.alerting.stack writes: name, port, pid, ready_path (no url).
    state = {"prometheus": {"name": "prometheus", "port": 19090, "pid": os.getpid(),
                            "ready_path": "/-/ready"}}  # fmt: skip
    (stack / "state.json").write_text(json.dumps(state))
    assert prometheus_url(None, tmp_path) == "http://127.0.0.1:19090"
    state["prometheus"]["pid"] = 2**22 + 12345  # no such process: a stale state file
    (stack / "state.json").write_text(json.dumps(state))
    assert prometheus_url(None, tmp_path) is None


def test_started_instances_become_scrape_targets_of_the_managed_prometheus(
    rel: Container, tmp_path: Path
) -> None:
    runtime = rel.releases.factory.get(SERVICE, "staging")
    path = write_scrape_targets(tmp_path, runtime)
    assert path == tmp_path / "stack" / "release-targets" / "enterprise-api-staging.json"
    groups: list[dict[str, Any]] = json.loads(path.read_text())
    assert groups == scrape_targets(runtime)
    assert groups == [
        {"targets": ["127.0.0.1:8081"],
         "labels": {"service": SERVICE, "env": "staging", "slot": "blue"}},
        {"targets": ["127.0.0.1:8082"],
         "labels": {"service": SERVICE, "env": "staging", "slot": "green"}},
    ]  # fmt: skip
    glob = str(tmp_path / "stack" / "release-targets" / "*.json")
    config = prometheus_config(
        default_policy(),
        Endpoints(
            leitstand_url="http://127.0.0.1:8080", credentials_file="t", release_targets=glob
        ),
    )
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "leitstand-releases"]
    assert job["file_sd_configs"] == [{"files": [glob]}]
    plain = prometheus_config(
        default_policy(), Endpoints(leitstand_url="http://127.0.0.1:8080", credentials_file="t")
    )
    assert "leitstand-releases" not in [j["job_name"] for j in plain["scrape_configs"]]


def test_the_policy_bounds_an_inconclusive_pause_and_names_the_snapshot_method() -> None:
    deployment = default_policy().deployment
    assert deployment.canary.inconclusive_max_wait.total_seconds() == 30 * 60
    assert deployment.canary.inconclusive_action.value == "rollback"
    assert deployment.database_rollback.snapshot_method.value == "dump"
    assert deployment.blue_green.max_rollback_time.total_seconds() == 60
    with pytest.raises(Exception, match="inconclusive_action"):
        load_policy_text("deployment:\n  canary:\n    inconclusive_action: wait\n")


def test_the_api_and_the_release_page_report_rollback_time_and_snapshot(rel: Container) -> None:
    _history(rel, [("2.4.0", Kind.DEPLOY, Phase.COMPLETED, None)], active="2.4.0")
    snapshot = {"method": "dump", "file": "/srv/snap.dump", "sha256": "ab" * 32, "bytes": 9}
    with rel.db.transaction() as session:
        row = session.get(ReleaseRow, 1)
        assert row is not None
        row.rollback_seconds, row.snapshot = 0.0042, json.dumps(snapshot)
    _user, token = rel.auth.add_user(name="ann", role=Role.AUDITOR, actor=OPS)
    with TestClient(create_app(rel), base_url="http://127.0.0.1") as client:
        shown = client.get("/api/v1/releases/1", headers={"Authorization": f"Bearer {token}"})
        assert shown.status_code == 200
        assert shown.json()["rollback_seconds"] == 0.0042
        assert shown.json()["snapshot"] == snapshot
        sign_in(client, token)
        page = client.get("/releases/1")
    assert page.status_code == 200
    # The page's language (German by default) formats the numbers: decimal comma, no needless ".0".
    assert "0,004 s" in page.text and "60 s)" in page.text
    assert "/srv/snap.dump" in page.text and "abababababababab" in page.text
