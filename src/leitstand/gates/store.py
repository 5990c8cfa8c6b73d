"""The gate's own run records (``gate_runs``): written by the gate service when a run finishes.

Release admission and image signing read these rows, never a ledger payload: only
``GateService.record`` writes them, in the same transaction as the run's ``gate.run`` evidence
entry, whose ledger index the row keeps. A row binds the run to its service, version, change and
the artifacts it built or checked (``sha256:<hex>`` of each wheel/sdist, or an image digest).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from leitstand.db import Base, UTCDateTime

__all__ = [
    "GateRunRecord",
    "GateRunRow",
    "add_run",
    "recent_stages",
    "run_by_id",
    "run_ids_by_ledger_index",
    "runs_for",
]


class GateRunRow(Base):
    """One finished gate run."""

    __tablename__ = "gate_runs"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(sa.String(200))
    role: Mapped[str] = mapped_column(sa.String(64))
    service: Mapped[str] = mapped_column(sa.String(200), index=True)
    project: Mapped[str] = mapped_column(sa.String(200))
    version: Mapped[str] = mapped_column(sa.String(100))
    commit: Mapped[str | None] = mapped_column(sa.String(100))
    change_id: Mapped[int | None] = mapped_column(sa.Integer, index=True)
    status: Mapped[str] = mapped_column(sa.String(16))
    stages: Mapped[str] = mapped_column(sa.Text)  # JSON {stage: pass|fail|skip}
    not_run: Mapped[str] = mapped_column(sa.Text)  # JSON [stage]
    artifact_digests: Mapped[str] = mapped_column(sa.Text)  # JSON ["sha256:..."]
    # JSON [{manifest_digest, sbom_digest, name, tag, layout, source, packages}]: the images the
    # run's image scan checked (image signing takes the SBOM digest from here).
    images: Mapped[str] = mapped_column(sa.Text, default="[]", server_default="[]")
    report_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    ledger_index: Mapped[int | None] = mapped_column(sa.BigInteger)


@dataclass(frozen=True, slots=True)
class GateRunRecord:
    """A recorded gate run as admission and the API read it."""

    id: int
    recorded_at: datetime
    actor: str
    role: str
    service: str
    project: str
    version: str
    commit: str | None
    change_id: int | None
    status: str
    stages: dict[str, str]
    not_run: list[str]
    artifact_digests: list[str]
    report_sha256: str | None
    ledger_index: int | None
    images: list[dict[str, Any]] = field(default_factory=list)

    def image_sbom(self, manifest_digest: str) -> str | None:
        """The SBOM digest the run's image scan recorded for the image ``manifest_digest``
        (None if the run did not scan that image)."""
        for image in self.images:
            if image.get("manifest_digest") == manifest_digest:
                sbom = image.get("sbom_digest")
                return str(sbom) if sbom else None
        return None

    @classmethod
    def of(cls, row: GateRunRow) -> GateRunRecord:
        return cls(
            id=row.id,
            recorded_at=row.recorded_at,
            actor=row.actor,
            role=row.role,
            service=row.service,
            project=row.project,
            version=row.version,
            commit=row.commit,
            change_id=row.change_id,
            status=row.status,
            stages={str(k): str(v) for k, v in json.loads(row.stages or "{}").items()},
            not_run=[str(s) for s in json.loads(row.not_run or "[]")],
            artifact_digests=[str(d) for d in json.loads(row.artifact_digests or "[]")],
            report_sha256=row.report_sha256,
            ledger_index=row.ledger_index,
            images=[i for i in json.loads(row.images or "[]") if isinstance(i, dict)],
        )


def runs_for(
    session: Session,
    *,
    service: str | None = None,
    version: str | None = None,
    change_id: int | None = None,
    limit: int | None = None,
) -> list[GateRunRecord]:
    """Recorded runs, newest first, filtered by service, version and change."""
    stmt = sa.select(GateRunRow).order_by(GateRunRow.id.desc())
    if service is not None:
        stmt = stmt.where(GateRunRow.service == service)
    if version is not None:
        stmt = stmt.where(GateRunRow.version == version)
    if change_id is not None:
        stmt = stmt.where(GateRunRow.change_id == change_id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [GateRunRecord.of(row) for row in session.execute(stmt).scalars()]


def run_by_id(session: Session, run_id: int) -> GateRunRecord | None:
    """The recorded run ``run_id``, or None if there is none."""
    row = session.get(GateRunRow, run_id)
    return None if row is None else GateRunRecord.of(row)


def run_ids_by_ledger_index(session: Session, indexes: Sequence[int]) -> dict[int, int]:
    """The ids of the recorded runs whose ``gate.run`` entries are ``indexes`` (index -> id);
    an index with no run record is left out."""
    if not indexes:
        return {}
    rows = session.execute(
        sa.select(GateRunRow.ledger_index, GateRunRow.id).where(
            GateRunRow.ledger_index.in_(sorted(set(indexes)))
        )
    )
    return {int(index): int(run_id) for index, run_id in rows if index is not None}


def add_run(
    session: Session,
    *,
    recorded_at: datetime,
    actor: str,
    role: str,
    service: str,
    project: str,
    version: str,
    commit: str | None,
    change_id: int | None,
    status: str,
    stages: Mapping[str, str],
    not_run: Sequence[str],
    artifact_digests: Sequence[str],
    report_sha256: str | None,
    ledger_index: int | None,
    images: Sequence[Mapping[str, Any]] = (),
) -> GateRunRecord:
    """Insert one finished run (``GateService.record`` is the only caller)."""
    row = GateRunRow(
        recorded_at=recorded_at,
        actor=actor,
        role=role,
        service=service,
        project=project,
        version=version,
        commit=commit,
        change_id=change_id,
        status=status,
        stages=json.dumps(dict(stages)),
        not_run=json.dumps(list(not_run)),
        artifact_digests=json.dumps(list(artifact_digests)),
        report_sha256=report_sha256,
        ledger_index=ledger_index,
        images=json.dumps([dict(i) for i in images], sort_keys=True),
    )
    session.add(row)
    session.flush()
    return GateRunRecord.of(row)


def recent_stages(session: Session, *, service: str, limit: int) -> list[dict[str, str]]:
    """The stage results (stage -> status) of the service's newest ``limit`` runs, newest first."""
    rows = session.execute(
        sa.select(GateRunRow.stages)
        .where(GateRunRow.service == service)
        .order_by(GateRunRow.id.desc())
        .limit(limit)
    ).scalars()
    return [{str(k): str(v) for k, v in json.loads(stages or "{}").items()} for stages in rows]
