"""Releases through a real HAProxy (runtime API) with two versions of the demo app under load."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from leitstand.auth.model import Actor
from leitstand.bootstrap import Container, build
from leitstand.errors import NotFoundError
from leitstand.ledger.service import EntryQuery
from leitstand.policy.loader import load_policy_text
from leitstand.releases.model import Phase
from leitstand.settings import Settings
from support.gate_runs import gated_start
from support.releases_lab import LoadLoop, ReleaseLab, drive, short_dir

OPS = Actor(name="olaf", role="devops")
SERVICE = "enterprise-api"


@pytest.fixture
def lab() -> Iterator[ReleaseLab]:
    lab = ReleaseLab(short_dir())
    lab.versions.add("1.0.0")
    lab.versions.add("1.1.0")
    try:
        yield lab
    finally:
        lab.close()


def _container(lab: ReleaseLab, tmp_path: Path, **deployment: Any) -> Container:
    home = tmp_path / "home"
    lab.homes.append(home)
    policy = load_policy_text(lab.policy_yaml(**deployment))
    return build(Settings(home=home), migrate=True, policy=policy)


def _release(c: Container, version: str, **kwargs: Any) -> Any:
    info = gated_start(c, service=SERVICE, version=version, env="staging", actor=OPS, **kwargs)
    return drive(c, info.id, timeout=60)


def _entries(c: Container, release_id: int) -> list[Any]:
    with c.db.reader() as session:
        return c.ledger.entries(
            session, EntryQuery(subject=f"release:{release_id}", newest_first=False, limit=None)
        )


def _weights(c: Container) -> dict[str, int]:
    (target,) = c.releases.targets()
    return {slot: target.routing.weight(slot) for slot in target.routing.weights}


def test_blue_green_and_both_rollbacks_under_load_lose_no_request(
    lab: ReleaseLab, tmp_path: Path
) -> None:
    c = _container(lab, tmp_path, blue_green={"rollback_window": "60s"})
    try:
        assert _release(c, "1.0.0").phase is Phase.COMPLETED
        load = LoadLoop(lab.url, threads=4).start()
        load.wait_for(500)
        # Blue-green to 1.1.0; while the old colour is still warm, roll back at once.
        info = gated_start(c, service=SERVICE, version="1.1.0", env="staging", actor=OPS)
        drive(c, info.id, until=lambda i: i.phase is Phase.OBSERVING)
        assert _weights(c) == {"blue": 0, "green": 100}
        seen = len(load.results)
        load.wait_for(seen + 500)
        c.releases.rollback(service=SERVICE, env="staging", actor=OPS, reason="orders fail")
        rolled = drive(c, info.id)
        assert rolled.phase is Phase.ROLLED_BACK and _weights(c) == {"blue": 100, "green": 0}
        assert rolled.rollback_seconds is not None and rolled.rollback_seconds < 1  # instant
        # After the window the old colour is gone: a rollback redeploys the previous version.
        # Its duration is measured against max_rollback_time (here 1 ms: too slow, alerted).
        c.close()
        c = _container(
            lab, tmp_path, blue_green={"rollback_window": "1s", "max_rollback_time": "1ms"}
        )
        assert _release(c, "1.1.0").phase is Phase.COMPLETED
        again = c.releases.rollback(service=SERVICE, env="staging", actor=OPS, reason="slow")
        assert again.version == "1.0.0" and again.kind == "rollback"
        redeployed = drive(c, again.id)
        assert redeployed.phase is Phase.COMPLETED
        assert redeployed.rollback_seconds is not None and redeployed.rollback_seconds > 0.001
        (slow,) = [a for a in c.alerting.queries.alert_list() if a.name == "ReleaseRollbackSlow"]
        assert "the policy allows 0.001 s" in slow.summary
        (target,) = c.releases.targets()
        assert target.active_version == "1.0.0" and target.routing.retired == {"green"}
        load.wait_for(len(load.results) + 500)
        load.stop()
    finally:
        c.close()
    assert load.failed == [] and load.resent == 0
    assert {"1.0.0", "1.1.0"} <= set(load.versions())
    # The seed's six steps of the manual rollback, each in the evidence ledger.
    entries = _entries(c, again.id)
    actions = [e.action for e in entries]
    decided = entries[actions.index("release.rollback_decided")]
    assert decided.actor == "olaf" and decided.payload["reason"] == "slow"
    assert decided.payload["rolled_back_version"] == "1.1.0"
    assert "release.switched" in actions  # the previous version deployed
    verified = entries[actions.index("release.verified")]
    assert verified.payload["healthy"] and verified.payload["smoke_failures"] == []
    assert actions.index("release.rollback_decided") < actions.index("release.task_opened")
    with c.db.reader() as session:
        told = c.ledger.entries(session, EntryQuery(action="notification.requested"))
        logged = c.ledger.entries(session, EntryQuery(action="change.rolled_back"))
    assert any("manuell" in e.payload["subject"] for e in told)
    assert {e.payload["reason"] for e in logged} == {"orders fail", "slow"}
    tasks = c.releases.task_list(status="open")
    assert len(tasks) == 2 and all(t.kind == "root_cause" for t in tasks)


def test_a_version_whose_health_fails_after_the_switch_is_rolled_back_automatically(
    lab: ReleaseLab, tmp_path: Path
) -> None:
    lab.versions.add("1.2.0", health_fail_after=2.5)
    c = _container(lab, tmp_path, blue_green={"rollback_window": "30s"})
    try:
        _release(c, "1.0.0")
        load = LoadLoop(lab.url, threads=3).start()
        load.wait_for(300)
        info = _release(c, "1.2.0")
        load.wait_for(len(load.results) + 300)
        load.stop()
        assert info.phase is Phase.ROLLED_BACK
        assert info.reason is not None and "failed 2 times in a row" in info.reason
        assert _weights(c) == {"blue": 100, "green": 0}
        alerts = c.alerting.queries.alert_list()
        assert [a.name for a in alerts] == ["ReleaseRolledBack"]
        actions = [e.action for e in _entries(c, info.id)]
        assert actions.index("release.switched") < actions.index("release.rollback_decided")
        assert actions.index("release.rollback_decided") < actions.index("release.traffic_restored")
        assert "change.rolled_back" in [e.action for e in _all(c)]
        with c.db.reader() as session:
            told = c.ledger.entries(session, EntryQuery(action="notification.requested"))
        assert told[0].payload["roles"] == ["devops", "developer"]
        assert c.releases.task_list()[0].title.startswith("Root-Cause-Analyse: Rollback")
    finally:
        c.close()
    assert load.failed == []
    assert set(load.versions()) == {"1.0.0", "1.2.0"}


def _all(c: Container) -> list[Any]:
    with c.db.reader() as session:
        return c.ledger.entries(session, EntryQuery(limit=None))


def test_a_canary_at_5_percent_receives_5_percent_of_10000_requests(
    lab: ReleaseLab, tmp_path: Path
) -> None:
    c = _container(lab, tmp_path, canary={"analysis_window": "5m"})
    try:
        _release(c, "1.0.0")
        info = gated_start(
            c, service=SERVICE, version="1.1.0", env="staging", actor=OPS, strategy="canary"
        )
        drive(c, info.id, until=lambda i: i.phase is Phase.ANALYSING)
        assert _weights(c) == {"blue": 95, "green": 5}
        load = LoadLoop(lab.url, threads=4, limit=12_000).start().join()
        c.releases.abort(release_id=info.id, actor=OPS, reason="split measured")
        assert drive(c, info.id).phase is Phase.ROLLED_BACK
    finally:
        c.close()
    counts = load.versions()
    total = sum(counts.values())
    assert load.failed == [] and total == 12_000
    share = 100 * counts["1.1.0"] / total
    assert 4.0 <= share <= 6.0, counts


def test_the_routing_survives_an_haproxy_reload(lab: ReleaseLab, tmp_path: Path) -> None:
    c = _container(lab, tmp_path, canary={"analysis_window": "5m"})
    try:
        _release(c, "1.0.0")
        info = gated_start(
            c, service=SERVICE, version="1.1.0", env="staging", actor=OPS, strategy="canary"
        )
        drive(c, info.id, until=lambda i: i.phase is Phase.ANALYSING)
        assert lab.haproxy is not None
        lab.haproxy.reload()
        runtime = c.releases.factory.get(SERVICE, "staging")
        assert runtime.router.current().weights == {"blue": 95, "green": 5}
        c.releases.abort(release_id=info.id, actor=OPS, reason="done")
        drive(c, info.id)
    finally:
        c.close()


def test_bad_input_leaves_the_traffic_untouched_and_is_recorded(
    lab: ReleaseLab, tmp_path: Path
) -> None:
    lab.versions.add("1.3.0", health="fail")
    c = _container(lab, tmp_path)
    try:
        _release(c, "1.0.0")
        load = LoadLoop(lab.url, threads=2).start()
        load.wait_for(200)
        with pytest.raises(NotFoundError, match=r"unknown version '7\.0\.0'"):
            c.releases.start(service=SERVICE, version="7.0.0", env="staging", actor=OPS)
        failed = _release(c, "1.3.0")
        load.wait_for(len(load.results) + 200)
        load.stop()
        assert failed.phase is Phase.FAILED
        assert failed.reason is not None and "did not become healthy" in failed.reason
        assert "HTTP 503" in failed.reason
        assert _weights(c) == {"blue": 100, "green": 0}
        (target,) = c.releases.targets()
        assert target.active_version == "1.0.0" and target.routing.retired == {"green"}
        refused = [e for e in _all(c) if e.action == "release.refused"]
        assert refused and refused[0].payload["version"] == "7.0.0"
    finally:
        c.close()
    assert load.failed == [] and set(load.versions()) == {"1.0.0"}


@pytest.fixture
def prom_lab() -> Iterator[ReleaseLab]:
    lab = ReleaseLab(short_dir(), prometheus=True)
    lab.versions.add("1.0.0")
    lab.versions.add("2.0.0", error_rate=0.2)
    lab.versions.add("2.1.0")
    try:
        yield lab
    finally:
        lab.close()


def test_canary_analysis_asks_prometheus_aborts_a_bad_canary_and_promotes_a_good_one(
    prom_lab: ReleaseLab, tmp_path: Path
) -> None:
    c = _container(prom_lab, tmp_path, canary={"analysis_window": "3s", "steps": [5, 50, 100]})
    try:
        _release(c, "1.0.0")
        load = LoadLoop(prom_lab.url, threads=3).start()
        load.wait_for(300)
        bad = gated_start(
            c, service=SERVICE, version="2.0.0", env="staging", actor=OPS, strategy="canary"
        )
        bad = drive(c, bad.id)
        assert bad.phase is Phase.ROLLED_BACK and _weights(c) == {"blue": 100, "green": 0}, (
            bad,
            c.releases.analysis_list(bad.id),
        )
        (analysis,) = c.releases.analysis_list(bad.id)
        assert (analysis.step, analysis.weight, analysis.verdict) == (0, 5, "fail")
        assert 15 <= analysis.canary["error_rate"] <= 25
        assert analysis.stable["error_rate"] == 0
        assert "critical threshold 5 %" in analysis.reasons[0]
        actions = [e.action for e in _entries(c, bad.id)]
        assert actions[actions.index("release.analysed") + 1 :][:2] == [
            "release.rollback_decided",
            "release.traffic_restored",
        ]
        good = gated_start(
            c, service=SERVICE, version="2.1.0", env="staging", actor=OPS, strategy="canary"
        )
        good = drive(c, good.id)
        load.stop()
        assert good.phase is Phase.COMPLETED, json.dumps(
            [good.outcome, good.reason, c.releases.analysis_list(good.id)]
            + [(e.action, e.payload) for e in _entries(c, good.id)],
            default=str,
        )
        verdicts = [(a.weight, a.verdict) for a in c.releases.analysis_list(good.id)]
        assert verdicts == [(5, "pass"), (50, "pass")]
        assert _weights(c) == {"blue": 0, "green": 100}
    finally:
        c.close()
    failed = {version for _s, _e, _status, version in load.failed}
    assert failed == {"2.0.0"}  # only the bad canary's own 500s, at 5 % for one window
