"""The image service's own record of each signature (``image_signatures``).

Release admission reads these rows, never a ledger payload: only ``ImageService.sign`` writes
them, in the same transaction as the signature's ``image.signed`` evidence entry, whose ledger
index the row keeps. The row holds the DSSE envelope itself, so that admission verifies the
signature against the keys trusted at the time of the release (a key no longer trusted no
longer admits the image).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from leitstand.db import Base, UTCDateTime

__all__ = ["ImageSignatureRow", "SignatureRecord", "add_signature", "signatures_of"]


class ImageSignatureRow(Base):
    """One signed image attestation."""

    __tablename__ = "image_signatures"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(sa.String(200))
    name: Mapped[str] = mapped_column(sa.String(300))
    tag: Mapped[str] = mapped_column(sa.String(128))
    manifest_digest: Mapped[str] = mapped_column(sa.String(71), index=True)
    sbom_digest: Mapped[str] = mapped_column(sa.String(71))
    gate_run_id: Mapped[int] = mapped_column(sa.Integer)
    service: Mapped[str] = mapped_column(sa.String(200))
    keyid: Mapped[str] = mapped_column(sa.String(64))
    envelope: Mapped[str] = mapped_column(sa.Text)  # the DSSE envelope (JSON)
    ledger_index: Mapped[int] = mapped_column(sa.BigInteger)


@dataclass(frozen=True, slots=True)
class SignatureRecord:
    """A recorded signature as admission reads it."""

    id: int
    recorded_at: datetime
    actor: str
    name: str
    tag: str
    manifest_digest: str
    sbom_digest: str
    gate_run_id: int
    service: str
    keyid: str
    envelope: bytes
    ledger_index: int


def add_signature(
    session: Session,
    *,
    recorded_at: datetime,
    actor: str,
    name: str,
    tag: str,
    manifest_digest: str,
    sbom_digest: str,
    gate_run_id: int,
    service: str,
    keyid: str,
    envelope: bytes,
    ledger_index: int,
) -> int:
    """Insert one signature row (inside the caller's transaction) and return its id."""
    row = ImageSignatureRow(
        recorded_at=recorded_at,
        actor=actor,
        name=name,
        tag=tag,
        manifest_digest=manifest_digest,
        sbom_digest=sbom_digest,
        gate_run_id=gate_run_id,
        service=service,
        keyid=keyid,
        envelope=envelope.decode("utf-8"),
        ledger_index=ledger_index,
    )
    session.add(row)
    session.flush()
    return row.id


def signatures_of(session: Session, *, manifest_digest: str) -> list[SignatureRecord]:
    """The recorded signatures of the image with ``manifest_digest``, newest first."""
    rows = session.scalars(
        sa.select(ImageSignatureRow)
        .where(ImageSignatureRow.manifest_digest == manifest_digest)
        .order_by(ImageSignatureRow.id.desc())
    )
    return [
        SignatureRecord(
            id=row.id,
            recorded_at=row.recorded_at,
            actor=row.actor,
            name=row.name,
            tag=row.tag,
            manifest_digest=row.manifest_digest,
            sbom_digest=row.sbom_digest,
            gate_run_id=row.gate_run_id,
            service=row.service,
            keyid=row.keyid,
            envelope=row.envelope.encode("utf-8"),
            ledger_index=row.ledger_index,
        )
        for row in rows
    ]
