"""Who may release what where: the change record, the gates (Fail = Stop), the manual approval.

Admission never reads free-form ledger payloads. Gate results come from the gate's own run
records (``gate_runs``, written only by ``GateService.record``), bound to the service, version,
change and the exact artifact digest the release deploys.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from leitstand.auth.model import Actor
from leitstand.db import Session
from leitstand.errors import ConflictError, Issue, ValidationError
from leitstand.gates.service import DIGEST
from leitstand.gates.store import GateRunRecord, runs_for
from leitstand.ledger.service import Ledger
from leitstand.policy.delivery import ApprovalMode
from leitstand.policy.model import Policy
from leitstand.policy.pipeline import DeployMode, GateStage

if TYPE_CHECKING:
    from leitstand.changes.model import Change
    from leitstand.changes.service import ChangeService

__all__ = ["Admission", "GatesNotPassedError", "ImageAdmission"]


class ImageAdmission(Protocol):
    """Admits the image a production release of ``service`` starts, or raises (the images
    domain implements it: ``ImageService.admit_release``)."""

    def __call__(
        self, session: Session, *, service: str, version: str, digest: str | None
    ) -> object: ...


class GatesNotPassedError(ConflictError):
    """Fail = Stop: a required gate stage did not pass for the release's change and artifact.

    HTTP 409; the CLI exits 1 (a gate failed: the command worked, the answer is "no").
    """

    exit_code = 1
    http_status = 409


class Admission:
    """The rules a release must meet before it starts (change, gates, approval)."""

    def __init__(self, *, ledger: Ledger, policy: Policy, changes: ChangeService | None) -> None:
        self.ledger = ledger
        self.policy = policy
        self.changes = changes
        # Set by bootstrap: refuses a production release that is an unapproved fix for a
        # SEV-1/2 incident (incidents/approvals.py, FixApprovals.check_release).
        self.incident_fixes: Callable[[Session, str, str], None] | None = None
        # Set by the releases' wiring: refuses a production release whose image is unsigned,
        # signed by a key not trusted, from an untrusted registry or tagged latest
        # (images/service.py, ImageService.admit_release).
        self.image_admission: ImageAdmission | None = None

    def production(self, env: str) -> bool:
        environment = self.policy.environments.get(env)
        return bool(environment and environment.production)

    def required_stages(self, env: str, change: Change | None) -> list[GateStage]:
        """The gate stages a release to ``env`` needs first (the category may defer some)."""
        required = self.policy.pipeline.deployment.required_gates.get(env, [])
        category = self.policy.changes.categories.get(change.category) if change else None
        later = set(category.gates_may_follow) if category else set()
        return [s for s in required if s not in later]

    def check(
        self,
        session: Session,
        service: str,
        version: str,
        env: str,
        actor: Actor,
        artifact_digest: str | None = None,
    ) -> tuple[Change | None, str | None]:
        """The change record that covers the release, and the approval it already has."""
        if self.incident_fixes is not None and self.production(env):
            self.incident_fixes(session, service, version)
        change = (
            self.changes.current_for(session, service=service, version=version)
            if self.changes is not None
            else None
        )
        deployment = self.policy.pipeline.deployment
        mode = deployment.production if self.production(env) else deployment.staging
        if not self.production(env):
            self.gates_passed(session, service, version, env, change, artifact_digest)
            return change, (actor.name if mode is DeployMode.AUTOMATIC else None)
        if change is None:
            raise ConflictError(
                f"production needs an approved change record for {service} {version}: "
                f"`leitstand change open --service {service} --version {version} ...`"
            )
        if change.status.value != "approved":
            raise ConflictError(
                f"change #{change.id} for {service} {version} is {change.status.value}, "
                "not approved"
            )
        self.gates_passed(session, service, version, env, change, artifact_digest)
        if self.image_admission is not None:
            self.image_admission(session, service=service, version=version, digest=artifact_digest)
        category = self.policy.changes.categories.get(change.category)
        if mode is DeployMode.AUTOMATIC:
            return change, actor.name
        allowed = {r.value for r in deployment.production_approvers}
        if (
            category is not None
            and category.approval is ApprovalMode.RETROSPECTIVE
            and actor.role in allowed
        ):
            # An emergency change: DevOps may deploy at once; the approval follows afterwards.
            return change, actor.name
        return change, None

    def gates_passed(
        self,
        session: Session,
        service: str,
        version: str,
        env: str,
        change: Change | None,
        artifact_digest: str | None,
    ) -> None:
        """Fail = Stop: every required stage passed in the gate's own runs for this artifact."""
        required = self.required_stages(env, change)
        if not required:
            return
        names = ", ".join(s.value for s in required)
        if not artifact_digest:
            raise ValidationError(
                [
                    Issue(
                        "artifact_digest",
                        f"a release to {env} needs the digest of the artifact it deploys, "
                        f"checked by the gates ({names}): pass --artifact-digest sha256:<hex> "
                        "(API: artifact_digest), the ARTIFACT_DIGEST that `leitstand gate run` "
                        "writes to gate-report/artifact.env",
                    )
                ]
            )
        if not DIGEST.match(artifact_digest):
            raise ValidationError(
                [
                    Issue(
                        "artifact_digest",
                        f"expected sha256: and 64 lower-case hex digits (got {artifact_digest!r})",
                    )
                ]
            )
        runs = [
            r
            for r in runs_for(session, service=service, version=version)
            if artifact_digest in r.artifact_digests
            and (change is None or r.change_id in (None, change.id))
        ]
        missing: list[str] = []
        failed: list[str] = []
        for stage in required:
            newest = _newest_with(runs, stage.value)
            if newest is None:
                missing.append(stage.value)
            elif newest.stages[stage.value] != "pass":
                failed.append(
                    f"{stage.value} ({newest.stages[stage.value]} in gate run #{newest.id}, "
                    f"ledger entry {newest.ledger_index})"
                )
        if not missing and not failed:
            return
        what = f"change #{change.id}" if change else f"{service} {version}"
        parts = []
        if missing:
            parts.append(f"not run: {', '.join(missing)}")
        if failed:
            parts.append(f"failed: {'; '.join(failed)}")
        raise GatesNotPassedError(
            f"Fail = Stop: a release to {env} needs the gate stages {names} passed for {what} "
            f"and artifact {artifact_digest}; {'; '.join(parts)} "
            "(`leitstand gate run` records its runs with the digests of what it built)"
        )

    def scanned_image(
        self, session: Session, service: str, version: str, artifact_digest: str | None
    ) -> str | None:
        """``artifact_digest`` when a recorded gate run of ``service`` ``version`` scanned it
        as an image (its image scan's manifest digest): the release then starts that image by
        digest. None for any other artifact (a wheel) or no digest."""
        if not artifact_digest:
            return None
        for run in runs_for(session, service=service, version=version):
            if run.image_sbom(artifact_digest) is not None:
                return artifact_digest
        return None


def _newest_with(runs: list[GateRunRecord], stage: str) -> GateRunRecord | None:
    # ``runs`` are newest first: the latest run of a stage decides (a later failure revokes).
    return next((r for r in runs if stage in r.stages), None)
