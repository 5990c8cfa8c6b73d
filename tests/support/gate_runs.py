"""Test support for release admission: gate runs recorded through the gate service itself.

Admission (Fail = Stop) reads the gate's own run records. Tests that start releases record a run
with ``record_gate_run`` (through ``GateService.record``, the only writer of those records, never
raw SQL) and start with the digest it returns; ``gated_start`` does both. Where the service's
release target starts an image (Kubernetes), production admits only a signed image:
``release_digest`` then writes a small image layout of the version, records the gate run with
its manifest digest (as its image scan would: ``scanned_image``) and signs it through
``ImageService.sign`` (the only writer of signatures),
with the home's own signing key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leitstand.auth.model import Actor
from leitstand.gates.context import ScannedImage
from leitstand.gates.model import CheckResult, RunResult, Stage, StageResult, Status
from leitstand.images.oci import ImageRef

if TYPE_CHECKING:
    from leitstand.bootstrap import Container
    from leitstand.releases.model import ReleaseInfo

__all__ = [
    "ALL_STAGES",
    "CI",
    "digest_of",
    "gated_start",
    "kubernetes_release",
    "record_gate_run",
    "record_gate_run_at",
    "release_digest",
    "scanned_image",
]

ALL_STAGES: tuple[str, ...] = tuple(s.value for s in Stage)
#: The pipeline's identity in tests.
CI = Actor(name="ci-runner", role="devops")


def digest_of(service: str, version: str) -> str:
    """A stable stand-in artifact digest for a service version (``sha256:<hex>``)."""
    return "sha256:" + hashlib.sha256(f"{service}@{version}".encode()).hexdigest()


def record_gate_run(
    container: Container,
    *,
    service: str,
    version: str,
    stages: Sequence[str] = ALL_STAGES,
    failed: Sequence[str] = (),
    digest: str | None = None,
    change_id: int | None = None,
    actor: Actor = CI,
    images: Sequence[ScannedImage] = (),
) -> str:
    """Record a finished gate run of ``stages`` (those in ``failed`` failed); returns its digest.

    ``images``: what the run's image scan checked (their manifest digests join the artifacts).

    ``change_id`` defaults to the service version's newest change record, as a real run finds it.
    """
    digest = digest or digest_of(service, version)
    if change_id is None:
        state = container.changes.state_for(service=service, version=version)
        change_id = state.id if state else None
    results = []
    for name in stages:
        stage = Stage(name)
        status = Status.FAIL if name in failed else Status.PASS
        check = CheckResult(id=f"{stage.value}.recorded", status=status, summary="test run")
        results.append(StageResult(stage=stage, status=status, checks=(check,), duration_s=0.0))
    result = RunResult(
        project=service,
        version=version,
        commit=None,
        path=".",
        started_at=container.clock.now().isoformat(),
        duration_s=0.0,
        stages=tuple(results),
        change_id=change_id,
    )
    container.gates.record(
        result,
        actor=actor,
        service=service,
        artifact_digests=[digest, *(i.manifest_digest for i in images)],
        images=images,
    )
    return digest


def record_gate_run_at(home: Path, policy: Path | None = None, **kwargs: Any) -> str:
    """``record_gate_run`` into the store of a leitstand home (for tests driving the CLI)."""
    from leitstand.bootstrap import build
    from leitstand.settings import Settings

    container = build(Settings(home=home, policy=policy))
    try:
        return record_gate_run(container, **kwargs)
    finally:
        container.close()


def release_digest(
    container: Container, *, service: str, version: str, sign: bool | None = None
) -> str:
    """The digest a release of ``service`` ``version`` passes: a recorded passing gate run's
    artifact, and where the release target starts an image, that image signed (``sign``: None
    as the policy's ``gates.containers.signing.required`` says)."""
    from leitstand.images.service import ImageService, image_of

    name = image_of(container.policy, service)
    if sign is None:
        sign = container.policy.gates.containers.signing.required
    if name is None or not sign:
        return record_gate_run(container, service=service, version=version)
    import tempfile

    from leitstand.images.config import ImageConfig
    from leitstand.images.keys import create_signing_key, key_file
    from leitstand.images.oci import created_from_epoch, write_layout

    signing = container.policy.gates.containers.signing
    key = key_file(signing, container.settings.home)
    if key is not None and not key.exists():
        create_signing_key(key)
    images = container.settings.home / "test-images"
    images.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"{service}-{version}-", dir=images))
    (work / "rootfs" / "app").mkdir(parents=True)
    (work / "rootfs" / "app" / "VERSION").write_text(f"{service} {version}\n", encoding="utf-8")
    ref = write_layout(
        work / "layout",
        rootfs_tar=work / "rootfs",
        config=ImageConfig(name=name, user="10001"),
        tag=version,
        created=created_from_epoch(1_764_547_200),
    )
    record_gate_run(
        container,
        service=service,
        version=version,
        digest=ref.manifest.digest,
        images=[scanned_image(ref)],
    )
    (run,) = container.gates.recorded(service=service, version=version, limit=1)
    container.get(ImageService).sign(work / "layout", actor=CI, gate_run_id=run.id)
    return ref.manifest.digest


def scanned_image(ref: ImageRef, *, sbom_digest: str = "sha256:" + "5b" * 32) -> ScannedImage:
    """What a gate run's image scan records for the image ``ref`` (the SBOM by digest)."""
    return ScannedImage(
        layout="image",
        name=ref.name,
        tag=ref.tag,
        manifest_digest=ref.manifest.digest,
        sbom_digest=sbom_digest,
        packages=0,
    )


def gated_start(
    container: Container,
    *,
    service: str,
    version: str,
    env: str,
    actor: Actor,
    **kwargs: Any,
) -> ReleaseInfo:
    """Start a release after recording a passing gate run of every stage for its artifact
    (and signing its image where the release target starts one)."""
    digest = release_digest(container, service=service, version=version)
    return container.releases.start(
        service=service, version=version, env=env, actor=actor, artifact_digest=digest, **kwargs
    )


def kubernetes_release(
    service: str, *, image: str, output_dir: str = "k8s", envs: Sequence[str] = ("production",)
) -> dict[str, Any]:
    """The policy section ``deployment.releases`` of one service whose release target starts
    ``image`` on Kubernetes (rendered Deployments and Services under ``output_dir``)."""
    return {
        service: {
            "start": {"kind": "kubernetes", "image": image, "output_dir": output_dir},
            "environments": {
                env: {
                    "router": {"kind": "kubernetes", "service": service, "output_dir": output_dir},
                    "instances": {"blue": {"port": 8081}, "green": {"port": 8082}},
                }
                for env in envs
            },
        }
    }
