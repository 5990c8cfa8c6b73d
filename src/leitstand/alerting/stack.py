"""The local Prometheus stack that `leitstand up` manages when the Debian packages are installed.

Prometheus, Alertmanager, node_exporter, the blackbox exporter (uptime, certificate and TCP
connect probes, ``monitoring.probes``) and rsyslog (central logging: one stream per log type in
the policy's log folder, ``logs.streams``; rendered and checked by ``leitstand.logs``; left out,
with a note, when rsyslogd is not installed) run as child processes on 127.0.0.1 with the
configuration generated from the policy (checked by promtool, amtool and ``--config.check``
before it is written). The children get SIGTERM if leitstand dies (``PR_SET_PDEATHSIG``), a watcher
re-renders and reloads them when the policy file changes (and on `leitstand policy reload` or
SIGHUP to `leitstand up`), and ``stop()`` ends them by PID. ``state.json`` in the stack folder
lets `leitstand stack status` find them from another process.

Ports are stable across restarts: a port the policy fixes (``monitoring.stack.*_port``) is used as
it is; otherwise the first start picks a free one and ``ports.json`` keeps it for every later
start (a new one only if another process took it meanwhile). So node_exporter's instance label,
and with it every alert about the host, stays the same.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import threading
from contextlib import closing
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import structlog

from leitstand.alerting.engine_config import Endpoints
from leitstand.alerting.engines import Engines, find_engines
from leitstand.alerting.render import render
from leitstand.errors import ConflictError, LeitstandError
from leitstand.identity import SYSTEM_ACTOR, Role
from leitstand.logs.engines import LogEngines, find_log_engines
from leitstand.logs.model import TailedFile, log_types, stream_paths
from leitstand.logs.render import RSYSLOG_FILE
from leitstand.logs.render import render as render_logs
from leitstand.policy.loader import load_policy
from leitstand.policy.model import Policy

if TYPE_CHECKING:
    from leitstand.bootstrap import Container

__all__ = ["INSTALL_HINT", "LocalStack", "read_status", "start_for_up"]

log = structlog.get_logger(__name__)
INSTALL_HINT = (
    "apt-get install prometheus prometheus-alertmanager prometheus-node-exporter "
    "prometheus-blackbox-exporter (Debian packages), then restart `leitstand up`"
)
RSYSLOG_HINT = "apt-get install rsyslog logrotate (Debian packages) for central logging"
SERVICE_USER = "alertmanager"
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _is_free(port: int) -> bool:
    """Whether nothing listens on 127.0.0.1:``port`` now (a kept port may have been taken)."""
    if not 0 < port < 65536:
        return False
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        # As the engines bind (Go sets SO_REUSEADDR): connections of the last run still in
        # TIME_WAIT do not take the port, a listener does.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass(slots=True)
class Component:
    """One managed process."""

    name: str
    port: int
    pid: int | None = None
    ready_path: str = "/-/ready"
    # ``tcp``: no HTTP endpoint; ready once it accepts a connection (rsyslog's imtcp).
    protocol: str = "http"

    @property
    def url(self) -> str:
        return f"{self.protocol}://127.0.0.1:{self.port}"

    def ready(self) -> bool:
        """Whether the engine answers: its ready endpoint, or a TCP connect."""
        try:
            if self.protocol == "tcp":
                with socket.create_connection(("127.0.0.1", self.port), timeout=2):
                    return True
            return httpx.get(self.url + self.ready_path, timeout=2).status_code == 200
        except (OSError, httpx.HTTPError):
            return False


class LocalStack:
    """Start, reload and stop the managed engines for one `leitstand up`."""

    def __init__(
        self,
        *,
        home: Path,
        policy: Policy,
        policy_file: Path | None,
        leitstand_url: str,
        auth: Any,
        engines: Engines | None = None,
        log_engines: LogEngines | None = None,
    ) -> None:
        self.folder = home / "stack"
        self.policy = policy
        self.policy_file = policy_file
        self.leitstand_url = leitstand_url
        self.auth = auth
        self.engines = engines or find_engines()
        self.log_engines = log_engines or find_log_engines()
        # Why rsyslog does not run (not installed, its configuration refused); None if it runs.
        self.rsyslog_note: str | None = None
        self.components: dict[str, Component] = {}
        self._processes: dict[str, subprocess.Popen[bytes]] = {}
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._policy_mtime: float | None = None

    @property
    def available(self) -> bool:
        return self.engines.complete

    @property
    def _runs_blackbox(self) -> bool:
        return bool(self.engines.blackbox_exporter) and self.policy.monitoring.probes.managed

    def _assign_ports(self) -> dict[str, int]:
        """Each engine's port: fixed by the policy, else kept from the last start, else free."""
        stack = self.policy.monitoring.stack
        wanted: dict[str, int | None] = {
            "prometheus": stack.prometheus_port,
            "alertmanager": stack.alertmanager_port,
        }
        if self.engines.node_exporter:
            wanted["node_exporter"] = stack.node_exporter_port
        if self._runs_blackbox:
            wanted["blackbox_exporter"] = self.policy.monitoring.probes.port
        if self.log_engines.rsyslogd:
            # Kept or free: ``logs.streams.port`` is the rendered production configuration's.
            wanted["rsyslog"] = None
        path = self.folder / "ports.json"
        stored: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            loaded = json.loads(path.read_text())
            stored = loaded if isinstance(loaded, dict) else {}
        ports: dict[str, int] = {}
        for name, configured in wanted.items():
            kept = stored.get(name)
            if configured:
                ports[name] = configured
            elif isinstance(kept, int) and kept not in ports.values() and _is_free(kept):
                ports[name] = kept
            else:
                ports[name] = _free_port()
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({**stored, **ports}, indent=2, sort_keys=True))
        tmp.replace(path)
        return ports

    def _endpoints(self) -> Endpoints:
        node = self.components.get("node_exporter")
        blackbox = self.components.get("blackbox_exporter")
        return Endpoints(
            leitstand_url=self.leitstand_url,
            credentials_file=str(self.folder / "alertmanager.token"),
            alertmanager=f"127.0.0.1:{self.components['alertmanager'].port}",
            node_exporter=f"127.0.0.1:{node.port}" if node else None,
            prometheus_url=self.components["prometheus"].url,
            # Written by leitstand.releases.scrape when instances start.
            release_targets=str(self.folder / "release-targets" / "*.json"),
            blackbox=f"127.0.0.1:{blackbox.port}" if blackbox else None,
        )

    def _token(self) -> None:
        """Give Alertmanager its own service user's token, in a file only we can read."""
        path = self.folder / "alertmanager.token"
        if path.exists():
            try:
                self.auth.authenticate(path.read_text().strip())
                return
            except LeitstandError:
                pass
        try:
            _user, token = self.auth.add_user(
                name=SERVICE_USER, role=Role.ONCALL, actor=SYSTEM_ACTOR
            )
        except ConflictError:
            token = self.auth.issue_token(
                name=SERVICE_USER, label="managed alertmanager", actor=SYSTEM_ACTOR
            )
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(token)
        tmp.replace(path)

    def render(self, policy: Policy) -> None:
        """Generate and check the configuration (without promtool's unit tests, for speed)."""
        render(
            policy,
            out=self.folder / "config",
            endpoints=self._endpoints(),
            engines=self.engines,
            unit_tests=False,
        )

    def start(self) -> None:
        """Render the configuration and start the engines (from the main thread)."""
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Prometheus watches this folder for released instances (it must exist at start-up).
        (self.folder / "release-targets").mkdir(exist_ok=True)
        ports = self._assign_ports()
        self.components = {
            "prometheus": Component("prometheus", ports["prometheus"]),
            "alertmanager": Component("alertmanager", ports["alertmanager"]),
        }
        if self.engines.node_exporter:
            self.components["node_exporter"] = Component(
                "node_exporter", ports["node_exporter"], ready_path="/metrics"
            )
        if self._runs_blackbox:
            self.components["blackbox_exporter"] = Component(
                "blackbox_exporter", ports["blackbox_exporter"], ready_path="/-/healthy"
            )
        if self.log_engines.rsyslogd:
            self.components["rsyslog"] = Component(
                "rsyslog", ports["rsyslog"], ready_path="", protocol="tcp"
            )
        else:
            self.rsyslog_note = f"rsyslog: not installed; {RSYSLOG_HINT}"
        self._token()
        self.render(self.policy)
        rsyslog_command = self._render_rsyslog()
        config = self.folder / "config"
        node = self.components.get("node_exporter", Component("", 0))
        blackbox = self.components.get("blackbox_exporter", Component("", 0))
        commands = {
            "rsyslog": rsyslog_command,
            "blackbox_exporter": [
                str(self.engines.blackbox_exporter),
                f"--config.file={config / 'blackbox/blackbox.yml'}",
                f"--web.listen-address=127.0.0.1:{blackbox.port}",
            ],
            "node_exporter": [
                str(self.engines.node_exporter),
                f"--web.listen-address=127.0.0.1:{node.port}",
                "--no-collector.systemd",
            ],
            "alertmanager": [
                str(self.engines.alertmanager),
                f"--config.file={config / 'alertmanager/alertmanager.yml'}",
                f"--storage.path={self.folder / 'alertmanager-data'}",
                f"--web.listen-address=127.0.0.1:{self.components['alertmanager'].port}",
                f"--web.external-url={self.components['alertmanager'].url}",
                "--cluster.listen-address=",
            ],
            "prometheus": [
                str(self.engines.prometheus),
                f"--config.file={config / 'prometheus/prometheus.yml'}",
                f"--storage.tsdb.path={self.folder / 'prometheus-data'}",
                f"--web.listen-address=127.0.0.1:{self.components['prometheus'].port}",
                f"--web.external-url={self.components['prometheus'].url}",
                "--web.enable-lifecycle",
            ],
        }
        for name, component in self.components.items():
            log_file = (self.folder / f"{name}.log").open("ab")
            process = subprocess.Popen(  # noqa: S603 - fixed binaries and argument lists
                commands[name],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,  # only prctl: no locks taken
                close_fds=True,
            )
            log_file.close()
            self._processes[name] = process
            component.pid = process.pid
        self._write_state()
        if self.policy_file is not None and self.policy_file.exists():
            self._policy_mtime = self.policy_file.stat().st_mtime
            self._watcher = threading.Thread(
                target=self._watch, name="leitstand-stack-watch", daemon=True
            )
            self._watcher.start()

    def _render_rsyslog(self) -> list[str]:
        """rsyslog's configuration from the logs domain into ``config/rsyslog`` (checked by
        ``rsyslogd -N1`` and ``logrotate -d``); its command line. A refused configuration or a
        missing logrotate leaves rsyslog out (``rsyslog_note``), the rest of the stack starts."""
        component = self.components.get("rsyslog")
        if component is None or not self.log_engines.rsyslogd:
            return []
        paths = stream_paths(self.policy.logs, self.folder.parent, port=component.port)
        # The engines' output (``<name>.log`` in the stack folder) is tailed into the
        # application stream, each line tagged with its engine's name.
        tailed = tuple(
            TailedFile(self.folder / f"{name}.log", tag=name)
            for name in self.components
            if name != "rsyslog"
        )
        paths = replace(paths, tailed=tailed)
        out = self.folder / "config" / "rsyslog"
        try:
            paths.work_directory.mkdir(mode=0o750, parents=True, exist_ok=True)
            render_logs(log_types(self.policy.logs), paths, out=out, engines=self.log_engines)
        except (LeitstandError, OSError, ValueError) as exc:
            del self.components["rsyslog"]
            message = exc.message if isinstance(exc, LeitstandError) else str(exc)
            self.rsyslog_note = f"rsyslog: not started ({message.splitlines()[0]})"
            log.warning("stack_rsyslog_not_started", error=message)
            return []
        return [
            self.log_engines.rsyslogd,
            "-n",
            "-f",
            str(out / RSYSLOG_FILE),
            "-i",
            str(paths.pid_file),
        ]

    @property
    def rsyslog_target(self) -> tuple[str, int] | None:
        """Where the managed rsyslog listens, when it runs."""
        component = self.components.get("rsyslog")
        return ("127.0.0.1", component.port) if component is not None else None

    def _write_state(self) -> None:
        state = {name: asdict(c) for name, c in self.components.items()}
        tmp = self.folder / "state.json.tmp"
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.folder / "state.json")

    def _watch(self) -> None:
        while not self._stop.wait(2.0):
            try:
                mtime = self.policy_file.stat().st_mtime if self.policy_file else None
            except OSError:
                continue
            if mtime is None or mtime == self._policy_mtime:
                continue
            self._policy_mtime = mtime
            self.reload_from_file()

    def reload_from_file(self) -> bool:
        """Re-read the policy file, re-render and reload the engines; False if it was refused.

        A policy the checkers refuse writes nothing, so the engines keep running on the last
        good configuration.
        """
        try:
            policy = load_policy(self.policy_file)
            self.render(policy)
        except LeitstandError as exc:
            log.error("stack_reload_refused", error=exc.message)
            return False
        self.policy = policy
        reloaded = self.reload()
        log.info("stack_reloaded", policy=str(self.policy_file), engines=reloaded)
        return all(reloaded.values())

    def reload(self) -> dict[str, bool]:
        """Ask Prometheus, Alertmanager and the blackbox exporter to re-read their configuration;
        which succeeded."""
        done: dict[str, bool] = {}
        for name in ("prometheus", "alertmanager", "blackbox_exporter"):
            component = self.components.get(name)
            if component is None:
                continue
            try:
                answer = httpx.post(f"{component.url}/-/reload", timeout=10)
                done[name] = answer.status_code == 200
                if not done[name]:
                    log.warning(
                        "stack_reload_failed", component=name, error=answer.text.strip()[:300]
                    )
            except httpx.HTTPError as exc:
                done[name] = False
                log.warning("stack_reload_failed", component=name, error=str(exc))
        return done

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every engine by PID (SIGTERM, then SIGKILL)."""
        self._stop.set()
        for process in self._processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self._processes.values():
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=timeout)
        self._processes.clear()
        with contextlib.suppress(OSError):
            (self.folder / "state.json").unlink()


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def read_status(home: Path, engines: Engines | None = None) -> dict[str, Any]:
    """What `leitstand stack status` shows: installed binaries and the running engines."""
    engines = engines or find_engines()
    installed = {
        "prometheus": engines.prometheus,
        "alertmanager": engines.alertmanager,
        "node_exporter": engines.node_exporter,
        "blackbox_exporter": engines.blackbox_exporter,
        "rsyslogd": find_log_engines().rsyslogd,
        "promtool": engines.promtool,
        "amtool": engines.amtool,
    }
    state_file = home / "stack" / "state.json"
    components: list[dict[str, Any]] = []
    if state_file.exists():
        for name, data in json.loads(state_file.read_text()).items():
            component = Component(**data)
            ready = _alive(component.pid) and component.ready()
            components.append(
                {
                    "name": name,
                    "pid": component.pid,
                    "url": component.url,
                    "running": _alive(component.pid),
                    "ready": ready,
                }
            )
    return {
        "installed": installed,
        "complete": engines.complete,
        "hint": None if engines.complete else INSTALL_HINT,
        "components": components,
    }


def start_for_up(container: Container, *, url: str) -> tuple[LocalStack | None, str]:
    """`leitstand up`: start the stack if installed and wanted; returns it and a status line."""
    policy = container.policy
    if (
        os.environ.get("LEITSTAND_MANAGED_STACK", "auto") == "off"
        or not policy.monitoring.stack.managed
    ):
        return None, "monitoring stack: not managed (monitoring.stack.managed: false)"
    stack = LocalStack(
        home=container.settings.home,
        policy=policy,
        policy_file=container.policy_file,
        leitstand_url=url.rstrip("/"),
        auth=container.auth,
    )
    if not stack.available:
        return None, f"monitoring stack: not installed; {INSTALL_HINT}"
    try:
        stack.start()
    except (LeitstandError, OSError) as exc:
        stack.stop()
        return None, f"monitoring stack: not started ({exc})"
    prometheus, alertmanager = stack.components["prometheus"], stack.components["alertmanager"]
    line = f"monitoring stack: Prometheus {prometheus.url}  Alertmanager {alertmanager.url}"
    rsyslog = stack.components.get("rsyslog")
    line += f"  rsyslog {rsyslog.url}" if rsyslog else f"; {stack.rsyslog_note}"
    return stack, line
