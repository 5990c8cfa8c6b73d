"""Talking to C2SP tlog-witnesses: submit checkpoints, read their latest cosigned checkpoint."""

from __future__ import annotations

import base64
import http.client
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from leitstand.errors import LeitstandError
from leitstand.ledger.checkpoint import Checkpoint, CheckpointError, VerifierKey, open_note
from leitstand.ledger.cosign import Cosignature, CosignerKey, signature_lines
from leitstand.ledger.witness_server import origin_hash

__all__ = ["AddResult", "Latest", "RemoteWitness", "WitnessUnreachable"]


class WitnessUnreachable(Exception):
    """The witness did not answer (connection refused, timeout, broken response)."""


@dataclass(frozen=True, slots=True)
class AddResult:
    """The answer to add-checkpoint: a cosignature, the witness's size (409), or a refusal."""

    status: int
    cosignature: Cosignature | None = None
    witness_size: int | None = None
    message: str = ""


@dataclass(frozen=True, slots=True)
class Latest:
    """A witness's latest cosigned checkpoint, verified against the log and witness keys."""

    checkpoint: Checkpoint
    cosignature: Cosignature
    note: str


class RemoteWitness:
    """One configured witness: name, base URL and cosigning key; one keep-alive connection."""

    def __init__(self, name: str, url: str, key: CosignerKey, *, timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"witness {name}: URL must be http(s)://host[:port][/prefix]")
        self.name = name
        self.url = url.rstrip("/")
        self.key = key
        self.timeout = timeout
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self._conn: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = cls(self._host, self._port, timeout=self.timeout)
        return self._conn

    def _request(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        with self._lock:
            for attempt in (1, 2):  # a stale keep-alive connection gets one fresh retry
                conn = self._connection()
                try:
                    headers = {"Content-Type": "text/plain"} if body is not None else {}
                    conn.request(method, self._prefix + path, body=body, headers=headers)
                    response = conn.getresponse()
                    data = response.read(1 << 20)
                    if response.getheader("Connection", "").lower() == "close":
                        self.close()
                    return response.status, data
                except (OSError, http.client.HTTPException) as exc:
                    self.close()
                    if attempt == 2 or isinstance(exc, TimeoutError):
                        raise WitnessUnreachable(
                            f"witness {self.name} ({self.url}): {exc}"
                        ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        """Drop the keep-alive connection."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def add_checkpoint(self, old_size: int, proof: Sequence[bytes], note: str) -> AddResult:
        """Submit ``note`` with a consistency proof from ``old_size``; verify the cosignature."""
        lines = [f"old {old_size}", *(base64.b64encode(h).decode() for h in proof)]
        body = ("\n".join(lines) + "\n\n" + note).encode("utf-8")
        status, data = self._request("POST", "/add-checkpoint", body)
        text = data.decode("utf-8", "replace")
        if status == 409:
            first = text.strip().split("\n", 1)[0]
            return AddResult(409, witness_size=int(first) if first.isdigit() else None)
        if status != 200:
            return AddResult(status, message=text.strip()[:300])
        cp_body, _ = signature_lines(note)
        found = None
        try:
            found = self.key.find(cp_body, [ln for ln in text.split("\n") if ln])
        except LeitstandError as exc:
            return AddResult(502, message=str(exc))
        if found is None:
            return AddResult(502, message="the answer holds no cosignature by the configured key")
        return AddResult(200, cosignature=found)

    def latest(self, origin: str, log_key: VerifierKey) -> Latest | None:
        """The witness's latest cosigned checkpoint of ``origin``; None if it has none (404).

        Raises WitnessUnreachable, or CheckpointError when the answer does not verify.
        """
        status, data = self._request("GET", f"/{origin_hash(origin)}/checkpoint", None)
        if status == 404:
            return None
        if status != 200:
            raise WitnessUnreachable(f"witness {self.name} ({self.url}): HTTP {status}")
        note = data.decode("utf-8", "replace")
        body, lines = signature_lines(note)
        checkpoint = Checkpoint.parse(open_note(note, log_key))
        cosignature = self.key.find(body, lines)
        if cosignature is None:
            raise CheckpointError(
                f"witness {self.name}: its checkpoint carries no cosignature by its configured key"
            )
        return Latest(checkpoint=checkpoint, cosignature=cosignature, note=note)
