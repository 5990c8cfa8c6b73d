"""C2SP tlog-cosignature/v1 (Ed25519): witness keys, cosigning and checking cosignatures.

A cosignature is a signed-note signature line ``— <name> base64(key ID || u64 timestamp ||
Ed25519 signature)`` over the message ``cosignature/v1\\ntime <timestamp>\\n<checkpoint body>``
(https://c2sp.org/tlog-cosignature). The key ID is SHA-256(name || 0x0A || 0x04 || public
key)[:4]; the verifier key reads ``<name>+<key ID hex>+<base64(0x04 || public key)>``.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from leitstand.errors import ConfigError
from leitstand.ledger.checkpoint import CheckpointError, VerifierKey
from leitstand.policy.vkeys import ALG_COSIGNATURE_V1, b64decode_strict, parse_witness_key
from leitstand.policy.vkeys import parse_any_key as parse_any_vkey

__all__ = [
    "ALG_COSIGNATURE_V1",
    "Cosignature",
    "CosignerKey",
    "cosign",
    "cosigned_message",
    "parse_any_key",
    "signature_lines",
]

_SIG_PREFIX = "\u2014 "
_MAX_TIMESTAMP = 2**63 - 1


_b64 = b64decode_strict


def cosigned_message(body: str, timestamp: int) -> bytes:
    """The bytes an Ed25519 cosigner signs for checkpoint ``body`` at ``timestamp``."""
    return f"cosignature/v1\ntime {timestamp}\n{body}".encode()


@dataclass(frozen=True, slots=True)
class Cosignature:
    """A verified cosignature: who, when (POSIX seconds) and the signature line itself."""

    name: str
    key_id: int
    timestamp: int
    line: str


@dataclass(frozen=True, slots=True)
class CosignerKey:
    """A witness's cosigning key: name and raw 32-byte Ed25519 public key (vkey type 0x04)."""

    name: str
    public_key: bytes
    _key: Ed25519PublicKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.name or "+" in self.name or any(ch.isspace() for ch in self.name):
            raise ConfigError(f"witness key name {self.name!r}: must be non-empty, no spaces or +")
        if len(self.public_key) != 32:
            raise ConfigError(f"witness key {self.name}: Ed25519 public keys are 32 bytes")
        object.__setattr__(self, "_key", Ed25519PublicKey.from_public_bytes(self.public_key))

    @classmethod
    def for_private_key(cls, name: str, private_key: Ed25519PrivateKey) -> CosignerKey:
        """The cosigner key of ``private_key`` under ``name``."""
        return cls(name, private_key.public_key().public_bytes_raw())

    @classmethod
    def parse(cls, text: str) -> CosignerKey:
        """Parse ``<name>+<key ID hex>+<base64(0x04 || key)>``; raise ConfigError if malformed."""
        return cls(*parse_witness_key(text))

    @property
    def key_id(self) -> int:
        """SHA-256(name || 0x0A || 0x04 || public key)[:4] as an integer."""
        digest = hashlib.sha256(
            self.name.encode() + b"\n" + bytes([ALG_COSIGNATURE_V1]) + self.public_key
        )
        return int.from_bytes(digest.digest()[:4], "big")

    def format(self) -> str:
        """The vkey text ``<name>+<key ID hex>+<base64(0x04 || key)>``."""
        encoded = base64.b64encode(bytes([ALG_COSIGNATURE_V1]) + self.public_key).decode()
        return f"{self.name}+{self.key_id:08x}+{encoded}"

    def find(self, body: str, lines: list[str]) -> Cosignature | None:
        """Return this key's valid cosignature of ``body`` among signature ``lines``, if any.

        A line with this key's name and ID whose signature does not verify raises
        CheckpointError: it claims to be this witness and is forged or damaged.
        """
        for line in lines:
            name, _, encoded = line.removeprefix(_SIG_PREFIX).partition(" ")
            raw = _b64(encoded)
            if name != self.name or raw is None or len(raw) != 4 + 8 + 64:
                continue
            if int.from_bytes(raw[:4], "big") != self.key_id:
                continue
            timestamp = int.from_bytes(raw[4:12], "big")
            try:
                if timestamp > _MAX_TIMESTAMP:
                    raise InvalidSignature
                self._key.verify(raw[12:], cosigned_message(body, timestamp))
            except InvalidSignature:
                raise CheckpointError(
                    f"invalid cosignature by witness {self.name}+{self.key_id:08x}"
                ) from None
            return Cosignature(self.name, self.key_id, timestamp, line)
        return None


def cosign(body: str, *, name: str, private_key: Ed25519PrivateKey, timestamp: int) -> str:
    """Return the cosignature/v1 signature line (with newline) of checkpoint ``body``."""
    if not 0 < timestamp <= _MAX_TIMESTAMP:
        raise ValueError(f"cosignature timestamp must be in (0, 2**63) (got {timestamp})")
    key = CosignerKey.for_private_key(name, private_key)
    signature = private_key.sign(cosigned_message(body, timestamp))
    raw = key.key_id.to_bytes(4, "big") + timestamp.to_bytes(8, "big") + signature
    return f"{_SIG_PREFIX}{name} {base64.b64encode(raw).decode()}\n"


def signature_lines(note: str) -> tuple[str, list[str]]:
    """Split a signed note into its body and its signature lines (without newlines)."""
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise CheckpointError("malformed note: no blank line before the signatures")
    lines = note[split + 2 : -1].split("\n")
    if not all(line.startswith(_SIG_PREFIX) for line in lines):
        raise CheckpointError("malformed note: a signature line does not start with an em dash")
    return note[: split + 1], lines


def parse_any_key(text: str) -> VerifierKey | CosignerKey:
    """Parse a log key (type 0x01) or a witness key (type 0x04), for pins and policy lists."""
    alg, name, public_key = parse_any_vkey(text)
    if alg == ALG_COSIGNATURE_V1:
        return CosignerKey(name, public_key)
    return VerifierKey(name, public_key)
