"""The managed stack follows the policy file: a change is re-rendered and reloaded, a bad one not.

Real Prometheus and Alertmanager as child processes of ``LocalStack`` (what `leitstand up` runs);
the watcher notices the policy file's new modification time and reloads the engines.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from leitstand.alerting.stack import LocalStack, read_status
from leitstand.bootstrap import Container, build
from leitstand.policy.loader import load_policy
from leitstand.settings import Settings
from leitstand.testing import free_port, wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("prometheus") is None or shutil.which("prometheus-alertmanager") is None,
        reason="needs the Debian packages prometheus and prometheus-alertmanager",
    ),
]


def _policy(targets: dict[str, int], *, group_wait: str = "1s") -> str:
    lines = "\n".join(f"    {n}: {{address: '127.0.0.1:{p}'}}" for n, p in targets.items())
    return f"""
monitoring:
  scrape_interval: 1s
  evaluation_interval: 1s
  targets:
{lines}
  stack: {{group_wait: {group_wait}}}
"""


def _write(path: Path, text: str) -> None:
    # A new modification time even on a coarse clock: the watcher compares mtimes.
    before = path.stat().st_mtime if path.exists() else 0.0
    path.write_text(text)
    os.utime(path, (before + 5, before + 5))


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[LocalStack, Path, Container]]:
    policy_file = tmp_path / "leitstand.yaml"
    _write(policy_file, _policy({"shop-a": free_port()}))
    container = build(
        Settings(home=tmp_path / "home"), migrate=True, policy=load_policy(policy_file)
    )
    local = LocalStack(
        home=container.settings.home,
        policy=container.policy,
        policy_file=policy_file,
        leitstand_url="http://127.0.0.1:9",
        auth=container.auth,
    )
    try:
        local.start()
        yield local, policy_file, container
    finally:
        local.stop()
        container.close()


def _scrape_pools(prometheus: str) -> set[str]:
    try:
        answer = httpx.get(f"{prometheus}/api/v1/targets", timeout=5)
    except httpx.HTTPError:
        return set()
    if answer.status_code != 200:
        return set()
    return {t["scrapePool"] for t in answer.json()["data"]["activeTargets"]}


def _group_wait(alertmanager: str) -> str | None:
    try:
        answer = httpx.get(f"{alertmanager}/api/v2/status", timeout=5)
    except httpx.HTTPError:
        return None
    if answer.status_code != 200:
        return None
    original: str = answer.json()["config"]["original"]
    return next(
        (line.split(":", 1)[1].strip() for line in original.splitlines() if "group_wait" in line),
        None,
    )


def test_a_policy_change_reloads_prometheus_and_alertmanager(
    stack: tuple[LocalStack, Path, Container],
) -> None:
    local, policy_file, _container = stack
    prometheus = local.components["prometheus"].url
    alertmanager = local.components["alertmanager"].url
    pools = wait_for("the first target", lambda: _scrape_pools(prometheus))
    assert any("shop-a" in pool for pool in pools)
    assert not any("shop-b" in pool for pool in pools)
    assert wait_for("alertmanager", lambda: _group_wait(alertmanager)) == "1s"

    _write(policy_file, _policy({"shop-a": free_port(), "shop-b": free_port()}, group_wait="7s"))

    pools = wait_for(
        "the new target after the reload",
        lambda: (p := _scrape_pools(prometheus)) and any("shop-b" in x for x in p) and p,
    )
    assert any("shop-a" in pool for pool in pools)
    assert wait_for("alertmanager's new group_wait", lambda: _group_wait(alertmanager) == "7s")
    assert local.policy.monitoring.stack.group_wait.total_seconds() == 7
    # Still the same processes: a reload, not a restart.
    status = read_status(local.folder.parent)
    assert {c["name"]: c["pid"] for c in status["components"]} == {
        name: c.pid for name, c in local.components.items()
    }


def test_a_refused_policy_keeps_the_running_configuration(
    stack: tuple[LocalStack, Path, Container],
) -> None:
    local, policy_file, _container = stack
    prometheus = local.components["prometheus"].url
    wait_for("the first target", lambda: _scrape_pools(prometheus))
    rules = local.folder / "config" / "prometheus"
    before = {p.name: p.read_bytes() for p in sorted(rules.rglob("*")) if p.is_file()}

    _write(policy_file, "monitoring:\n  scrape_interval: [not, a, duration]\n")
    assert local.reload_from_file() is False

    after = {p.name: p.read_bytes() for p in sorted(rules.rglob("*")) if p.is_file()}
    assert after == before
    assert any("shop-a" in pool for pool in _scrape_pools(prometheus))
    assert all(c["running"] and c["ready"] for c in read_status(local.folder.parent)["components"])


def test_engines_keep_their_ports_across_restarts_and_follow_a_policy_reload(
    tmp_path: Path,
) -> None:
    from leitstand.policy_reload import reload_policy

    policy_file = tmp_path / "leitstand.yaml"
    _write(policy_file, _policy({"shop-a": free_port()}))
    container = build(
        Settings(home=tmp_path / "home"), migrate=True, policy=load_policy(policy_file)
    )
    container.policy_file = policy_file

    def started() -> LocalStack:
        local = LocalStack(
            home=container.settings.home,
            policy=container.policy,
            policy_file=None,  # no watcher: only the reload below may change the engines
            leitstand_url="http://127.0.0.1:9",
            auth=container.auth,
        )
        local.start()
        return local

    first = started()
    try:
        ports = {name: c.port for name, c in first.components.items()}
        wait_for("prometheus", lambda: _scrape_pools(first.components["prometheus"].url))
    finally:
        first.stop()
    again = started()
    try:
        assert {name: c.port for name, c in again.components.items()} == ports
        alertmanager = again.components["alertmanager"].url
        assert wait_for("alertmanager", lambda: _group_wait(alertmanager)) == "1s"
        _write(policy_file, _policy({"shop-a": free_port()}, group_wait="7s"))
        assert reload_policy(container, again) is True
        assert wait_for("the reloaded group_wait", lambda: _group_wait(alertmanager) == "7s")
        assert container.policy.monitoring.stack.group_wait.total_seconds() == 7
        assert again.policy is container.policy
    finally:
        again.stop()
        container.close()
