"""HAProxy through its runtime API on the admin socket: weights and server state, no reload.

Weight changes take effect at once and close no connection (measured: 0 failed requests across
switches under load). A retired slot goes to ``maint``; a slot coming back goes to ``ready`` with
weight 0 first, so HAProxy's own checks run before any request reaches it. After every change the
servers' state is written to the ``server-state-file`` so that a reload keeps it
(``load-server-state-from-file global`` in haproxy.cfg).
"""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from leitstand.releases.model import Routing
from leitstand.releases.routers import RouterError

__all__ = ["HaproxyRouter", "ServerState", "runtime_command"]

# srv_admin_state bits (HAProxy's SRV_ADMF_*): forced, inherited and resolver maintenance.
_MAINT = 0x01 | 0x02 | 0x20  # CMAINT (0x04) alone only remembers "disabled" in the config
_RUNNING = 2  # srv_op_state SRV_ST_RUNNING
_CHECK_CONFIGURED = 0x02  # srv_check_state CHK_ST_CONFIGURED
_CHECK_PASSED = frozenset({3, 4})  # srv_check_result CHK_RES_PASSED, CHK_RES_CONDPASS


def runtime_command(path: str, command: str, *, timeout: float) -> str:
    """Send one (``;``-separated) command line to the admin socket and return the answer."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(path)
            sock.sendall(command.encode() + b"\n")
            chunks: list[bytes] = []
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
    except (OSError, TimeoutError) as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise RouterError(f"haproxy admin socket {path} cannot be reached: {reason}") from exc
    return b"".join(chunks).decode(errors="replace")


@dataclass(frozen=True, slots=True)
class ServerState:
    name: str
    weight: int
    op_state: int
    admin_state: int
    check_state: int
    check_result: int

    @property
    def maintenance(self) -> bool:
        return bool(self.admin_state & _MAINT)

    @property
    def up(self) -> bool:
        """Running, not in maintenance, and its own health check passed (when it has one).

        Right after leaving maintenance a server reports RUNNING before its first check ran;
        the check result tells that apart.
        """
        checked = not (self.check_state & _CHECK_CONFIGURED) or self.check_result in _CHECK_PASSED
        return self.serving and checked

    @property
    def serving(self) -> bool:
        """Running and not in maintenance: HAProxy sends it traffic when weighted.

        A failed check alone does not stop that: the server stays RUNNING ("UP, going down")
        until ``fall`` checks in a row failed, and only then does HAProxy take it out.
        """
        return self.op_state == _RUNNING and not self.maintenance


class HaproxyRouter:
    """One backend; slot names map to the backend's server names."""

    def __init__(
        self,
        *,
        socket_path: str,
        backend: str,
        servers: Mapping[str, str],
        state_file: str | None = None,
        timeout: float = 2.0,
    ) -> None:
        self.socket_path = socket_path
        self.backend = backend
        self.servers = dict(servers)  # slot -> server name
        self.state_file = state_file
        self.timeout = timeout

    def describe(self) -> str:
        return f"haproxy {self.socket_path} backend {self.backend}"

    def _run(self, command: str) -> str:
        return runtime_command(self.socket_path, command, timeout=self.timeout)

    def states(self) -> dict[str, ServerState]:
        """The backend's servers as HAProxy reports them (``show servers state``)."""
        answer = self._run(f"show servers state {self.backend}")
        lines = [line for line in answer.splitlines() if line.strip()]
        header = next((line for line in lines if line.startswith("#")), None)
        if header is None:
            raise RouterError(f"{self.describe()}: {answer.strip() or 'no answer'}")
        columns = header.lstrip("# ").split()
        found: dict[str, ServerState] = {}
        for line in lines:
            if line.startswith("#") or " " not in line:
                continue
            row = dict(zip(columns, line.split(), strict=False))
            if row.get("be_name") != self.backend:
                continue
            found[row["srv_name"]] = ServerState(
                name=row["srv_name"],
                weight=int(row["srv_uweight"]),
                op_state=int(row["srv_op_state"]),
                admin_state=int(row["srv_admin_state"]),
                check_state=int(row.get("srv_check_state", "0")),
                check_result=int(row.get("srv_check_result", "0")),
            )
        missing = [s for s in self.servers.values() if s not in found]
        if missing:
            raise RouterError(
                f"{self.describe()}: no server {', '.join(missing)} in the backend "
                f"(it has {', '.join(sorted(found)) or 'none'})"
            )
        return found

    def current(self) -> Routing:
        states = self.states()
        weights: dict[str, int] = {}
        retired: set[str] = set()
        for slot, server in self.servers.items():
            state = states[server]
            weights[slot] = state.weight
            if state.maintenance:
                retired.add(slot)
        return Routing(weights, frozenset(retired))

    def ready(self, slot: str) -> bool:
        return self.states()[self.servers[slot]].up

    def serving(self, slot: str) -> bool:
        return self.states()[self.servers[slot]].serving

    def apply(self, routing: Routing) -> None:
        before = self.current()
        commands: list[str] = []
        # Out of maintenance first (weight 0 from the routing below), raise weights before
        # lowering others, retire last: at no moment is every server without weight.
        for slot, server in self.servers.items():
            if slot in before.retired and slot not in routing.retired:
                commands.append(f"set server {self.backend}/{server} weight 0")
                commands.append(f"set server {self.backend}/{server} state ready")
        ordered = sorted(self.servers, key=lambda s: routing.weight(s) - before.weight(s))
        for slot in reversed(ordered):
            commands.append(
                f"set server {self.backend}/{self.servers[slot]} weight {routing.weight(slot)}"
            )
        for slot, server in self.servers.items():
            if slot in routing.retired and slot not in before.retired:
                commands.append(f"set server {self.backend}/{server} state maint")
        answer = self._run("; ".join(commands)).strip()
        if answer:
            raise RouterError(f"{self.describe()} refused the change: {answer.splitlines()[0]}")
        after = self.current()
        if not after.same_traffic(routing):
            raise RouterError(
                f"{self.describe()}: routing is {after.as_dict()} after setting {routing.as_dict()}"
            )
        self.save_state()

    def save_state(self) -> None:
        """Write ``show servers state`` to the state file (atomically) for the next reload."""
        if not self.state_file:
            return
        dump = self._run("show servers state")
        target = Path(self.state_file)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
            with os.fdopen(fd, "w") as handle:
                handle.write(dump)
            Path(tmp).replace(target)
        except OSError as exc:
            raise RouterError(
                f"{self.describe()}: cannot save the server state to {target}: {exc.strerror}"
            ) from exc
