"""Signing an image layout (with ``image.signed`` evidence) and verifying a signed one.

``ImageService.sign`` is the only writer of ``image.signed``: it signs only a layout that
verifies (every blob, an exact tag) and that a passed gate run vouches for (the gates' own record
of the run: it exists, passed, ran every stage, among them the stages a production release
requires, checked the version the image is tagged with and, where a release target deploys the
image, that target's service; ``gate_port``), signs the manifest digest of the bytes it verified,
writes the DSSE envelope and records the evidence in one unit of work: the envelope is put in
place inside the ledger's transaction and taken back if the transaction fails, so there is never
an attestation without its entry. ``check_image`` verifies without a store: blobs, tag and
attestation against the keys it is given.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from leitstand.clock import Clock, SystemClock
from leitstand.db import Database, Session
from leitstand.errors import Issue, ValidationError
from leitstand.identity import Actor
from leitstand.images.attest import (
    AttestationError,
    Envelope,
    ImagePredicate,
    Statement,
    Verified,
    attestation_path,
    attestations_dir,
    key_id,
    sign_envelope,
    verified_ref,
    verify_attestation,
    verify_envelope,
)
from leitstand.images.gate_port import PASSED, GateRun, GateRunLookup
from leitstand.images.keys import load_signing_key_of, trusted_keys
from leitstand.images.oci import ImageError, ImageRef, Problem, validate_tag
from leitstand.images.pin import check_registry
from leitstand.images.store import SignatureRecord, add_signature, signatures_of
from leitstand.images.verify import check_layout
from leitstand.ledger.checkpoint import load_signing_key
from leitstand.ledger.service import Ledger
from leitstand.policy.model import Policy
from leitstand.policy.releases import KubernetesStart

__all__ = [
    "SIGNED_ACTION",
    "ImageNotAdmittedError",
    "ImageService",
    "Signed",
    "UnvouchedImageError",
    "Verification",
    "check_image",
    "production_stages",
    "release_services",
    "require_layout",
    "vouching_run",
]

#: The evidence of a signed image attestation (namespace ``image``, ledger/ownership.py).
SIGNED_ACTION = "image.signed"


class UnvouchedImageError(ImageError):
    """The gate run named for an image does not vouch for it: there is no such run, it did not
    pass, it left stages out, it checked another version than the image's tag or another service
    than the one whose release target deploys the image (exit code 1: nothing is signed)."""

    http_status = 409


class ImageNotAdmittedError(ImageError):
    """Release admission refuses the image a production release would start: unsigned, signed
    by a key no longer trusted, not from a trusted registry, tagged ``latest``, or another digest
    than the one signed (HTTP 409; the CLI exits 1: the command worked, the answer is "no")."""

    http_status = 409


def image_of(policy: Policy, service: str) -> str | None:
    """The image name ``service``'s release target starts (Kubernetes ``start.image``,
    ``{service}`` filled in), or None if its releases start no image."""
    target = policy.deployment.releases.get(service)
    if target is None or not isinstance(target.start, KubernetesStart):
        return None
    return target.start.image.replace("{service}", service)


def production_stages(policy: Policy) -> list[str]:
    """The gate stages a production release requires, as release admission reads them: the
    policy's ``pipeline.deployment.required_gates`` of every production environment."""
    stages: list[str] = []
    for env, environment in policy.environments.items():
        if environment.production:
            for stage in policy.pipeline.deployment.required_gates.get(env, []):
                if stage.value not in stages:
                    stages.append(stage.value)
    return stages


def release_services(policy: Policy, image_name: str) -> list[str]:
    """The services whose release target starts ``image_name`` on Kubernetes (``start.image``,
    ``{service}`` filled in); empty if no target deploys it."""
    found = []
    for service, target in policy.deployment.releases.items():
        start = target.start
        if (
            isinstance(start, KubernetesStart)
            and start.image.replace("{service}", service) == image_name
        ):
            found.append(service)
    return found


def vouching_run(
    run: GateRun | None,
    run_id: int,
    ref: ImageRef,
    *,
    required: Sequence[str] = (),
    services: Sequence[str] = (),
) -> GateRun:
    """``run`` if it vouches for the image ``ref``; otherwise an ``UnvouchedImageError``.

    Checked against what the gate's record holds: that it exists, its outcome, that it left no
    stage out (``not_run``) and passed every stage of ``required`` (``production_stages``: what
    release admission requires), its version (an image is tagged with the exact version, the
    tag a release deploys) and, if ``services`` is not empty (``release_services``: the release
    targets that deploy the image), its service; and that the run's image scan checked exactly
    this image (its manifest digest), which gives the SBOM digest the attestation carries.
    """
    if run is None:
        raise UnvouchedImageError(
            f"gate run #{run_id} does not exist: an image is signed only for a recorded gate run "
            "that passed it (`leitstand gate run` records each run and prints its id)"
        )
    what = f"gate run #{run.id} ({run.service} {run.version}, ledger entry {run.ledger_index})"
    if run.status != PASSED:
        raise UnvouchedImageError(
            f"{what} did not pass (outcome {run.status}): an image is signed only for a gate "
            "run that passed"
        )
    if run.not_run:
        raise UnvouchedImageError(
            f"{what} did not run {', '.join(run.not_run)}: an image is signed only for a "
            "complete gate run (`leitstand gate run` without --stage)"
        )
    missing = [s for s in required if run.stages.get(s) != PASSED]
    if missing:
        raise UnvouchedImageError(
            f"{what} did not pass {', '.join(missing)}: a production release requires the "
            f"gate stages {', '.join(required)} (pipeline.deployment.required_gates)"
        )
    if run.version != ref.tag:
        raise UnvouchedImageError(
            f"{what} checked version {run.version}, but the image {ref.name} is tagged "
            f"{ref.tag}: sign with the gate run of the version the image is tagged with"
        )
    if services and run.service not in services:
        raise UnvouchedImageError(
            f"{what} checked service {run.service}, but the image {ref.name} is released as "
            f"{', '.join(services)} (deployment.releases start.image): sign with a gate run "
            "of that service"
        )
    if run.image_sbom(ref.manifest.digest) is None:
        raise UnvouchedImageError(
            f"{what} did not scan the image {ref.name}:{ref.tag} ({ref.manifest.digest}): an "
            "image is signed only for the gate run whose image scan (security.images) checked "
            "exactly this layout"
        )
    return run


def require_layout(directory: Path, *, field: str = "DIR") -> Path:
    """``directory`` if it is an OCI image layout (a folder with ``oci-layout``); otherwise a
    ValidationError (exit 2): a wrong path is bad input, not a failed verification."""
    if not directory.is_dir():
        reason = "does not exist" if not directory.exists() else "is not a folder"
        raise ValidationError([Issue(field, f"{directory} {reason}")])
    if not (directory / "oci-layout").is_file():
        raise ValidationError(
            [Issue(field, f"{directory} is not an OCI image layout (no oci-layout file)")]
        )
    return directory


@dataclass(frozen=True, slots=True)
class Verification:
    """What ``check_image`` found: the image, who signed it, and every problem."""

    directory: Path
    ref: ImageRef | None
    verified: Verified | None
    trusted: tuple[str, ...]
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and self.verified is not None

    def as_dict(self) -> dict[str, Any]:
        ref, verified = self.ref, self.verified
        return {
            "ok": self.ok,
            "layout": str(self.directory),
            "image": None
            if ref is None
            else {"name": ref.name, "tag": ref.tag, "manifest_digest": ref.manifest.digest},
            "keyid": None if verified is None else verified.keyid,
            "predicate": None if verified is None else verified.statement.get("predicate"),
            "trusted_keyids": list(self.trusted),
            "problems": [{"path": p.path, "message": p.message} for p in self.problems],
        }


def check_image(directory: Path, trusted: list[Ed25519PublicKey]) -> Verification:
    """Verify a signed layout: every blob and the tag (``verify_layout``), then the attestation
    against ``trusted`` (a foreign key is named by its keyid). Needs no store and no user."""
    keyids = tuple(key_id(k) for k in trusted)
    check = check_layout(directory)
    problems, ref = list(check.problems), check.ref
    if ref is None:
        fallback = [Problem(".", str(check.ref_error))]
        return Verification(directory, None, None, keyids, problems or fallback)
    verified = None
    try:
        verified = verify_attestation(directory, trusted, ref=ref)
    except ImageError as exc:
        problems.append(Problem(f"attestations/{ref.manifest.hex}.dsse.json", str(exc)))
    return Verification(directory, ref, verified, keyids, problems)


@dataclass(frozen=True, slots=True)
class Signed:
    """A signed image: what the ``image.signed`` entry says, and where the envelope is."""

    name: str
    tag: str
    manifest_digest: str
    sbom_digest: str
    gate_run_id: int
    service: str
    keyid: str
    attestation: Path
    envelope_digest: str
    ledger_index: int

    def evidence(self) -> dict[str, Any]:
        """The ``image.signed`` entry's payload (never key material, nor a local path)."""
        return {
            "name": self.name,
            "tag": self.tag,
            "manifest_digest": self.manifest_digest,
            "sbom_digest": self.sbom_digest,
            "gate_run_id": self.gate_run_id,
            "service": self.service,
            "keyid": self.keyid,
            "envelope_digest": self.envelope_digest,
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.evidence(),
            "attestation": str(self.attestation),
            "ledger_index": self.ledger_index,
        }


def _built_at(ref: ImageRef) -> datetime:
    try:
        built = datetime.fromisoformat(ref.created)
    except ValueError:
        built = None
    if built is None or built.tzinfo is None:
        raise ImageError(f"{ref.config.path}: the image config has no RFC 3339 created time")
    return built


class ImageService:
    """Signs image layouts with the policy's key and records each signature as evidence."""

    def __init__(
        self,
        *,
        db: Database,
        ledger: Ledger,
        policy: Policy,
        home: Path,
        gate_runs: GateRunLookup,
        clock: Clock | None = None,
    ) -> None:
        self.db = db
        self.ledger = ledger
        self.policy = policy
        self.home = home
        self.gate_runs = gate_runs  # the gates' own run records (GateService.recorded_run)
        self.clock = clock or SystemClock()

    def sign(
        self,
        directory: Path,
        *,
        actor: Actor,
        gate_run_id: int,
        sbom_digest: str | None = None,
        key_file: Path | None = None,
    ) -> Signed:
        """Sign the attestation of the layout's image and record ``image.signed``.

        The attestation carries the SBOM digest the gate run's image scan recorded for this
        image; a ``sbom_digest`` given as well must be that one (a different SBOM is refused).

        The key is ``key_file`` or the policy's ``gates.containers.signing.key``. A layout that
        does not verify (a changed blob, ``latest`` or no tag) is refused (exit 1), and so is a
        ``gate_run_id`` the gates have no record of or whose run does not vouch for the image
        (``vouching_run``); nothing is written then. The layout is read once: the digest signed
        is the digest of the manifest bytes that verified.
        """
        signing = self.policy.gates.containers.signing
        private_key = (
            load_signing_key(key_file)
            if key_file is not None
            else load_signing_key_of(signing, self.home)
        )
        attestations_dir(require_layout(directory))  # a symlinked attestations/ is refused
        ref = verified_ref(directory)
        run = vouching_run(
            self.gate_runs(gate_run_id),
            gate_run_id,
            ref,
            required=production_stages(self.policy),
            services=release_services(self.policy, ref.name),
        )
        scanned = run.image_sbom(ref.manifest.digest) or ""
        if sbom_digest is not None and sbom_digest != scanned:
            raise UnvouchedImageError(
                f"the SBOM given ({sbom_digest}) is not the one gate run #{run.id} recorded for "
                f"{ref.name}:{ref.tag} ({scanned}): the attestation names the SBOM the gate "
                "scanned (leave --sbom out to use it)"
            )
        sbom_digest = scanned
        predicate = ImagePredicate(sbom_digest, gate_run_id, _built_at(ref), service=run.service)
        envelope = sign_envelope(Statement.for_image(ref, predicate).to_json(), private_key)
        data = envelope.to_json()
        signed = Signed(
            name=ref.name,
            tag=ref.tag,
            manifest_digest=ref.manifest.digest,
            sbom_digest=sbom_digest,
            gate_run_id=gate_run_id,
            service=run.service,
            keyid=envelope.signatures[0].keyid,
            attestation=attestation_path(directory, ref.manifest.digest),
            envelope_digest=f"sha256:{hashlib.sha256(data).hexdigest()}",
            ledger_index=0,  # known once the entry is committed
        )
        # The envelope, the image.signed entry and the signature's row: one transaction.
        entry = self._write_with_evidence(directory, data, actor, signed)
        return replace(signed, ledger_index=entry)

    def admit_release(
        self, session: Session, *, service: str, version: str, digest: str | None
    ) -> SignatureRecord | None:
        """Release admission for production: the image ``service``'s release starts must be
        signed (an attestation recorded by ``sign`` for exactly ``digest``, the image name and
        the version as tag), by a key trusted now (``gates.containers.signing``: the own key's
        public half and ``trusted_keys``), from a trusted registry
        (``gates.containers.trusted_registries``, when set), and not tagged ``latest``.

        Returns the signature that admits it (None: the service's releases start no image, or
        the policy does not require signed images: ``gates.containers.signing.required``);
        raises ``ImageNotAdmittedError`` naming the reason. That the gates checked exactly this
        digest is admission's own rule (``Admission.gates_passed``: the digest must be among a
        passed run's artifacts, where the image scan records what it scanned).
        """
        name = image_of(self.policy, service)
        if name is None or not self.policy.gates.containers.signing.required:
            return None
        where = f"the image {name}:{version} of {service}"
        try:
            validate_tag(version)
        except ValueError as exc:
            raise ImageNotAdmittedError(f"{where}: {exc}") from None
        untrusted = check_registry(name, self.policy.gates.containers.trusted_registries)
        if untrusted is not None:
            raise ImageNotAdmittedError(f"{where}: {untrusted}")
        if not digest:
            raise ImageNotAdmittedError(
                f"{where}: production admits an image by its digest: pass --artifact-digest "
                "sha256:<manifest digest> (the digest the gates scanned and `image sign` signed)"
            )
        records = [
            r
            for r in signatures_of(session, manifest_digest=digest)
            if r.name == name and r.tag == version
        ]
        if not records:
            raise ImageNotAdmittedError(
                f"{where} ({digest}) is unsigned: no attestation of it was recorded "
                "(`leitstand image sign DIR --gate-run ID`)"
            )
        signing = self.policy.gates.containers.signing
        trusted = trusted_keys(signing, self.home, on_unusable_own_key=lambda _reason: None)
        if not trusted:
            raise ImageNotAdmittedError(
                f"{where}: no key to verify its signature with (no own signing key, no "
                "gates.containers.signing.trusted_keys)"
            )
        reasons = []
        for record in records:
            try:
                verify_envelope(
                    Envelope.parse(record.envelope), trusted, manifest_digest=digest, tag=version
                )
            except AttestationError as exc:
                reasons.append(f"signature #{record.id} (evidence {record.ledger_index}): {exc}")
                continue
            return record
        raise ImageNotAdmittedError(
            f"{where} ({digest}) is not signed by a trusted key: " + "; ".join(reasons)
        )

    def _write_with_evidence(
        self, directory: Path, data: bytes, actor: Actor, signed: Signed
    ) -> int:
        """Put the envelope at ``signed.attestation`` inside the ledger's transaction (with the
        ``image.signed`` entry and the signature's row); undo it if that fails."""
        path = signed.attestation
        attestations_dir(directory).mkdir(exist_ok=True)
        attestations_dir(directory)  # still no symbolic link once it exists
        if path.is_symlink():
            raise AttestationError(f"{path}: is a symbolic link; refusing to replace it")
        previous = path.read_bytes() if path.is_file() else None
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        tmp.write_bytes(data)
        placed = False
        try:
            with self.db.transaction() as session:
                entry = self.ledger.record(
                    session,
                    actor,
                    SIGNED_ACTION,
                    f"image:{signed.name}@{signed.manifest_digest}",
                    payload=signed.evidence(),
                )
                add_signature(
                    session,
                    recorded_at=self.clock.now(),
                    actor=actor.name,
                    name=signed.name,
                    tag=signed.tag,
                    manifest_digest=signed.manifest_digest,
                    sbom_digest=signed.sbom_digest,
                    gate_run_id=signed.gate_run_id,
                    service=signed.service,
                    keyid=signed.keyid,
                    envelope=data,
                    ledger_index=entry.index,
                )
                tmp.replace(path)
                placed = True
            return entry.index
        except BaseException:
            if placed:
                if previous is None:
                    path.unlink(missing_ok=True)
                else:
                    path.write_bytes(previous)
            raise
        finally:
            tmp.unlink(missing_ok=True)
