"""A C2SP tlog-witness (https://c2sp.org/tlog-witness): ``leitstand witness serve``.

The witness keeps, per log origin, the latest checkpoint it cosigned, in its own home folder with
its own Ed25519 key: nothing the ledger's database or home folder holds. ``POST /add-checkpoint``
cosigns a checkpoint only when the log's trusted key signed it and a consistency proof links it
to the last one cosigned; ``GET /<sha256(origin) hex>/checkpoint`` serves that latest cosigned
checkpoint (the spec's monitoring read), which ``audit verify`` compares with the local tree.
Run it on another machine than leitstand: a witness the database's owner can rewrite stops nothing.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from leitstand.errors import ConfigError, LeitstandError
from leitstand.ledger.checkpoint import (
    Checkpoint,
    CheckpointError,
    VerifierKey,
    load_or_create_signing_key,
    open_note,
)
from leitstand.ledger.cosign import CosignerKey, cosign, signature_lines
from leitstand.ledger.merkle import EMPTY_ROOT, verify_consistency
from leitstand.ledger.witness import atomic_write

__all__ = ["MAX_BODY", "Response", "WitnessCore", "WitnessServer", "origin_hash"]

log = structlog.get_logger(__name__)
MAX_BODY = 64 * 1024
MAX_PROOF_LINES = 63
SIZE_TYPE = "text/x.tlog.size"
_SIZE = re.compile(r"0|[1-9][0-9]{0,19}", re.ASCII)
_B64_HASH = re.compile(r"[A-Za-z0-9+/]{43}=", re.ASCII)


def origin_hash(origin: str) -> str:
    """The monitoring path component: SHA-256 of the origin, lowercase hex."""
    return hashlib.sha256(origin.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Response:
    """An HTTP answer: status, content type and body."""

    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"


def _text(status: int, message: str) -> Response:
    return Response(status, (message + "\n").encode())


class WitnessCore:
    """The witness's state and rules, without HTTP (one instance per home folder)."""

    def __init__(self, home: Path, *, name: str, log_keys: list[VerifierKey]) -> None:
        self.home = home
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._private_key: Ed25519PrivateKey = load_or_create_signing_key(
            home / "witness-ed25519.pem"
        )
        self.key = CosignerKey.for_private_key(name, self._private_key)
        self.log_keys: dict[str, list[VerifierKey]] = {}
        for key in log_keys:
            self.log_keys.setdefault(key.name, []).append(key)
        self._lock = threading.Lock()
        self._state = StateLog(home / "state")

    @classmethod
    def open(
        cls, home: Path, *, name: str | None, log_keys: list[str], need_log_key: bool = True
    ) -> WitnessCore:
        """Open (or create) a witness home; log keys given now are remembered in it."""
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        name_file, keys_file = home / "name", home / "logs.vkey"
        stored_name = name_file.read_text("utf-8").strip() if name_file.exists() else None
        if name and stored_name and name != stored_name:
            raise ConfigError(
                f"witness home {home} belongs to witness {stored_name!r}, not {name!r}"
            )
        final = name or stored_name or "leitstand-witness"
        if stored_name is None:
            atomic_write(name_file, (final + "\n").encode(), mode=0o600)
        known = keys_file.read_text("utf-8").split() if keys_file.exists() else []
        merged = list(dict.fromkeys([*known, *(k.strip() for k in log_keys)]))
        keys = [VerifierKey.parse(text) for text in merged]
        if not keys and need_log_key:
            raise ConfigError(
                f"witness home {home}: no trusted log key; pass --log-key <ledger verifier key>"
            )
        if merged != known:
            atomic_write(keys_file, ("\n".join(merged) + "\n").encode(), mode=0o600)
        return cls(home, name=final, log_keys=keys)

    def latest(self, origin: str) -> str | None:
        """The latest cosigned checkpoint note of ``origin`` (log and witness signatures)."""
        return self.latest_by_hash(origin_hash(origin))

    def latest_by_hash(self, hexdigest: str) -> str | None:
        """The latest cosigned note for the origin whose SHA-256 hex is ``hexdigest``."""
        if not re.fullmatch(r"[0-9a-f]{64}", hexdigest):
            return None
        return self._state.latest(hexdigest)

    def add_checkpoint(self, body: bytes) -> Response:
        """Handle ``POST /add-checkpoint`` exactly as tlog-witness specifies."""
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return _text(400, "request body is not UTF-8")
        head, sep, note = text.partition("\n\n")
        if not sep:
            return _text(400, "expected an old size line, proof lines, an empty line, a checkpoint")
        lines = head.split("\n")
        old_text = lines[0].removeprefix("old ")
        if not lines[0].startswith("old ") or not _SIZE.fullmatch(old_text):
            return _text(400, "the first line must be 'old <decimal size>'")
        proof_lines = lines[1:]
        if len(proof_lines) > MAX_PROOF_LINES or not all(
            _B64_HASH.fullmatch(p) for p in proof_lines
        ):
            return _text(400, "at most 63 consistency proof lines, each one base64 hash")
        old = int(old_text)
        proof = [_b64hash(p) for p in proof_lines]
        try:
            cp_body, _ = signature_lines(note)
            checkpoint = Checkpoint.parse(cp_body)
        except CheckpointError as exc:
            return _text(400, str(exc))
        keys = self.log_keys.get(checkpoint.origin)
        if not keys:
            return _text(404, f"unknown log origin {checkpoint.origin!r}")
        if not any(_signed_by(note, key) for key in keys):
            return _text(403, "no valid signature by a trusted key of this log")
        if old > checkpoint.size:
            return _text(400, f"old size {old} is larger than the checkpoint size")
        with self._lock:  # check and persist atomically (the spec's rollback race)
            current_note = self.latest(checkpoint.origin)
            current = Checkpoint.parse(signature_lines(current_note)[0]) if current_note else None
            current_size = current.size if current else 0
            if old != current_size:
                return Response(409, f"{current_size}\n".encode(), SIZE_TYPE)
            if checkpoint.size == 0 and checkpoint.root_hash != EMPTY_ROOT:
                return _text(422, "a checkpoint of size 0 must have the empty tree's root")
            if old == 0:
                if proof:
                    return _text(422, "the proof must be empty when the old size is 0")
            elif current is None or not verify_consistency(
                old, checkpoint.size, current.root_hash, checkpoint.root_hash, proof
            ):
                return _text(422, f"consistency proof from size {old} does not verify")
            line = cosign(
                cp_body,
                name=self.key.name,
                private_key=self._private_key,
                timestamp=max(1, int(time.time())),
            )
            self._state.record(origin_hash(checkpoint.origin), note + line)
        log.info("witness_cosigned", origin=checkpoint.origin, size=checkpoint.size, old=old)
        return Response(200, line.encode("utf-8"))


class StateLog:
    """The latest cosigned checkpoint per origin: an append-only file per origin, fsynced.

    One line per cosigned checkpoint (base64 of the note): an append and one ``fdatasync``
    persist it before the answer (the spec requires that) at a fraction of the cost of a
    rewrite-and-rename. The newest complete line wins; a torn last line from a crash is
    ignored. A file past 1 MiB is compacted to its last record.
    """

    MAX_BYTES = 1 << 20

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._latest: dict[str, str | None] = {}

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.log"

    def latest(self, key: str) -> str | None:
        if key not in self._latest:
            self._latest[key] = self._read(self._path(key))
        return self._latest[key]

    @staticmethod
    def _read(path: Path) -> str | None:
        if not path.exists():
            return None
        for line in reversed(path.read_bytes().split(b"\n")):
            try:
                return base64.b64decode(line, validate=True).decode("utf-8") if line else None
            except (ValueError, UnicodeDecodeError):
                continue  # a torn record at the end
        return None

    def record(self, key: str, note: str) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self._path(key)
        new = not path.exists()
        line = base64.b64encode(note.encode("utf-8")) + b"\n"
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, line)
            os.fdatasync(fd)
            size = os.fstat(fd).st_size
        finally:
            os.close(fd)
        if new:
            _fsync_dir(self.directory)
        if size > self.MAX_BYTES:
            atomic_write(path, line, mode=0o600)
        self._latest[key] = note


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _b64hash(text: str) -> bytes:
    return base64.b64decode(text)


def _signed_by(note: str, key: VerifierKey) -> bool:
    try:
        open_note(note, key)
    except LeitstandError:
        return False
    return True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the spec recommends
    disable_nagle_algorithm = True  # headers and body go out at once: no delayed-ACK stalls
    server: WitnessServer

    def log_message(self, format: str, *args: object) -> None:
        return  # structlog records what matters; no stderr line per request

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    def do_POST(self) -> None:
        if self.path.rstrip("/") != "/add-checkpoint":
            self._send(_text(404, "not found"))
            return
        length_text = self.headers.get("Content-Length")
        if length_text is None or not length_text.isdigit():
            self.close_connection = True
            self._send(_text(411, "Content-Length is required"))
            return
        length = int(length_text)
        if length > MAX_BODY:
            self.close_connection = True  # the body is never read
            self._send(_text(413, f"request body larger than {MAX_BODY} bytes"))
            return
        body = self.rfile.read(length)
        try:
            response = self.server.core.add_checkpoint(body)
        except Exception:  # a bug must answer 500, not hang the client
            log.exception("witness_add_checkpoint_failed")
            response = _text(500, "internal error")
        self._send(response)

    def do_GET(self) -> None:
        parts = self.path.strip("/").split("/")
        if len(parts) == 2 and parts[1] == "checkpoint":
            note = self.server.core.latest_by_hash(parts[0])
            if note is None:
                self._send(_text(404, "this witness never cosigned a checkpoint of that log"))
            else:
                self._send(Response(200, note.encode("utf-8")))
            return
        if self.path == "/":
            self._send(_text(200, self.server.core.key.format()))
            return
        self._send(_text(404, "not found"))


class WitnessServer(ThreadingHTTPServer):
    """The HTTP front of a WitnessCore; ``port=0`` picks a free port (see ``url``)."""

    daemon_threads = True

    def __init__(self, core: WitnessCore, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.core = core
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> threading.Thread:
        """Serve in a daemon thread (tests, benchmarks); stop with ``shutdown()``."""
        thread = threading.Thread(target=self.serve_forever, name="witness", daemon=True)
        thread.start()
        return thread
