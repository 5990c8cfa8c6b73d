"""Releases through a real nginx: upstream file rewritten, `nginx -t`, graceful reload."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from leitstand.auth.model import Actor
from leitstand.bootstrap import build
from leitstand.policy.loader import load_policy_text
from leitstand.releases.model import Phase, Routing
from leitstand.releases.routers import RouterError
from leitstand.releases.routers.nginx import NginxRouter
from leitstand.settings import Settings
from support.gate_runs import gated_start
from support.releases_lab import LoadLoop, ReleaseLab, drive, short_dir

OPS = Actor(name="olaf", role="devops")


@pytest.fixture
def lab() -> Iterator[ReleaseLab]:
    lab = ReleaseLab(short_dir(), router="nginx")
    lab.versions.add("1.0.0")
    lab.versions.add("1.1.0")
    try:
        yield lab
    finally:
        lab.close()


def test_blue_green_and_rollback_behind_nginx_lose_no_request(
    lab: ReleaseLab, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    lab.homes.append(home)
    policy = load_policy_text(lab.policy_yaml(blue_green={"rollback_window": "60s"}))
    c = build(Settings(home=home), migrate=True, policy=policy)
    try:
        first = gated_start(c, service="enterprise-api", version="1.0.0", env="staging", actor=OPS)
        assert drive(c, first.id).phase is Phase.COMPLETED
        load = LoadLoop(lab.url, threads=4).start()
        load.wait_for(500)
        info = gated_start(c, service="enterprise-api", version="1.1.0", env="staging", actor=OPS)
        drive(c, info.id, until=lambda i: i.phase is Phase.OBSERVING)
        load.wait_for(len(load.results) + 1000)
        c.releases.rollback(service="enterprise-api", env="staging", actor=OPS, reason="latency")
        assert drive(c, info.id).phase is Phase.ROLLED_BACK
        load.wait_for(len(load.results) + 1000)
        load.stop()
    finally:
        c.close()
    assert load.failed == []
    assert set(load.versions()) == {"1.0.0", "1.1.0"}
    # Only a reload can close an idle keep-alive connection; such a request is sent again on a
    # fresh connection, as HTTP clients do (RFC 9112, 9.3.1). One switch and one rollback.
    assert load.resent <= 16
    assert lab.nginx is not None
    text = lab.nginx.upstream_file.read_text()
    assert f"127.0.0.1:{lab.ports['blue']} weight=100;" in text
    assert f"127.0.0.1:{lab.ports['green']} down;" in text


def test_a_configuration_nginx_refuses_changes_nothing(lab: ReleaseLab) -> None:
    assert lab.nginx is not None
    addresses = {slot: f"127.0.0.1:{port}" for slot, port in lab.ports.items()}
    before = lab.nginx.upstream_file.read_text()
    # The server block proxies to "enterprise_api": an upstream of another name breaks it.
    router = NginxRouter(
        config=str(lab.nginx.config),
        upstream_file=str(lab.nginx.upstream_file),
        upstream="wrong_name",
        addresses=addresses,
        prefix=str(lab.nginx.folder),
    )
    with pytest.raises(RouterError, match=r"nginx .* -t -q failed: .*\[emerg\]"):
        router.apply(Routing({"blue": 100, "green": 0}))
    assert lab.nginx.upstream_file.read_text() == before
