"""C2SP tlog-checkpoints in C2SP signed notes (Ed25519), and the signing key file.

A checkpoint body is ``<origin>\\n<size>\\n<base64 root>\\n`` plus optional extension lines
(https://c2sp.org/tlog-checkpoint). A signed note appends a blank line and signature lines
``— <name> <base64(key ID || signature)>`` (https://c2sp.org/signed-note, the format of
golang.org/x/mod/sumdb/note). Verifier keys read ``<name>+<key ID hex>+<base64(0x01 || key)>``.

Errors: a bad note or signature raises ``CheckpointError`` (exit code 1: evidence failed
verification); a bad verifier key, key name or key file raises ``ConfigError`` (exit code 2).
The key file must be mode 0600 or stricter: a group- or world-accessible key is refused with a
ConfigError telling the operator to ``chmod 600`` it, because anyone who can read it can forge
checkpoints for the whole ledger.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from leitstand.errors import ConfigError, LeitstandError
from leitstand.policy.vkeys import (
    ALG_ED25519,
    b64decode_strict,
    parse_log_key,
    valid_key_name,
    vkey_id,
)

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "VerifierKey",
    "key_id",
    "load_or_create_signing_key",
    "load_signing_key",
    "open_checkpoint",
    "open_note",
    "sign_checkpoint",
    "sign_note",
]

_ALG_ED25519 = ALG_ED25519
_SIG_PREFIX = "\u2014 "  # em dash, space
_MAX_SIGNATURES = 100  # the spec asks verifiers to cap signatures and accept at least 16
_MAX_KEY_FILE_BYTES = 64 * 1024
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")  # ASCII controls other than newline
_SIZE = re.compile(r"0|[1-9][0-9]*", re.ASCII)


class CheckpointError(LeitstandError):
    """A checkpoint or signed note is malformed, lacks the expected signature, or fails to verify.

    Exit code 1 (not 2): the input was well-addressed, but the evidence did not verify.
    """

    exit_code = 1
    http_status = 422


# Strict standard base64 (alphabet, padding and canonical form), so one value has one text.
_b64decode = b64decode_strict
_valid_name = valid_key_name


def key_id(name: str, public_key: bytes) -> int:
    """Return the C2SP Ed25519 key ID: SHA-256(name || 0x0A || 0x01 || public key)[:4]."""
    return vkey_id(name, _ALG_ED25519, public_key)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A tree head: log origin, tree size, RFC 9162 root hash and opaque extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin or _CONTROL.search(self.origin):
            raise CheckpointError("checkpoint origin must be one non-empty line")
        if not 0 <= self.size < 2**64:
            raise CheckpointError(f"checkpoint size must be in [0, 2**64) (got {self.size})")
        if len(self.root_hash) != 32:
            raise CheckpointError(
                f"checkpoint root hash must be 32 bytes (got {len(self.root_hash)})"
            )
        for line in self.extensions:
            if not line or "\n" in line or _CONTROL.search(line):
                raise CheckpointError("checkpoint extension lines must be non-empty single lines")

    def body(self) -> str:
        """Return the note text: origin, size, base64 root and extensions, newline-terminated."""
        root = base64.b64encode(self.root_hash).decode("ascii")
        return "".join(
            f"{line}\n" for line in (self.origin, str(self.size), root, *self.extensions)
        )

    @classmethod
    def parse(cls, body: str) -> Checkpoint:
        """Parse a checkpoint note text; raise CheckpointError if it is malformed."""
        if not body.endswith("\n"):
            raise CheckpointError("malformed checkpoint: the text must end with a newline")
        lines = body[:-1].split("\n")
        if len(lines) < 3 or not all(lines):
            raise CheckpointError("malformed checkpoint: expected at least 3 non-empty lines")
        origin, size_text, root_text, *extensions = lines
        if not _SIZE.fullmatch(size_text):
            raise CheckpointError(f"malformed checkpoint: size {size_text!r} is not a decimal")
        root = _b64decode(root_text)
        if root is None or len(root) != 32:
            raise CheckpointError("malformed checkpoint: root is not a base64 32-byte hash")
        return cls(origin, int(size_text), root, tuple(extensions))


@dataclass(frozen=True, slots=True)
class VerifierKey:
    """A note verifier: key name and raw 32-byte Ed25519 public key."""

    name: str
    public_key: bytes
    _key: Ed25519PublicKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not _valid_name(self.name):
            raise ConfigError(f"verifier key name {self.name!r}: must be non-empty, no spaces or +")
        if len(self.public_key) != 32:
            raise ConfigError(f"verifier key {self.name}: Ed25519 public keys are 32 bytes")
        object.__setattr__(self, "_key", Ed25519PublicKey.from_public_bytes(self.public_key))

    @classmethod
    def from_public_key(cls, name: str, public_key: Ed25519PublicKey) -> VerifierKey:
        """Return the verifier for ``public_key`` under ``name``."""
        return cls(name, public_key.public_bytes_raw())

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        """Parse ``<name>+<key ID hex>+<base64(0x01 || key)>``; raise ConfigError if malformed."""
        return cls(*parse_log_key(text))

    @property
    def key_id(self) -> int:
        """The 32-bit key ID that signature lines carry."""
        return key_id(self.name, self.public_key)

    def format(self) -> str:
        """Return the verifier key string ``<name>+<key ID hex>+<base64(0x01 || key)>``."""
        encoded = base64.b64encode(bytes([_ALG_ED25519]) + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_id:08x}+{encoded}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Return whether ``signature`` is this key's Ed25519 signature over ``message``."""
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


def sign_note(text: str, *, name: str, private_key: Ed25519PrivateKey) -> str:
    """Return ``text`` as a signed note with one Ed25519 signature line by ``name``."""
    if not _valid_name(name):
        raise ConfigError(f"note key name {name!r}: must be non-empty, no spaces or +")
    if not text.endswith("\n") or _CONTROL.search(text):
        raise CheckpointError("note text must end with a newline and contain no control characters")
    kid = key_id(name, private_key.public_key().public_bytes_raw())
    signature = private_key.sign(text.encode("utf-8"))
    encoded = base64.b64encode(kid.to_bytes(4, "big") + signature).decode("ascii")
    return f"{text}\n{_SIG_PREFIX}{name} {encoded}\n"


def open_note(note: str | bytes, verifier: VerifierKey) -> str:
    """Return the text of a signed note once ``verifier``'s signature on it checks out."""
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError:
            raise CheckpointError("malformed note: not valid UTF-8") from None
    if _CONTROL.search(note):
        raise CheckpointError("malformed note: contains control characters")
    split = note.rfind("\n\n")
    if split < 0:
        raise CheckpointError("malformed note: no blank line before the signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block.endswith("\n"):
        raise CheckpointError("malformed note: the signature block must end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > _MAX_SIGNATURES:
        raise CheckpointError(f"malformed note: more than {_MAX_SIGNATURES} signatures")
    message = text.encode("utf-8")
    verified = False
    for line in lines:
        name, _, encoded = line.removeprefix(_SIG_PREFIX).partition(" ")
        raw = _b64decode(encoded)
        if not line.startswith(_SIG_PREFIX) or not _valid_name(name) or not raw or len(raw) < 5:
            raise CheckpointError(f"malformed note: bad signature line {line[:60]!r}")
        # Signatures by other keys are ignored (C2SP: key rotation, witness cosignatures).
        if name != verifier.name or int.from_bytes(raw[:4], "big") != verifier.key_id:
            continue
        if not verifier.verify(message, raw[4:]):
            raise CheckpointError(f"invalid signature for key {name}+{verifier.key_id:08x}")
        verified = True
    if not verified:
        raise CheckpointError(f"note has no signature by key {verifier.name}+{verifier.key_id:08x}")
    return text


def sign_checkpoint(cp: Checkpoint, *, name: str, private_key: Ed25519PrivateKey) -> str:
    """Return the checkpoint as a signed note (body, blank line, one signature line)."""
    return sign_note(cp.body(), name=name, private_key=private_key)


def open_checkpoint(
    note: str | bytes, verifier: VerifierKey, *, origin: str | None = None
) -> Checkpoint:
    """Verify a signed checkpoint note and return the checkpoint; raise CheckpointError if not."""
    cp = Checkpoint.parse(open_note(note, verifier))
    if origin is not None and cp.origin != origin:
        raise CheckpointError(f"checkpoint origin {cp.origin!r} is not the expected {origin!r}")
    return cp


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    """Load the Ed25519 PKCS#8 PEM key at ``path``; every problem is a one-line ConfigError."""
    where = f"signing key {path}"
    try:
        # O_NONBLOCK: a FIFO planted at the path must not hang startup; it fails the S_ISREG check.
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        raise ConfigError(f"{where}: file not found") from None
    except PermissionError:
        raise ConfigError(
            f"{where}: permission denied (leitstand must be able to read it)"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{where}: cannot open ({exc.strerror})") from None
    try:
        # fstat the opened file, not the path, so the checks apply to what is actually read.
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise ConfigError(f"{where}: not a regular file")
        if mode & 0o077:
            raise ConfigError(
                f"{where}: mode {stat.S_IMODE(mode):04o} lets group/others access it; "
                f"run: chmod 600 {path}"
            )
        data = _read_at_most(fd, _MAX_KEY_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read ({exc.strerror})") from None
    finally:
        os.close(fd)
    if len(data) > _MAX_KEY_FILE_BYTES:
        raise ConfigError(f"{where}: too large to be a key file")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise ConfigError(
            f"{where}: encrypted keys are not supported (use file mode 0600)"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise ConfigError(f"{where}: not a PEM-encoded PKCS#8 private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{where}: holds a {type(key).__name__}, expected an Ed25519 key")
    return key


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    remaining = limit
    while remaining > 0:
        chunk = os.read(fd, remaining)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def load_or_create_signing_key(path: Path) -> Ed25519PrivateKey:
    """Load the signing key at ``path``, first creating it (mode 0600, PKCS#8 PEM) if absent."""
    try:
        path.stat()
    except FileNotFoundError:
        _create_signing_key(path)
    except OSError:
        pass  # load_signing_key reports it as a one-line ConfigError
    return load_signing_key(path)


def _create_signing_key(path: Path) -> None:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Created 0600 (umask can only remove bits; fchmod pins it), so never readable by others.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            # A hard link publishes without clobbering: if another process created the key
            # first, both end up using that one instead of each signing with its own key.
            os.link(tmp, path)
        except FileExistsError:
            pass
        except OSError:
            tmp.replace(path)  # os.replace, for filesystems without hard links
        _fsync_directory(path.parent)
    except OSError as exc:
        raise ConfigError(f"signing key {path}: cannot create it ({exc.strerror})") from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def _fsync_directory(directory: Path) -> None:
    # Makes the new directory entry durable; a crash must not lose a key already used to sign.
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
