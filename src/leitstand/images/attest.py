"""Signed image attestations: an in-toto Statement v1 in a DSSE envelope, signed with Ed25519.

The statement (https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md)::

    {"_type": "https://in-toto.io/Statement/v1",
     "subject": [{"name": "<image name>", "digest": {"sha256": "<manifest digest hex>"}}],
     "predicateType": "https://leitstand.dev/attestations/image/v1",
     "predicate": {"sbom_digest": "sha256:<hex>", "gate_run_id": <int>, "built_at": "<RFC 3339>",
                   "service": "<the gate run's service>", "tag": "<the image's tag>"}}

It is the payload of a DSSE envelope (https://github.com/secure-systems-lab/dsse, protocol.md and
envelope.md) of type ``application/vnd.in-toto+json``. The signature is Ed25519 over
``PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`` (LEN: decimal byte
length, no leading zeros). ``keyid`` is the hex sha256 of the raw 32-byte public key; it is a
hint that picks the key to try, never a reason to trust a signature.

The envelope lives in the layout as ``attestations/<manifest digest hex>.dsse.json`` (compact
JSON, sorted keys, standard base64). The OCI image-layout spec names only ``oci-layout``,
``index.json`` and ``blobs/``; OCI tools ignore the extra directory. Verification accepts an
envelope only if a trusted key's signature verifies, the payload type is in-toto, the statement
is a Statement v1 of leitstand's predicate type, a subject's sha256 is the layout's manifest
digest and the predicate's tag is the tag index.json names (index.json itself is not signed).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from leitstand.clock import isoformat_utc
from leitstand.errors import ConfigError
from leitstand.images.oci import (
    ImageError,
    ImageRef,
    Problem,
    canonical_json,
    read_layout,
    read_regular,
)
from leitstand.images.verify import check_layout

__all__ = [
    "PAYLOAD_TYPE",
    "PREDICATE_TYPE",
    "STATEMENT_TYPE",
    "AttestationError",
    "Envelope",
    "ImagePredicate",
    "Signature",
    "Statement",
    "Verified",
    "attest_layout",
    "attestation_path",
    "attestations_dir",
    "key_id",
    "load_public_key",
    "pae",
    "sign_envelope",
    "verified_ref",
    "verify_attestation",
    "verify_envelope",
    "verify_image",
    "verify_signature",
]

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://leitstand.dev/attestations/image/v1"

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_HEX = re.compile(r"[0-9a-f]{64}")
_MAX_ENVELOPE_BYTES = 1024 * 1024
_MAX_SIGNATURES = 16
_MAX_KEY_FILE_BYTES = 64 * 1024


class AttestationError(ImageError):
    """An attestation is missing, malformed, or does not verify (exit code 1)."""


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding of ``payload_type`` (UTF-8) and ``payload``."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def key_id(public_key: Ed25519PublicKey) -> str:
    """The keyid leitstand writes: hex sha256 of the raw 32-byte Ed25519 public key."""
    return hashlib.sha256(public_key.public_bytes_raw()).hexdigest()


def load_public_key(path: Path) -> Ed25519PublicKey:
    """Load a trusted key: a PEM public key, or the public half of a PEM private key."""
    where = f"key {path}"
    try:
        with path.open("rb") as handle:
            data = handle.read(_MAX_KEY_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{where}: file not found") from None
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read ({exc.strerror})") from None
    if len(data) > _MAX_KEY_FILE_BYTES:
        raise ConfigError(f"{where}: too large to be a key file")
    key: object
    try:
        if b"PRIVATE KEY-----" in data:
            key = serialization.load_pem_private_key(data, password=None).public_key()
        else:
            key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ConfigError(f"{where}: not a PEM-encoded Ed25519 key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError(f"{where}: holds a {type(key).__name__}, expected an Ed25519 key")
    return key


def _b64decode(text: str) -> bytes | None:
    """Standard or URL-safe base64 (DSSE verifiers must accept both); None if malformed."""
    standard, urlsafe = any(c in text for c in "+/"), any(c in text for c in "-_")
    if standard and urlsafe:
        return None
    padded = text + "=" * (-len(text) % 4)
    try:
        return base64.b64decode(padded, altchars=b"-_" if urlsafe else None, validate=True)
    except (binascii.Error, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class ImagePredicate:
    """What leitstand attests about an image: its SBOM, the gate run that passed it (and the
    service that run checked), when. The statement adds the image's tag (``for_image``)."""

    sbom_digest: str
    gate_run_id: int
    built_at: datetime
    service: str | None = None

    def __post_init__(self) -> None:
        if not _DIGEST.fullmatch(self.sbom_digest):
            raise ValueError(f"sbom_digest must be sha256:<64 hex> (got {self.sbom_digest!r})")
        if isinstance(self.gate_run_id, bool) or self.gate_run_id < 1:
            raise ValueError(f"gate_run_id must be a positive integer (got {self.gate_run_id!r})")
        if self.built_at.tzinfo is None:
            raise ValueError("built_at must be timezone-aware")

    def as_dict(self) -> dict[str, Any]:
        return {
            "sbom_digest": self.sbom_digest,
            "gate_run_id": self.gate_run_id,
            "built_at": isoformat_utc(self.built_at),
            **({} if self.service is None else {"service": self.service}),
        }


@dataclass(frozen=True, slots=True)
class Statement:
    """An in-toto Statement v1 about one image: subject name and manifest digest, predicate."""

    subject_name: str
    manifest_digest: str
    predicate: dict[str, Any]
    predicate_type: str = PREDICATE_TYPE

    @classmethod
    def for_image(cls, ref: ImageRef, predicate: ImagePredicate) -> Statement:
        """The statement about ``ref``: its predicate carries the tag, so the tag is signed."""
        return cls(ref.name, ref.manifest.digest, {**predicate.as_dict(), "tag": ref.tag})

    def to_json(self) -> bytes:
        return canonical_json(
            {
                "_type": STATEMENT_TYPE,
                "subject": [
                    {
                        "name": self.subject_name,
                        "digest": {"sha256": self.manifest_digest.removeprefix("sha256:")},
                    }
                ],
                "predicateType": self.predicate_type,
                "predicate": self.predicate,
            }
        )


@dataclass(frozen=True, slots=True)
class Signature:
    """One DSSE signature: the (unauthenticated) keyid hint and the raw signature bytes."""

    keyid: str
    sig: bytes


@dataclass(frozen=True, slots=True)
class Envelope:
    """A DSSE envelope: payload type, payload bytes and the signatures over their PAE."""

    payload_type: str
    payload: bytes
    signatures: tuple[Signature, ...]

    def to_json(self) -> bytes:
        """The JSON envelope: compact, sorted keys, standard base64."""
        return canonical_json(
            {
                "payload": base64.b64encode(self.payload).decode("ascii"),
                "payloadType": self.payload_type,
                "signatures": [
                    {
                        **({"keyid": s.keyid} if s.keyid else {}),
                        "sig": base64.b64encode(s.sig).decode("ascii"),
                    }
                    for s in self.signatures
                ],
            }
        )

    @classmethod
    def parse(cls, data: bytes) -> Envelope:
        """Decode a JSON envelope; raise AttestationError if it is malformed."""
        if len(data) > _MAX_ENVELOPE_BYTES:
            raise AttestationError(f"envelope larger than {_MAX_ENVELOPE_BYTES} bytes")
        try:
            raw = json.loads(data)
        except RecursionError:
            raise AttestationError("envelope is not valid JSON (nested too deeply)") from None
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, too many digits
            raise AttestationError(f"envelope is not valid JSON ({exc})") from None
        if not isinstance(raw, dict):
            raise AttestationError("envelope is not a JSON object")
        payload_type, payload_text = raw.get("payloadType"), raw.get("payload", "")
        if not isinstance(payload_type, str) or not isinstance(payload_text, str):
            raise AttestationError("envelope: payloadType and payload must be strings")
        payload = _b64decode(payload_text)
        if payload is None:
            raise AttestationError("envelope: payload is not base64")
        raw_signatures = raw.get("signatures")
        if not isinstance(raw_signatures, list) or not raw_signatures:
            raise AttestationError("envelope has no signatures")
        if len(raw_signatures) > _MAX_SIGNATURES:
            raise AttestationError(f"envelope has more than {_MAX_SIGNATURES} signatures")
        signatures = []
        for number, item in enumerate(raw_signatures):
            keyid = item.get("keyid", "") if isinstance(item, dict) else None
            sig = _b64decode(item.get("sig", "")) if isinstance(item, dict) else None
            if not isinstance(keyid, str) or not isinstance(item.get("sig"), str) or not sig:
                raise AttestationError(f"envelope: signatures[{number}] is malformed")
            signatures.append(Signature(keyid, sig))
        return cls(payload_type, payload, tuple(signatures))


@dataclass(frozen=True, slots=True)
class Verified:
    """A verified attestation: the keyid of the trusted key that signed it, and its statement."""

    keyid: str
    statement: dict[str, Any]


def sign_envelope(
    payload: bytes, private_key: Ed25519PrivateKey, *, payload_type: str = PAYLOAD_TYPE
) -> Envelope:
    """Sign ``payload`` as a DSSE envelope with one Ed25519 signature over its PAE."""
    signature = private_key.sign(pae(payload_type, payload))
    return Envelope(
        payload_type, payload, (Signature(key_id(private_key.public_key()), signature),)
    )


def verify_signature(envelope: Envelope, trusted: Sequence[Ed25519PublicKey]) -> str:
    """DSSE verification with threshold 1: the keyid of a trusted key that signed the PAE.

    ``keyid`` only narrows the keys to try (DSSE: it must not decide trust); a signature whose
    keyid names no trusted key is tried against every trusted key. Raises AttestationError
    naming each signature's failure, e.g. ``signed by key <keyid>, not trusted``.
    """
    if not trusted:
        raise AttestationError("no trusted key given")
    by_id = {key_id(k): k for k in trusted}
    message = pae(envelope.payload_type, envelope.payload)
    reasons: list[str] = []
    for signature in envelope.signatures:
        candidates = [signature.keyid] if signature.keyid in by_id else list(by_id)
        for candidate in candidates:
            try:
                by_id[candidate].verify(signature.sig, message)
            except InvalidSignature:
                continue
            return candidate
        if signature.keyid in by_id:
            reasons.append(
                f"signature by key {signature.keyid} does not verify "
                "(the payload or the signature was changed)"
            )
        elif signature.keyid:
            reasons.append(f"signed by key {signature.keyid}, not trusted")
        else:
            reasons.append("a signature without keyid matches no trusted key")
    raise AttestationError("; ".join(reasons))


def verify_envelope(
    envelope: Envelope,
    trusted: Sequence[Ed25519PublicKey],
    *,
    manifest_digest: str,
    tag: str | None = None,
) -> Verified:
    """Verify a DSSE envelope as an attestation of the image with ``manifest_digest`` (and,
    when given, ``tag``: the tag index.json names must be the one signed).

    Raises AttestationError naming the reason: no trusted key (``signed by key <keyid>, not
    trusted``), a signature that does not verify, a foreign payload or predicate type, a
    subject that is another image, or another tag.
    """
    keyid = verify_signature(envelope, trusted)
    if envelope.payload_type != PAYLOAD_TYPE:
        raise AttestationError(f"payload type {envelope.payload_type!r} is not {PAYLOAD_TYPE}")
    try:
        statement = json.loads(envelope.payload)
    except (ValueError, RecursionError):  # JSONDecodeError, UnicodeDecodeError: ValueError
        raise AttestationError("payload is not a JSON statement") from None
    if not isinstance(statement, dict) or statement.get("_type") != STATEMENT_TYPE:
        raise AttestationError(f"payload is not an in-toto statement ({STATEMENT_TYPE})")
    if statement.get("predicateType") != PREDICATE_TYPE:
        raise AttestationError(
            f"predicate type {statement.get('predicateType')!r} is not {PREDICATE_TYPE}"
        )
    subjects = statement.get("subject")
    digests = [
        s["digest"].get("sha256")
        for s in subjects or []
        if isinstance(s, dict) and isinstance(s.get("digest"), dict)
    ]
    wanted = manifest_digest.removeprefix("sha256:")
    if not isinstance(subjects, list) or wanted not in digests:
        named = ", ".join(f"sha256:{d}" for d in digests if isinstance(d, str)) or "none"
        raise AttestationError(
            f"attestation subject ({named}) is not this image's manifest {manifest_digest}"
        )
    predicate = statement.get("predicate")
    if not isinstance(predicate, dict) or not _valid_predicate(predicate):
        raise AttestationError("predicate lacks sbom_digest, gate_run_id or built_at")
    if tag is not None and predicate.get("tag") != tag:
        raise AttestationError(
            f"the attestation was signed for tag {predicate.get('tag')!r}, but index.json tags "
            f"the image {tag!r}"
        )
    return Verified(keyid, statement)


def _valid_predicate(predicate: dict[str, Any]) -> bool:
    sbom, run, built = (predicate.get(k) for k in ("sbom_digest", "gate_run_id", "built_at"))
    return (
        isinstance(sbom, str)
        and bool(_DIGEST.fullmatch(sbom))
        and isinstance(run, int)
        and not isinstance(run, bool)
        and isinstance(built, str)
    )


def attestation_path(directory: Path, manifest_digest: str) -> Path:
    """Where the envelope of the image with ``manifest_digest`` lives in its layout."""
    hex_digest = manifest_digest.removeprefix("sha256:")
    if not _HEX.fullmatch(hex_digest):
        raise AttestationError(f"manifest digest {manifest_digest!r} is not sha256:<64 hex>")
    return directory / "attestations" / f"{hex_digest}.dsse.json"


def attest_layout(
    directory: Path,
    *,
    private_key: Ed25519PrivateKey,
    predicate: ImagePredicate,
    tag: str | None = None,
) -> Path:
    """Sign an attestation of the layout's image and write it next to the blobs.

    The layout must verify first: leitstand signs only what it has checked, and signs the
    manifest digest of the bytes it verified (``check_layout`` reads each file once). Returns
    the path of the envelope (``attestations/<manifest digest hex>.dsse.json``).
    """
    ref = verified_ref(directory, tag=tag)
    envelope = sign_envelope(Statement.for_image(ref, predicate).to_json(), private_key)
    path = attestation_path(directory, ref.manifest.digest)
    attestations_dir(directory).mkdir(exist_ok=True)
    path.write_bytes(envelope.to_json())
    return path


def verified_ref(directory: Path, *, tag: str | None = None) -> ImageRef:
    """The image of a layout that verifies, as the verified bytes describe it; otherwise an
    AttestationError listing every problem (nothing is signed)."""
    check = check_layout(directory, tag=tag)
    if check.problems:
        raise AttestationError(
            "refusing to sign a layout that does not verify:\n"
            + "\n".join(f"  - {p}" for p in check.problems)
        )
    if check.ref is None:
        raise AttestationError(f"refusing to sign: {check.ref_error}")
    return check.ref


def attestations_dir(directory: Path) -> Path:
    """The layout's ``attestations`` folder; an AttestationError if it is a symbolic link (an
    envelope written through it would land outside the layout)."""
    folder = directory / "attestations"
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise AttestationError(
            f"{folder}: is a symbolic link or not a folder; refusing to write an attestation"
        )
    return folder


def verify_attestation(
    directory: Path,
    trusted: Sequence[Ed25519PublicKey],
    *,
    tag: str | None = None,
    ref: ImageRef | None = None,
) -> Verified:
    """Verify the attestation of the layout's image (``ref`` if given, as ``check_layout``
    returned it; else read now); raise AttestationError if it fails."""
    if ref is None:
        ref = read_layout(directory, tag=tag)
    path = attestation_path(directory, ref.manifest.digest)
    where = f"attestations/{path.name}"
    try:
        data = read_regular(path, where, _MAX_ENVELOPE_BYTES + 1)
    except ImageError as exc:
        if str(exc) == f"{where}: missing":
            raise AttestationError(f"no attestation for manifest {ref.manifest.digest}") from None
        raise AttestationError(str(exc).removeprefix(f"{where}: ")) from None
    return verify_envelope(
        Envelope.parse(data), trusted, manifest_digest=ref.manifest.digest, tag=ref.tag
    )


def verify_image(
    directory: Path, trusted: Sequence[Ed25519PublicKey], *, tag: str | None = None
) -> list[Problem]:
    """Every problem of a signed layout: its blobs (``check_layout``) and its attestation."""
    check = check_layout(directory, tag=tag)
    problems = list(check.problems)
    if check.ref is None:
        return problems or [Problem(".", str(check.ref_error))]
    where = f"attestations/{check.ref.manifest.hex}.dsse.json"
    try:
        verify_attestation(directory, trusted, ref=check.ref)
    except ImageError as exc:
        problems.append(Problem(where, str(exc)))
    return problems
