"""Test support for releases: real routers and Prometheus around the demo app, and a lab.

Everything runs for real on 127.0.0.1: the demo app (``support.demo_app``) per
slot, HAProxy, nginx and Prometheus as the Debian binaries started as child processes with
generated configurations and stopped by PID. ``ReleaseLab`` puts them together with the policy
overlay that describes them.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from leitstand.testing import free_port, wait_for
from support.demo_app import LoadLoop

if TYPE_CHECKING:
    from leitstand.alerting.stack import LocalStack
    from leitstand.bootstrap import Container
    from leitstand.releases.model import ReleaseInfo

__all__ = [
    "HaproxyProcess",
    "LoadLoop",
    "NginxProcess",
    "PrometheusProcess",
    "ReleaseLab",
    "Versions",
    "drive",
    "managed_stack",
    "short_dir",
    "stop_instances",
    "wait_scraped",
]


# -- versions, folders, instances ---------------------------------------------------------------


def short_dir(prefix: str = "lsr-") -> Path:
    """A folder with a short path (Unix socket paths are limited to 107 bytes)."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


@dataclass
class Versions:
    """Released versions of the demo app: one folder (the artifact) with a behaviour each."""

    root: Path

    def add(self, version: str, **behaviour: Any) -> Path:
        folder = self.root / version
        folder.mkdir(parents=True, exist_ok=True)
        self.set(version, **behaviour)
        return folder

    def set(self, version: str, **behaviour: Any) -> None:
        path = self.root / version / "behaviour.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(behaviour))
        tmp.replace(path)

    def command(self, python: str) -> list[str]:
        """The policy's ``start.command`` for the demo app."""
        return [
            python, str(Path(__file__).with_name("demo_app.py")), "--port", "{port}", "--version",
            "{version}", "--slot", "{slot}", "--service", "{service}", "--behaviour",
            f"{self.root}/{{version}}/behaviour.json",
        ]  # fmt: skip

    def artifact(self) -> str:
        return f"{self.root}/{{version}}"


def stop_instances(home: Path) -> None:
    """Stop every instance leitstand started under ``home`` (by the PIDs in its PID files)."""
    for pidfile in (home / "releases").glob("*/*/*.pid"):
        with contextlib.suppress(OSError, ValueError, KeyError):
            pid = int(json.loads(pidfile.read_text())["pid"])
            os.killpg(pid, signal.SIGKILL)


def drive(
    container: Container,
    release_id: int,
    *,
    timeout: float = 60.0,
    until: Callable[[ReleaseInfo], bool] | None = None,
) -> ReleaseInfo:
    """Fire timers until the release settles (done, or waiting for a human) or ``until`` holds."""
    deadline = time.monotonic() + timeout
    while True:
        fired = container.scheduler.run_due(limit=50)
        info = container.releases.get(release_id)
        if until is not None and until(info):
            return info
        if info.settled and container.scheduler.leases.busy() == 0:
            return info
        if time.monotonic() > deadline:
            raise TimeoutError(f"release #{release_id} still {info.phase.value}: {info}")
        if not fired:
            time.sleep(0.02)


# -- engines ----------------------------------------------------------------------------------


class _Engine:
    name = "engine"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen[bytes] | None = None
        self._old: list[subprocess.Popen[bytes]] = []

    def _spawn(self, argv: list[str]) -> subprocess.Popen[bytes]:
        with (self.folder / f"{self.name}.log").open("ab") as log:
            return subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

    def log(self) -> str:
        return (self.folder / f"{self.name}.log").read_text(errors="replace")

    def stop(self) -> None:
        for process in [*self._old, *([self.process] if self.process else [])]:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
        self._old.clear()
        self.process = None

    def __enter__(self) -> _Engine:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def _wait(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    """Wait for an engine to come up: connection errors while it starts count as "not yet"."""
    wait_for(what, check, timeout, interval=0.05, ignore=(OSError, httpx.HTTPError))


class HaproxyProcess(_Engine):
    """HAProxy with one frontend and backend ``be``; every server starts in maintenance."""

    name = "haproxy"

    def __init__(self, folder: Path, servers: dict[str, int], *, check_inter_ms: int = 500):
        super().__init__(folder)
        self.port = free_port()
        self.socket = str(folder / "admin.sock")
        self.state_file = str(folder / "server-state")
        lines = [
            "global",
            f"    stats socket {self.socket} mode 600 level admin",
            "    stats timeout 30s",
            f"    server-state-file {self.state_file}",
            "defaults",
            "    mode http",
            "    load-server-state-from-file global",
            "    timeout connect 2s",
            "    timeout client 30s",
            "    timeout server 30s",
            # Without it a check must finish within `inter`: too tight on a loaded 2-core machine.
            "    timeout check 2s",
            "    option redispatch",
            "    retries 3",
            "frontend fe",
            f"    bind 127.0.0.1:{self.port}",
            "    default_backend be",
            "backend be",
            "    balance roundrobin",
            "    option httpchk GET /health",
        ]
        for name, port in servers.items():
            lines.append(
                f"    server {name} 127.0.0.1:{port} weight 0 check inter {check_inter_ms}ms "
                "fall 3 rise 2 disabled"
            )
        self.config = folder / "haproxy.cfg"
        self.config.write_text("\n".join(lines) + "\n")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> HaproxyProcess:
        self.process = self._spawn(["haproxy", "-f", str(self.config), "-db"])
        _wait(lambda: Path(self.socket).exists(), "haproxy")
        return self

    def reload(self) -> None:
        """Start a new HAProxy that takes over (``-sf``): the server state file carries over."""
        assert self.process is not None
        old = self.process
        Path(self.socket).unlink(missing_ok=True)
        self.process = self._spawn(["haproxy", "-f", str(self.config), "-db", "-sf", str(old.pid)])
        self._old.append(old)
        _wait(lambda: Path(self.socket).exists(), "haproxy after reload")


class NginxProcess(_Engine):
    """nginx proxying one upstream from a file leitstand rewrites."""

    name = "nginx"

    def __init__(self, folder: Path, upstream: str, servers: dict[str, int]):
        super().__init__(folder)
        from leitstand.releases.model import Routing
        from leitstand.releases.routers.nginx import render_upstream

        self.port = free_port()
        self.upstream = upstream
        self.upstream_file = folder / "upstream.conf"
        addresses = {slot: f"127.0.0.1:{port}" for slot, port in servers.items()}
        self.upstream_file.write_text(
            render_upstream(upstream, addresses, Routing.empty(list(servers)), keepalive=32)
        )
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (folder / "tmp" / sub).mkdir(parents=True, exist_ok=True)
        t = folder / "tmp"
        self.config = folder / "nginx.conf"
        self.config.write_text(
            f"""worker_processes 2;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
daemon off;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {t}/body;
    proxy_temp_path {t}/proxy;
    fastcgi_temp_path {t}/fastcgi;
    uwsgi_temp_path {t}/uwsgi;
    scgi_temp_path {t}/scgi;
    include {self.upstream_file};
    server {{
        listen 127.0.0.1:{self.port};
        location / {{
            proxy_pass http://{upstream};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"""
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> NginxProcess:
        self.process = self._spawn(
            ["nginx", "-c", str(self.config), "-p", str(self.folder), "-e", "stderr"]
        )
        _wait(lambda: (self.folder / "nginx.pid").exists(), "nginx")
        return self


class PrometheusProcess(_Engine):
    """Prometheus scraping the given targets every ``interval``."""

    name = "prometheus"

    def __init__(self, folder: Path, targets: Sequence[str], *, interval: str = "1s"):
        super().__init__(folder)
        self.port = free_port()
        self.targets = list(targets)
        self.config = folder / "prometheus.yml"
        self.config.write_text(
            json.dumps(
                {
                    "global": {"scrape_interval": interval, "evaluation_interval": interval},
                    "scrape_configs": [
                        {"job_name": "app", "static_configs": [{"targets": list(targets)}]}
                    ],
                }
            )
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> PrometheusProcess:
        self.process = self._spawn(
            [
                "prometheus",
                f"--config.file={self.config}",
                f"--storage.tsdb.path={self.folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ]
        )
        _wait(
            lambda: httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200,
            "prometheus",
            timeout=60,
        )
        # Prometheus hands new targets to its scrapers after a few seconds; an analysis before
        # the first scrape would find nothing.
        _wait(lambda: self._scraped() == len(self.targets), "prometheus's first scrape", 60)
        return self

    def _scraped(self) -> int:
        answer = httpx.get(f"{self.url}/api/v1/query", params={"query": "up"}, timeout=2)
        return len(answer.json()["data"]["result"])


class ReleaseLab:
    """Two slots of the demo app behind a real router (and Prometheus when asked), plus the
    policy that describes them; ``close`` stops everything by PID."""

    def __init__(
        self,
        root: Path,
        *,
        router: str = "haproxy",
        prometheus: bool = False,
        service: str = "enterprise-api",
        envs: Sequence[str] = ("staging",),
    ) -> None:
        self.root = root
        self.service = service
        self.envs = list(envs)
        self.ports = {"blue": free_port(), "green": free_port()}
        self.versions = Versions(root / "versions")
        self.router_kind = router
        self.haproxy: HaproxyProcess | None = None
        self.nginx: NginxProcess | None = None
        self.prometheus: PrometheusProcess | None = None
        self.homes: list[Path] = []
        try:
            if router == "haproxy":
                self.haproxy = HaproxyProcess(root / "haproxy", self.ports).start()
            elif router == "nginx":
                self.nginx = NginxProcess(root / "nginx", "enterprise_api", self.ports).start()
            if prometheus:
                targets = [f"127.0.0.1:{p}" for p in self.ports.values()]
                self.prometheus = PrometheusProcess(root / "prometheus", targets).start()
        except BaseException:
            self.close()
            raise

    @property
    def url(self) -> str:
        engine = self.haproxy or self.nginx
        assert engine is not None
        return engine.url

    def router_policy(self) -> dict[str, Any]:
        if self.haproxy is not None:
            return {
                "kind": "haproxy",
                "socket": self.haproxy.socket,
                "backend": "be",
                "state_file": self.haproxy.state_file,
            }
        if self.nginx is not None:
            return {
                "kind": "nginx",
                "config": str(self.nginx.config),
                "upstream_file": str(self.nginx.upstream_file),
                "upstream": self.nginx.upstream,
                "prefix": str(self.nginx.folder),
            }
        return {"kind": "kubernetes", "service": self.service, "output_dir": str(self.root / "k8s")}

    def policy(self, **deployment: Any) -> dict[str, Any]:
        """The policy overlay: the release target plus short windows for tests."""
        import sys

        # "within" bounds the start of a new version (a coverage-traced Python app): it ends early
        # when the version is healthy, so only a version that never becomes healthy waits it out;
        # 6 s failed a release under two busy loops, 30 s leaves room for any load.
        health = {"interval": "200ms", "timeout": "1s", "passes": 2, "failures": 2, "within": "30s"}
        target: dict[str, Any] = {
            "start": {
                "command": self.versions.command(sys.executable),
                "artifact": self.versions.artifact(),
                "stop_timeout": "3s",
            },
            "health": health,
            "environments": {
                env: {
                    "router": self.router_policy(),
                    "instances": {slot: {"port": port} for slot, port in self.ports.items()},
                }
                for env in self.envs
            },
        }
        if self.prometheus is not None:
            target["analysis"] = {"prometheus_url": self.prometheus.url, "min_requests": 20}
        base: dict[str, Any] = {
            "blue_green": {"rollback_window": "2s"},
            "canary": {"analysis_window": "3s"},
            "releases": {self.service: target},
        }
        for key, value in deployment.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                base[key] = {**base[key], **value}
            else:
                base[key] = value
        return {"deployment": base}

    def policy_yaml(self, **deployment: Any) -> str:
        import yaml

        return str(yaml.safe_dump(self.policy(**deployment), sort_keys=False))

    def close(self) -> None:
        for home in self.homes:
            stop_instances(home)
        for engine in (self.haproxy, self.nginx, self.prometheus):
            if engine is not None:
                engine.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def managed_stack(container: Container, *, scraping: int = 0) -> LocalStack:
    """The monitoring stack `leitstand up` manages (Prometheus, Alertmanager, node_exporter
    from the Debian packages), started for ``container``'s home and policy; waits until
    Prometheus is ready and scrapes ``scraping`` targets of the released instances."""
    from leitstand.alerting.stack import LocalStack

    stack = LocalStack(
        home=container.settings.home,
        policy=container.policy,
        policy_file=None,
        leitstand_url=f"http://127.0.0.1:{free_port()}",
        auth=container.auth,
    )
    try:
        stack.start()
        url = stack.components["prometheus"].url
        _wait(lambda: httpx.get(f"{url}/-/ready", timeout=1).status_code == 200, "prometheus", 60)
    except BaseException:
        stack.stop()
        raise
    if scraping:
        wait_scraped(url, scraping)
    return stack


def wait_scraped(
    url: str, count: int, job: str = "leitstand-releases", *, labels: str = ""
) -> None:
    """Wait until Prometheus at ``url`` has scraped ``count`` targets of ``job`` (up == 1),
    optionally only those matching ``labels`` (e.g. ``env="production"``). New file_sd targets
    reach the scrapers within about 5 s (Prometheus's discovery update interval)."""
    matchers = f'job="{job}"' + (f",{labels}" if labels else "")

    def scraped() -> bool:
        answer = httpx.get(
            f"{url}/api/v1/query", params={"query": f"up{{{matchers}}} == 1"}, timeout=2
        )
        return len(answer.json()["data"]["result"]) >= count

    _wait(scraped, f"{count} scraped targets of {matchers}", timeout=60)
