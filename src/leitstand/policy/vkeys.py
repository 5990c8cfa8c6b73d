"""The text of signed-note verifier keys (vkeys), parsed and checked (pure: no crypto, no I/O).

A vkey reads ``<name>+<key ID hex>+<base64(type || public key)>`` (https://c2sp.org/signed-note):
type 0x01 is a log's Ed25519 note key, type 0x04 a witness's Ed25519 cosignature/v1 key
(https://c2sp.org/tlog-cosignature). The key ID is SHA-256(name || 0x0A || type || key)[:4].
The policy validates the keys it lists with these functions; the ledger builds its verifier and
cosigner keys from what they return.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

from leitstand.errors import ConfigError

__all__ = [
    "ALG_COSIGNATURE_V1",
    "ALG_ED25519",
    "b64decode_strict",
    "parse_any_key",
    "parse_log_key",
    "parse_witness_key",
    "valid_key_name",
    "vkey_id",
]

ALG_ED25519 = 0x01
ALG_COSIGNATURE_V1 = 0x04
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")  # ASCII controls other than newline
_KEY_ID = re.compile(r"[0-9a-fA-F]{8}")


def b64decode_strict(text: str) -> bytes | None:
    """Strict standard base64 (alphabet, padding, canonical form), or None."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if base64.b64encode(raw).decode("ascii") == text else None


def valid_key_name(name: str) -> bool:
    """Non-empty, no ``+``, no white space and no control characters."""
    return (
        bool(name)
        and "+" not in name
        and not any(ch.isspace() for ch in name)
        and not _CONTROL.search(name)
    )


def vkey_id(name: str, alg: int, public_key: bytes) -> int:
    """SHA-256(name || 0x0A || alg || public key)[:4] as an integer."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([alg]) + public_key)
    return int.from_bytes(digest.digest()[:4], "big")


def _split(text: str) -> tuple[str, str, bytes | None]:
    name, _, rest = text.strip().partition("+")
    id_hex, _, key_b64 = rest.partition("+")
    return name, id_hex, b64decode_strict(key_b64)


def parse_log_key(text: str) -> tuple[str, bytes]:
    """Name and 32-byte public key of a log verifier key (type 0x01); ConfigError if malformed."""
    name, id_hex, raw = _split(text)
    if not (valid_key_name(name) and _KEY_ID.fullmatch(id_hex) and raw):
        raise ConfigError("verifier key: expected <name>+<8 hex digits>+<base64 key>")
    if raw[0] != ALG_ED25519 or len(raw) != 33:
        raise ConfigError(f"verifier key {name}: not an Ed25519 key (type 0x01, 32 bytes)")
    if int(id_hex, 16) != vkey_id(name, ALG_ED25519, raw[1:]):
        raise ConfigError(f"verifier key {name}: key ID {id_hex} does not match the key")
    return name, raw[1:]


def parse_witness_key(text: str) -> tuple[str, bytes]:
    """Name and 32-byte public key of a witness key (type 0x04); ConfigError if malformed."""
    name, id_hex, raw = _split(text)
    if not (name and _KEY_ID.fullmatch(id_hex) and raw):
        raise ConfigError("witness key: expected <name>+<8 hex digits>+<base64 key>")
    if raw[0] != ALG_COSIGNATURE_V1 or len(raw) != 33:
        raise ConfigError(
            f"witness key {name}: not an Ed25519 cosignature/v1 key (type 0x04, 32 bytes)"
        )
    if any(ch.isspace() for ch in name):
        raise ConfigError(f"witness key name {name!r}: must be non-empty, no spaces or +")
    if int(id_hex, 16) != vkey_id(name, ALG_COSIGNATURE_V1, raw[1:]):
        raise ConfigError(f"witness key {name}: key ID {id_hex} does not match the key")
    return name, raw[1:]


def parse_any_key(text: str) -> tuple[int, str, bytes]:
    """Type, name and public key of a log key (0x01) or a witness key (0x04)."""
    raw = _split(text)[2]
    if raw and raw[0] == ALG_COSIGNATURE_V1:
        return (ALG_COSIGNATURE_V1, *parse_witness_key(text))
    return (ALG_ED25519, *parse_log_key(text))
