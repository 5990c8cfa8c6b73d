"""The in-process flag client: evaluate locally from a snapshot that polling keeps fresh.

The client fetches ``GET /api/v1/flags/snapshot`` with a token and ``If-None-Match`` (a 304 costs
nothing), evaluates with the same code as the server (``leitstand.flags.evaluation``), and keeps
the last good snapshot whenever leitstand is unreachable or answers with an error. With
``cache_file`` the last good snapshot also survives a restart of the application.

    client = FlagClient("http://127.0.0.1:8080", token=..., environment="production")
    client.start()
    client.resolve("new-billing", {"tenantId": "acme", "targetingKey": "u1"})
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from enum import StrEnum
from pathlib import Path
from types import TracebackType

import httpx
from pydantic import ValidationError as PydanticError

from leitstand.flags.evaluation import ErrorCode, Reason, Resolution, Snapshot
from leitstand.flags.model import ValueType
from leitstand.flags.schemas import SnapshotSchema

__all__ = ["ClientStatus", "FlagClient"]


class ClientStatus(StrEnum):
    """Where the client's snapshot stands (mirrors OpenFeature's provider status)."""

    NOT_READY = "NOT_READY"  # no snapshot yet
    READY = "READY"  # the last fetch succeeded
    STALE = "STALE"  # serving the last good snapshot; leitstand unreachable
    ERROR = "ERROR"  # leitstand refuses us (token, environment): still serving the last snapshot


SnapshotListener = Callable[[Snapshot | None, Snapshot], None]
StatusListener = Callable[[ClientStatus, str | None], None]

_NOT_READY = Resolution(
    None,
    None,
    Reason.ERROR,
    ErrorCode.PROVIDER_NOT_READY,
    "no flag snapshot yet: leitstand has not been reached and no cached snapshot exists",
)


class FlagClient:
    """Keep a local snapshot of one environment's flags and evaluate against it."""

    def __init__(
        self,
        url: str,
        *,
        token: str,
        environment: str,
        poll_interval: float = 10.0,
        max_backoff: float = 60.0,
        timeout: float = 3.0,
        cache_file: Path | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.environment = environment
        self.poll_interval = poll_interval
        self.max_backoff = max(max_backoff, poll_interval)
        self.cache_file = cache_file
        self._http = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
        )
        self._snapshot: Snapshot | None = None
        self._status = ClientStatus.NOT_READY
        self.last_error: str | None = None
        self.last_success: float | None = None  # time.monotonic() of the last good answer
        self.fetches = 0
        self.not_modified = 0
        self._failures = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._refresh_lock = threading.Lock()
        self._snapshot_listeners: list[SnapshotListener] = []
        self._status_listeners: list[StatusListener] = []

    # -- state -----------------------------------------------------------------------------------

    @property
    def snapshot(self) -> Snapshot | None:
        return self._snapshot

    @property
    def status(self) -> ClientStatus:
        return self._status

    def on_snapshot(self, listener: SnapshotListener) -> None:
        """Call ``listener(old, new)`` whenever a new snapshot is installed."""
        self._snapshot_listeners.append(listener)

    def on_status(self, listener: StatusListener) -> None:
        """Call ``listener(status, message)`` whenever the status changes."""
        self._status_listeners.append(listener)

    def _set_status(self, status: ClientStatus, message: str | None) -> None:
        if status is self._status:
            return
        self._status = status
        for listener in list(self._status_listeners):
            with contextlib.suppress(Exception):  # a listener never breaks the poller
                listener(status, message)

    def _install(self, snapshot: Snapshot, *, persist: bool) -> None:
        old, self._snapshot = self._snapshot, snapshot
        if persist:
            self._save_cache(snapshot)
        for listener in list(self._snapshot_listeners):
            with contextlib.suppress(Exception):
                listener(old, snapshot)

    # -- evaluating ------------------------------------------------------------------------------

    def resolve(
        self, key: str, context: Mapping[str, object], *, expected: ValueType | None = None
    ) -> Resolution:
        """Evaluate ``key`` locally; PROVIDER_NOT_READY until a snapshot exists."""
        snapshot = self._snapshot
        if snapshot is None:
            return _NOT_READY
        return snapshot.resolve(key, context, expected=expected)

    # -- fetching --------------------------------------------------------------------------------

    def refresh(self) -> bool:
        """Fetch once; True when a new snapshot was installed. Never raises for network trouble."""
        with self._refresh_lock:
            return self._refresh()

    def _refresh(self) -> bool:
        current = self._snapshot
        headers = {"If-None-Match": current.etag} if current is not None and current.etag else {}
        self.fetches += 1
        try:
            response = self._http.get(
                "/api/v1/flags/snapshot", params={"environment": self.environment}, headers=headers
            )
        except httpx.HTTPError as exc:
            return self._failed(ClientStatus.STALE, f"leitstand unreachable: {exc}")
        if response.status_code == 304:
            self.not_modified += 1
            return self._succeeded(None)
        if response.status_code in (401, 403, 404, 422):
            return self._failed(
                ClientStatus.ERROR, f"leitstand refused the snapshot: {_detail(response)}"
            )
        if response.status_code != 200:
            return self._failed(ClientStatus.STALE, f"leitstand answered {_detail(response)}")
        try:
            schema = SnapshotSchema.model_validate_json(response.content)
        except PydanticError as exc:
            return self._failed(ClientStatus.STALE, f"unreadable snapshot: {exc.errors()[:1]}")
        etag = response.headers.get("etag", "")
        return self._succeeded(schema.to_model(etag))

    def _succeeded(self, snapshot: Snapshot | None) -> bool:
        self._failures = 0
        self.last_error = None
        self.last_success = time.monotonic()
        if snapshot is not None:
            self._install(snapshot, persist=True)
        self._set_status(ClientStatus.READY, None)
        return snapshot is not None

    def _failed(self, status: ClientStatus, message: str) -> bool:
        self._failures += 1
        self.last_error = message
        if self._snapshot is None and status is ClientStatus.STALE:
            status = ClientStatus.NOT_READY
        self._set_status(status, message)
        return False

    # -- cache file ------------------------------------------------------------------------------

    def _save_cache(self, snapshot: Snapshot) -> None:
        if self.cache_file is None:
            return
        from leitstand.flags.schemas import FlagConfigSchema

        document = {
            "etag": snapshot.etag,
            "snapshot": {
                "environment": snapshot.environment,
                "generated_at": snapshot.generated_at.isoformat()
                if snapshot.generated_at
                else "1970-01-01T00:00:00Z",
                "flags": [
                    FlagConfigSchema.of(f).model_dump(mode="json") for f in snapshot.flags.values()
                ],
                "archived": sorted(snapshot.archived),
            },
        }
        directory = self.cache_file.parent
        with contextlib.suppress(OSError):  # a full disk must not stop evaluations
            directory.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=directory, prefix=".flags-", suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    json.dump(document, handle)
                Path(name).replace(self.cache_file)
            except OSError:
                Path(name).unlink(missing_ok=True)
                raise

    def load_cache(self) -> bool:
        """Install the cached snapshot if there is one and none is loaded yet."""
        if self.cache_file is None or self._snapshot is not None:
            return False
        try:
            document = json.loads(self.cache_file.read_text(encoding="utf-8"))
            schema = SnapshotSchema.model_validate(document["snapshot"])
        except (OSError, ValueError, KeyError, TypeError, PydanticError):
            return False
        if schema.environment != self.environment:
            return False
        self._install(schema.to_model(str(document.get("etag", ""))), persist=False)
        self._set_status(ClientStatus.STALE, "serving the cached snapshot")
        return True

    # -- polling ---------------------------------------------------------------------------------

    def start(self, *, background: bool = True) -> bool:
        """Fetch the first snapshot (or load the cache), then poll in a daemon thread.

        Returns whether a snapshot is available.
        """
        if not self.refresh():
            self.load_cache()
        if background and self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._poll, name=f"leitstand-flags-{self.environment}", daemon=True
            )
            self._thread.start()
        return self._snapshot is not None

    def _delay(self) -> float:
        if self._failures == 0:
            base = self.poll_interval
        else:
            base = min(self.poll_interval * 2 ** min(self._failures - 1, 10), self.max_backoff)
        # Jitter spreads the polls of many application instances.
        return base * random.uniform(0.9, 1.1)  # noqa: S311 - not a security use

    def _poll(self) -> None:
        while not self._stop.wait(self._delay()):
            self.refresh()

    def close(self) -> None:
        """Stop polling and close the HTTP connection pool."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._http.timeout.read or 5.0)
            self._thread = None
        self._http.close()

    def __enter__(self) -> FlagClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _detail(response: httpx.Response) -> str:
    try:
        message = response.json().get("error")
    except (ValueError, AttributeError):
        message = None
    return f"{response.status_code}" + (f" ({message})" if message else "")
