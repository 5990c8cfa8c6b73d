"""Wire schemas of the gate API: recorded gate runs as the evidence ledger holds them, with
the id of each run's record."""

from __future__ import annotations

from pydantic import BaseModel, Field

from leitstand.ledger.canonical import Entry

__all__ = ["GateRunOut", "ScannedImageOut"]


class ScannedImageOut(BaseModel):
    """An image the run's image scan checked (check ``security.images``)."""

    layout: str = Field(
        description="the OCI image layout or docker-archive, relative to the project, or the "
        "containers-storage reference"
    )
    source: str = Field(
        default="oci-layout",
        description="oci-layout, or docker-archive / containers-storage (copied into a layout "
        "by skopeo; the manifest digest is the copy's)",
    )
    name: str
    tag: str
    manifest_digest: str = Field(description="what a release of the image passes as its digest")
    sbom_digest: str = Field(description="sha256 of the CycloneDX SBOM syft wrote")
    packages: int


class GateRunOut(BaseModel):
    """One recorded gate run (a ``gate.run`` evidence entry): result per stage and check.

    ``id`` is the gate's own record of the run (what image signing reads), ``index`` its
    evidence entry in the ledger.
    """

    id: int | None = Field(
        default=None,
        description="the gate run's id, as `leitstand image sign --gate-run` takes it",
    )
    index: int = Field(description="ledger index of the run's evidence entry")
    time: str
    actor: str
    project: str
    version: str
    commit: str | None = None
    status: str = Field(description="pass, fail or skip")
    stages: dict[str, str] = Field(default_factory=dict, description="stage -> status")
    checks: dict[str, str] = Field(default_factory=dict, description="check id -> status")
    not_run: list[str] = Field(default_factory=list)
    change_id: int | None = None
    duration_s: float | None = None
    report_sha256: str | None = None
    service: str | None = None
    artifact_digests: list[str] = Field(default_factory=list)
    images: list[ScannedImageOut] = Field(default_factory=list)

    @classmethod
    def of(cls, entry: Entry, run_id: int | None) -> GateRunOut:
        """The run of the ``gate.run`` entry ``entry`` whose record has the id ``run_id``."""
        return cls.model_validate(
            {
                **entry.payload,
                "id": run_id,
                "index": entry.index,
                "time": entry.time,
                "actor": entry.actor,
            }
        )
