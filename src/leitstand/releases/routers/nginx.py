"""nginx (open source): leitstand owns one upstream file, checks it with ``nginx -t``, reloads.

Open-source nginx has no API for weights, so a change rewrites the upstream block, validates the
whole configuration and reloads gracefully (old workers finish their requests). A configuration
nginx refuses is put back before anything reloads, so the running routing never changes then.

``nginx -s reload`` only signals the master; until the old workers stop accepting, new
connections may still meet the old routing. ``apply`` therefore waits until every old worker is
gone or shutting down and a new one runs: when it returns, the change is in effect.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from leitstand.releases.model import Routing
from leitstand.releases.routers import RouterError

__all__ = ["NginxRouter", "render_upstream"]

_SERVER = re.compile(r"^\s*server\s+(?P<address>\S+?)(?P<params>(?:\s+[^;]+)?);", re.MULTILINE)
_WEIGHT = re.compile(r"\bweight=(\d+)")
_PID = re.compile(r"^\s*pid\s+([^;\s]+)\s*;", re.MULTILINE)
HEADER = "# Managed by leitstand (deployment.releases): rewritten on every traffic change.\n"


def render_upstream(
    name: str, addresses: Mapping[str, str], routing: Routing, *, keepalive: int
) -> str:
    """The upstream block for ``routing``; a slot without weight is ``down``."""
    lines = [HEADER, f"upstream {name} {{\n", f"    zone {name} 64k;\n"]
    for slot in sorted(addresses):
        weight = routing.weight(slot)
        params = f"weight={weight}" if weight > 0 else "down"
        lines.append(f"    server {addresses[slot]} {params};  # slot {slot}\n")
    if keepalive:
        lines.append(f"    keepalive {keepalive};\n")
    lines.append("}\n")
    return "".join(lines)


class NginxRouter:
    """One upstream; slot names map to ``host:port`` server addresses."""

    def __init__(
        self,
        *,
        config: str,
        upstream_file: str,
        upstream: str,
        addresses: Mapping[str, str],
        binary: str = "nginx",
        prefix: str | None = None,
        keepalive: int = 32,
        timeout: float = 15.0,
        pid_file: str | None = None,
    ) -> None:
        self.config = config
        self.upstream_file = Path(upstream_file)
        self.upstream = upstream
        self.addresses = dict(addresses)  # slot -> host:port
        self.binary = binary
        self.prefix = prefix
        self.keepalive = keepalive
        self.timeout = timeout
        self.pid_file = pid_file

    def describe(self) -> str:
        return f"nginx {self.config} upstream {self.upstream}"

    def current(self) -> Routing:
        try:
            text = self.upstream_file.read_text()
        except OSError as exc:
            raise RouterError(
                f"{self.describe()}: cannot read {self.upstream_file}: {exc.strerror}"
            ) from exc
        by_address = {address: slot for slot, address in self.addresses.items()}
        weights = dict.fromkeys(self.addresses, 0)
        retired = set(self.addresses)
        for match in _SERVER.finditer(text):
            slot = by_address.get(match.group("address"))
            if slot is None:
                continue
            params = match.group("params") or ""
            if re.search(r"\bdown\b", params):
                continue
            weight = _WEIGHT.search(params)
            weights[slot] = int(weight.group(1)) if weight else 1
            retired.discard(slot)
        return Routing(weights, frozenset(retired))

    def ready(self, slot: str) -> bool:
        # Open-source nginx has no active health checks: leitstand's own checks decide.
        return slot in self.addresses

    def serving(self, slot: str) -> bool:
        return self.ready(slot)

    def _nginx(self, *args: str) -> None:
        argv = [
            self.binary,
            "-c",
            self.config,
            *(["-p", self.prefix] if self.prefix else []),
            *args,
        ]
        try:
            done = subprocess.run(  # noqa: S603 - fixed argument list from the policy
                argv, capture_output=True, text=True, timeout=self.timeout, check=False
            )
        except FileNotFoundError as exc:
            raise RouterError(f"{self.describe()}: {self.binary} is not installed") from exc
        except subprocess.TimeoutExpired as exc:
            raise RouterError(f"{self.describe()}: {' '.join(argv)} timed out") from exc
        if done.returncode != 0:
            lines = [x for x in (done.stderr or done.stdout).splitlines() if "[emerg]" in x]
            detail = (lines or (done.stderr or done.stdout).strip().splitlines() or ["?"])[0]
            raise RouterError(f"{self.describe()}: {' '.join(argv[3:])} failed: {detail}")

    def apply(self, routing: Routing) -> None:
        if not routing.serving() and self.current().serving():
            raise RouterError(f"{self.describe()}: refusing a routing that serves no slot")
        wanted = render_upstream(self.upstream, self.addresses, routing, keepalive=self.keepalive)
        try:
            old = self.upstream_file.read_text()
        except OSError as exc:
            raise RouterError(
                f"{self.describe()}: cannot read {self.upstream_file}: {exc.strerror}"
            ) from exc
        # A reload closes idle keep-alive connections, so only a real change reloads. The
        # marker says which content nginx was last reloaded with: a crash between writing and
        # reloading leaves them different, and the next apply reloads.
        if old == wanted and self._applied() == _digest(wanted):
            return
        if old != wanted:
            self._write(wanted)
        try:
            self._nginx("-t", "-q")
            master = self._master()
            before = _workers(master) if master else set()
            self._nginx("-s", "reload")
        except RouterError:
            if old != wanted:
                self._write(old)
            raise
        if master:
            self._wait_reloaded(master, before)
        self._mark_applied(wanted)

    @property
    def _marker(self) -> Path:
        return self.upstream_file.with_name(f".{self.upstream_file.name}.applied")

    def _applied(self) -> str | None:
        try:
            return self._marker.read_text().strip()
        except OSError:
            return None

    def _mark_applied(self, text: str) -> None:
        try:
            self._marker.write_text(_digest(text) + "\n")
        except OSError as exc:
            raise RouterError(f"{self.describe()}: cannot write {self._marker}: {exc}") from exc

    def _master(self) -> int | None:
        """The master's PID from the ``pid`` file (``pid_file``, the config's, or nginx's)."""
        path = self.pid_file
        if path is None:
            try:
                found = _PID.search(Path(self.config).read_text())
            except OSError:
                found = None
            path = found.group(1) if found else "/run/nginx.pid"
            if not Path(path).is_absolute():
                path = str(Path(self.prefix or "/usr/share/nginx") / path)
        try:
            return int(Path(path).read_text().strip())
        except (OSError, ValueError):
            return None

    def _wait_reloaded(self, master: int, before: set[int]) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            now = _workers(master)
            old_accepting = [pid for pid in now & before if not _shutting_down(pid)]
            if now - before and not old_accepting:
                return
            time.sleep(0.005)
        raise RouterError(
            f"{self.describe()}: the reload did not complete within {self.timeout:g} s"
        )

    def _write(self, text: str) -> None:
        target = self.upstream_file
        try:
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
            Path(tmp).chmod(0o644)
            Path(tmp).replace(target)
        except OSError as exc:
            raise RouterError(f"{self.describe()}: cannot write {target}: {exc.strerror}") from exc


def _workers(master: int) -> set[int]:
    """PIDs of the master's children (workers and cache processes)."""
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == master and fields[0] != "Z":
            found.add(int(entry.name))
    return found


def _shutting_down(pid: int) -> bool:
    try:
        title = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True
    return b"shutting down" in title


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
