"""Release state is durable: a `leitstand up` killed mid-release continues after a restart,
and the traffic never reaches a version that did not pass its checks."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import yaml

from leitstand.testing import ServerProcess, free_port
from support.gate_runs import record_gate_run_at
from support.releases_lab import LoadLoop, ReleaseLab, short_dir

if TYPE_CHECKING:
    from leitstand.releases.schemas import TimelineEntryOut


@pytest.fixture
def lab() -> Iterator[ReleaseLab]:
    lab = ReleaseLab(short_dir())
    lab.versions.add("1.0.0")
    lab.versions.add("1.1.0")
    try:
        yield lab
    finally:
        lab.close()


def _up(home: Path, policy: Path) -> ServerProcess:
    server = ServerProcess(
        home=home,
        port=free_port(),
        env={
            "LEITSTAND_POLICY": str(policy),
            "LEITSTAND_MANAGED_STACK": "off",
            "LEITSTAND_SCHEDULER_POLL_SECONDS": "0.1",
        },
    )
    try:
        server.wait_ready()
    except BaseException:
        server.stop()
        raise
    return server


def _wait(server: ServerProcess, token: str, release_id: int, phases: set[str]) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        answer = httpx.get(
            f"{server.url}/api/v1/releases/{release_id}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        )
        data: dict[str, Any] = answer.json()
        if data["phase"] in phases:
            return data
        time.sleep(0.05)
    raise TimeoutError(f"release #{release_id} never reached {phases}")


def _start(server: ServerProcess, token: str, version: str, **extra: str) -> int:
    # Fail = Stop: the gate service records a passing run for the artifact first.
    digest = record_gate_run_at(server.home, service="enterprise-api", version=version)
    body = {"service": "enterprise-api", "version": version, "env": "staging", **extra}
    answer = httpx.post(
        f"{server.url}/api/v1/releases",
        json={**body, "artifact_digest": digest},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def test_a_release_survives_a_killed_control_plane_and_no_request_is_lost(
    lab: ReleaseLab, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    lab.homes.append(home)
    data = lab.policy(blue_green={"rollback_window": "4s"})
    health = data["deployment"]["releases"]["enterprise-api"]["health"]
    health["passes"] = 10  # about 2 s of health checks: time to kill leitstand in between
    health["within"] = "60s"  # a wall-clock deadline: it also runs while leitstand is down
    policy = tmp_path / "leitstand.yaml"
    policy.write_text(yaml.safe_dump(data))
    server = _up(home, policy)
    token = server.token()
    assert token is not None
    try:
        first = _start(server, token, "1.0.0")
        _wait(server, token, first, {"completed"})
        load = LoadLoop(lab.url, threads=3).start()
        load.wait_for(300)
        release = _start(server, token, "1.1.0")
        # Killed (SIGKILL: no shutdown, no clean-up) while the new version is health-checked,
        # and again while the old colour is kept warm after the switch.
        for phase, versions in (("health_check", {"1.0.0"}), ("observing", {"1.1.0"})):
            _wait(server, token, release, {phase})
            server.process.send_signal(signal.SIGKILL)
            server.stop()
            down_at = len(load.results)
            load.wait_for(down_at + 300)  # HAProxy and the instances live on
            assert {v for *_, v in load.results[down_at:]} == versions
            server = _up(home, policy)
        done = _wait(server, token, release, {"completed", "failed", "rolled_back"})
        load.wait_for(len(load.results) + 300)
        load.stop()
        services = httpx.get(
            f"{server.url}/api/v1/releases/services",
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        ).json()
    finally:
        server.stop()
    assert done["phase"] == "completed"
    (target,) = services
    assert target["active_version"] == "1.1.0"
    assert target["weights"] == {"blue": 0, "green": 100} and target["retired"] == ["blue"]
    assert load.failed == []
    actions = [e.action for e in _timeline(home, release)]
    assert actions.count("release.switched") == 1 and actions[-1] == "release.completed"


def _timeline(home: Path, release_id: int) -> list[TimelineEntryOut]:
    from leitstand.bootstrap import build
    from leitstand.settings import Settings

    c = build(Settings(home=home), migrate=False)
    try:
        return c.releases.timeline_entries(release_id)
    finally:
        c.close()
