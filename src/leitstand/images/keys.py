"""The image signing key and the keys whose image attestations verify.

The policy says where the key is (``gates.containers.signing.key``: ``file:path``, relative to
the leitstand home, or ``env:NAME``) and which other public keys are trusted
(``gates.containers.signing.trusted_keys``, PEM). The key is an Ed25519 PKCS#8 PEM key, read
and made as the ledger reads and makes its checkpoint key (``leitstand.ledger.checkpoint``: an
owner-only file, mode 0600, one-line errors); it is a key of its own, never the ledger's.
Errors name the place of a key, never its content.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from leitstand.errors import ConfigError, ConflictError
from leitstand.images.attest import key_id
from leitstand.ledger.checkpoint import load_or_create_signing_key, load_signing_key
from leitstand.policy.gates import ImageSigning

__all__ = [
    "KEY_FIELD",
    "create_signing_key",
    "key_file",
    "load_signing_key_of",
    "own_public_key",
    "public_pem",
    "trusted_keys",
]

#: The policy field that says where the signing key is (named in every key error).
KEY_FIELD = "gates.containers.signing.key"
_KEYGEN_HINT = "run `leitstand image keygen` to make it"


def key_file(signing: ImageSigning, home: Path) -> Path | None:
    """The signing key's file (a relative path is below ``home``); None for ``env:NAME``."""
    kind, _, where = signing.key.partition(":")
    if kind != "file":
        return None
    path = Path(where).expanduser()
    return path if path.is_absolute() else (home / path).resolve()


def _from_env(name: str) -> Ed25519PrivateKey | None:
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    try:
        key = serialization.load_pem_private_key(text.encode("utf-8"), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ConfigError(
            f"{KEY_FIELD}: environment variable {name} holds no unencrypted PEM PKCS#8 key"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{KEY_FIELD}: environment variable {name} holds no Ed25519 key")
    return key


def load_signing_key_of(signing: ImageSigning, home: Path) -> Ed25519PrivateKey:
    """The policy's signing key; a missing or unusable key is a one-line ConfigError (exit 2)."""
    path = key_file(signing, home)
    if path is None:
        name = signing.key.partition(":")[2]
        key = _from_env(name)
        if key is None:
            raise ConfigError(f"{KEY_FIELD}: environment variable {name} is not set")
        return key
    if not path.exists() and not path.is_symlink():
        raise ConfigError(f"{KEY_FIELD}: key file {path} does not exist: {_KEYGEN_HINT}")
    return load_signing_key(path)


def own_public_key(signing: ImageSigning, home: Path) -> Ed25519PublicKey | None:
    """The public half of the policy's signing key; None where this machine has no such key
    (a verifier elsewhere). A key that is there but unusable is a ConfigError."""
    path = key_file(signing, home)
    if path is None:
        key = _from_env(signing.key.partition(":")[2])
        return None if key is None else key.public_key()
    if not path.exists() and not path.is_symlink():
        return None
    return load_signing_key(path).public_key()


def trusted_keys(
    signing: ImageSigning,
    home: Path,
    *,
    on_unusable_own_key: Callable[[str], None] | None = None,
) -> list[Ed25519PublicKey]:
    """The keys ``image verify`` accepts without ``--key``: the policy's trusted keys and the
    own key's public half, each once.

    An own key that is there but cannot be loaded (mode 0644, say) is a ConfigError, unless
    ``on_unusable_own_key`` is given: then it is told the one-line reason and the key is
    skipped (a verifier needs only the public keys it trusts).
    """
    keys: dict[str, Ed25519PublicKey] = {}
    for pem in signing.trusted_keys:
        # The policy checked the PEM's shape; a key the library still refuses is a config error.
        try:
            key = serialization.load_pem_public_key(pem.encode("ascii"))
        except (ValueError, UnsupportedAlgorithm):
            raise ConfigError(
                "gates.containers.signing.trusted_keys: a key does not load"
            ) from None
        if isinstance(key, Ed25519PublicKey):
            keys.setdefault(key_id(key), key)
    try:
        own = own_public_key(signing, home)
    except ConfigError as exc:
        if on_unusable_own_key is None:
            raise
        on_unusable_own_key(str(exc))
        own = None
    if own is not None:
        keys.setdefault(key_id(own), own)
    return list(keys.values())


def create_signing_key(path: Path) -> Ed25519PrivateKey:
    """Make a new signing key at ``path`` (mode 0600, PKCS#8 PEM, folder 0700) as the ledger
    makes its own; an existing file is never replaced (ConflictError, exit 2)."""
    if path.exists() or path.is_symlink():
        raise ConflictError(f"{path} already exists: a signing key is never overwritten")
    return load_or_create_signing_key(path)


def public_pem(key: Ed25519PublicKey) -> str:
    """The PEM public key, as ``gates.containers.signing.trusted_keys`` takes it."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")
