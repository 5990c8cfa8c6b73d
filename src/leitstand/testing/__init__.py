"""Test support shipped with leitstand: a manual clock, free ports, throwaway PostgreSQL schemas.

Only what cannot run for real belongs here: time is controlled, engines are never faked.
"""

from __future__ import annotations

import os
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import psycopg
from psycopg import sql

from leitstand.clock import ensure_utc

__all__ = [
    "POSTGRES_URL",
    "ManualClock",
    "ServerProcess",
    "artifacts_dir",
    "free_port",
    "postgres_available",
    "postgres_schema",
]

#: The PostgreSQL server of these machines (trust auth); override with LEITSTAND_TEST_POSTGRES.
POSTGRES_URL = os.environ.get(
    "LEITSTAND_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


class ManualClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = ensure_utc(start or datetime(2026, 11, 27, 9, 0, tzinfo=UTC))

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now

    def set(self, when: datetime) -> None:
        self._now = ensure_utc(when)


T = TypeVar("T")


def wait_for(
    what: str,
    check: Callable[[], T | None],
    timeout: float = 90,
    *,
    interval: float = 0.25,
    ignore: tuple[type[BaseException], ...] = (),
) -> T:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` on timeout.

    Exceptions of the ``ignore`` types count as "not yet" (an engine still starting refuses
    connections); the last one is chained to the timeout error.
    """
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
        except ignore as exc:
            last = exc
        else:
            if result:
                return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}") from last


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _libpq_url(url: str) -> str:
    # The store's SQLAlchemy URL names its driver (postgresql+psycopg://); libpq does not.
    return re.sub(r"^postgresql\+\w+://", "postgresql://", url)


def postgres_available(url: str = POSTGRES_URL) -> bool:
    """True when the test PostgreSQL server answers."""
    try:
        with psycopg.connect(_libpq_url(url), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


@dataclass(frozen=True, slots=True)
class PgSchema:
    url: str
    schema: str


def _execute(url: str, statement: sql.Composed) -> None:
    with psycopg.connect(_libpq_url(url), autocommit=True, connect_timeout=10) as conn:
        conn.execute(statement)


@contextmanager
def postgres_schema(url: str = POSTGRES_URL, *, prefix: str = "t") -> Iterator[PgSchema]:
    """Create a fresh schema for one test (run) and drop it afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    _execute(url, sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    try:
        yield PgSchema(url=url, schema=name)
    finally:
        _execute(url, sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


def artifacts_dir() -> Path:
    """Where tests keep artifacts such as screenshots (``test-artifacts/``)."""
    path = Path(os.environ.get("LEITSTAND_TEST_ARTIFACTS", "test-artifacts")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


class ServerProcess:
    """A `leitstand up` child process on 127.0.0.1, stopped by PID."""

    def __init__(
        self,
        *,
        home: Path,
        port: int,
        env: dict[str, str] | None = None,
        managed_stack: bool = False,
        args: tuple[str, ...] = (),
    ) -> None:
        """``managed_stack``: let `leitstand up` start Prometheus and Alertmanager too (only the
        tests of that stack need them; everyone else saves their start-up and config checks).
        ``args``: more options for `leitstand up` (with ``--tls-cert`` the URL is https)."""
        import subprocess
        import sys

        self.home = home
        self.port = port
        scheme = "https" if "--tls-cert" in args else "http"
        self.url = f"{scheme}://127.0.0.1:{port}"
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("LEITSTAND_")}
        full_env.update({"LEITSTAND_HOME": str(home), "COLUMNS": "200"})
        if not managed_stack:
            full_env["LEITSTAND_MANAGED_STACK"] = "off"
        full_env.update(env or {})
        self.stdout_path = home.parent / f"up-{port}.stdout"
        self.stderr_path = home.parent / f"up-{port}.stderr"
        self._stdout = self.stdout_path.open("w")
        self._stderr = self.stderr_path.open("w")
        self.process = subprocess.Popen(  # noqa: S603 - fixed argument list
            [sys.executable, "-m", "leitstand", "up", "--port", str(port), *args],
            env=full_env,
            stdout=self._stdout,
            stderr=self._stderr,
            text=True,
        )

    def wait_ready(self, timeout: float = 180.0) -> None:
        """Wait until /healthz answers; fail with the server's output if it exits first.

        It returns on the first healthy answer; ``timeout`` only ends the wait for a hung server.
        A start with the managed stack (migrations, Prometheus, Alertmanager) under coverage took
        more than 60 s with two busy loops on two cores, hence the generous default."""
        import time

        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"leitstand up exited with {self.process.returncode}: {self.stderr()}"
                )
            try:
                # A test's self-signed certificate: readiness only, no trust decision here.
                answer = httpx.get(f"{self.url}/healthz", timeout=1.0, verify=False)  # noqa: S501
                if answer.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"leitstand up did not become ready: {self.stderr()}")

    def stdout(self) -> str:
        return self.stdout_path.read_text()

    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def token(self) -> str | None:
        """The first devops user's token, if this start printed one."""
        import re

        match = re.search(r"\b(lst_[A-Za-z0-9_-]{20,})", self.stdout())
        return match.group(1) if match else None

    def stop(self, timeout: float = 20.0) -> int:
        """Stop by PID (SIGTERM, then SIGKILL) and return the exit code."""
        import signal
        import subprocess

        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
        self._stdout.close()
        self._stderr.close()
        return int(self.process.returncode)
