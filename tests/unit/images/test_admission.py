"""Release admission of images for production (``ImageService.admit_release``): the image a
release target starts must be signed for exactly the digest released, by a key trusted now,
from a trusted registry, never ``latest``. Each refusal is the attack it stops: an unsigned
image, a signature by a key no longer trusted, a forged signature row, another registry, a
retagged ``latest``, a release that names no digest."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from leitstand.auth.model import Actor
from leitstand.bootstrap import Container, build
from leitstand.images.config import ImageConfig
from leitstand.images.keys import create_signing_key
from leitstand.images.oci import ImageRef, created_from_epoch, write_layout
from leitstand.images.service import ImageNotAdmittedError, ImageService
from leitstand.images.store import ImageSignatureRow
from leitstand.policy import load_policy_text
from leitstand.policy.model import Policy
from leitstand.settings import Settings
from support.gate_runs import kubernetes_release, record_gate_run, scanned_image

CI = Actor(name="ci-runner", role="devops")
IMAGE = "registry.example/ops/enterprise-api"
SBOM = "sha256:" + "ab" * 32


def _policy(**containers: Any) -> Policy:
    policy: dict[str, Any] = {
        "deployment": {
            "releases": kubernetes_release("enterprise-api", image="registry.example/ops/{service}")
        }
    }
    if containers:
        policy["gates"] = {"containers": containers}
    return load_policy_text(json.dumps(policy))


def _run(container: Container, version: str, ref: ImageRef | None = None) -> int:
    """A passed gate run of every stage, recorded by the gate service (the shared helper),
    whose image scan checked ``ref``."""
    images = [scanned_image(ref, sbom_digest=SBOM)] if ref is not None else []
    record_gate_run(container, service="enterprise-api", version=version, images=images)
    (run,) = container.gates.recorded(service="enterprise-api", version=version, limit=1)
    return run.id


def _layout(directory: Path, tag: str, *, content: str = "listen = 8080") -> ImageRef:
    tree = directory.with_name(f"{directory.name}-rootfs")
    (tree / "etc").mkdir(parents=True)
    (tree / "etc/app.conf").write_text(f"{content}\n", encoding="utf-8")
    return write_layout(
        directory,
        rootfs_tar=tree,
        config=ImageConfig(name=IMAGE, user="10001"),
        tag=tag,
        created=created_from_epoch(1_764_547_200),
    )


@pytest.fixture
def container(tmp_path: Path) -> Iterator[Container]:
    home = tmp_path / "home"
    create_signing_key(home / "keys" / "image-ed25519.pem")
    c = build(Settings(home=home), policy=_policy())
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def signed(container: Container, tmp_path: Path) -> ImageRef:
    ref = _layout(tmp_path / "image", "2.0.1")
    container.get(ImageService).sign(
        tmp_path / "image", actor=CI, gate_run_id=_run(container, "2.0.1", ref)
    )
    return ref


def _admit(container: Container, *, version: str = "2.0.1", digest: str | None) -> object:
    with container.db.reader() as session:
        return container.get(ImageService).admit_release(
            session, service="enterprise-api", version=version, digest=digest
        )


def _refusal(container: Container, **kwargs: Any) -> str:
    with pytest.raises(ImageNotAdmittedError) as caught:
        _admit(container, **kwargs)
    assert caught.value.http_status == 409
    return str(caught.value)


def test_the_signed_digest_is_admitted_with_its_recorded_signature(
    container: Container, signed: ImageRef
) -> None:
    record = _admit(container, digest=signed.manifest.digest)
    assert record is not None
    assert getattr(record, "manifest_digest") == signed.manifest.digest  # noqa: B009
    assert getattr(record, "service") == "enterprise-api"  # noqa: B009


def test_the_release_admission_of_the_app_asks_the_image_service(container: Container) -> None:
    hook = container.releases.admission.image_admission
    assert getattr(hook, "__self__", None) is container.get(ImageService)


def test_an_unsigned_image_is_refused(
    container: Container, signed: ImageRef, tmp_path: Path
) -> None:
    other = _layout(tmp_path / "other", "2.0.1", content="listen = 9090")  # same name and tag
    assert other.manifest.digest != signed.manifest.digest
    message = _refusal(container, digest=other.manifest.digest)
    assert "is unsigned" in message and other.manifest.digest in message


def test_a_release_without_the_image_digest_is_refused(
    container: Container, signed: ImageRef
) -> None:
    assert "admits an image by its digest" in _refusal(container, digest=None)


def test_latest_is_refused_even_if_someone_signed_it(container: Container) -> None:
    message = _refusal(container, version="latest", digest="sha256:" + "0" * 64)
    assert "latest" in message


def test_a_signature_for_another_tag_does_not_admit_the_digest(
    container: Container, signed: ImageRef
) -> None:
    message = _refusal(container, version="2.0.2", digest=signed.manifest.digest)
    assert "is unsigned" in message


def test_an_image_from_an_untrusted_registry_is_refused(
    container: Container, signed: ImageRef
) -> None:
    container.get(ImageService).policy = _policy(trusted_registries=["harbor.internal/*"])
    message = _refusal(container, digest=signed.manifest.digest)
    assert "not from a trusted registry" in message and "harbor.internal/*" in message


def test_a_key_no_longer_trusted_no_longer_admits(
    container: Container, signed: ImageRef, tmp_path: Path
) -> None:
    (tmp_path / "home" / "keys" / "image-ed25519.pem").unlink()
    other = Ed25519PrivateKey.generate().public_key()
    pem = other.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    container.get(ImageService).policy = _policy(signing={"trusted_keys": [pem]})
    message = _refusal(container, digest=signed.manifest.digest)
    assert "not signed by a trusted key" in message and "not trusted" in message


def test_a_signature_row_moved_to_an_unsigned_image_is_refused(
    container: Container, signed: ImageRef, tmp_path: Path
) -> None:
    other = _layout(tmp_path / "other", "2.0.1", content="listen = 9090")
    with container.db.transaction() as session:  # the attacker has write access to the store
        row = session.scalars(sa.select(ImageSignatureRow)).one()
        row.manifest_digest = other.manifest.digest
    message = _refusal(container, digest=other.manifest.digest)
    assert "is not this image's manifest" in message


def test_a_signature_row_with_a_changed_statement_is_refused(
    container: Container, signed: ImageRef
) -> None:
    with container.db.transaction() as session:
        row = session.scalars(sa.select(ImageSignatureRow)).one()
        envelope = json.loads(row.envelope)
        statement = json.loads(base64.b64decode(envelope["payload"]))
        statement["predicate"]["gate_run_id"] = 999
        envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
        row.envelope = json.dumps(envelope)
    message = _refusal(container, digest=signed.manifest.digest)
    assert "does not verify" in message


def test_a_policy_that_does_not_require_signed_images_admits_without_one(
    container: Container,
) -> None:
    container.get(ImageService).policy = _policy(signing={"required": False})
    assert _admit(container, digest=None) is None


def test_a_service_whose_releases_start_no_image_needs_no_signature(
    container: Container,
) -> None:
    with container.db.reader() as session:
        admitted = container.get(ImageService).admit_release(
            session, service="internal-tools", version="1.0.0", digest=None
        )
    assert admitted is None


def test_signing_records_the_row_admission_reads_with_its_evidence(
    container: Container, signed: ImageRef
) -> None:
    with container.db.reader() as session:
        row = session.scalars(sa.select(ImageSignatureRow)).one()
        assert row.manifest_digest == signed.manifest.digest and row.tag == "2.0.1"
        assert row.sbom_digest == SBOM and row.name == IMAGE
        (entry,) = [e for e in container.ledger.entries(session) if e.index == row.ledger_index]
    assert entry.action == "image.signed"
    assert entry.payload["manifest_digest"] == signed.manifest.digest
