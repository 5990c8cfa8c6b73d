"""The ledger's signing identity: origin name plus Ed25519 key, producing checkpoint notes."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from leitstand.ledger.checkpoint import Checkpoint, VerifierKey, sign_checkpoint

__all__ = ["LedgerSigner"]


class LedgerSigner:
    """Signs tree heads as C2SP checkpoints under the ledger's origin name."""

    def __init__(self, *, origin: str, private_key: Ed25519PrivateKey) -> None:
        self.origin = origin
        self._private_key = private_key
        self.verifier = VerifierKey.from_public_key(origin, private_key.public_key())

    def sign(self, size: int, root: bytes) -> str:
        """Return the signed checkpoint note for a tree of ``size`` with ``root``."""
        return sign_checkpoint(
            Checkpoint(self.origin, size, root), name=self.origin, private_key=self._private_key
        )
