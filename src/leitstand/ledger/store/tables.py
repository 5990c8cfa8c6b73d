"""Ledger tables. Entries are append-only (triggers refuse UPDATE and DELETE on both backends)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from leitstand.db import Base, UTCDateTime

__all__ = [
    "LedgerCheckpointRow",
    "LedgerEntryRow",
    "LedgerStateRow",
    "LedgerVerificationRow",
    "WitnessDeliveryRow",
]


class LedgerEntryRow(Base):
    """One evidence entry. ``body`` is the canonical JSON that is hashed; other columns index it.

    ``nodes`` holds the hashes of every perfect Merkle subtree that ends at this leaf (level 0 =
    the leaf hash), so proofs and range hashes need no separate node table.
    """

    __tablename__ = "ledger_entries"

    idx: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(sa.String(200))
    role: Mapped[str] = mapped_column(sa.String(64))
    action: Mapped[str] = mapped_column(sa.String(200), index=True)
    subject: Mapped[str] = mapped_column(sa.String(500))
    tenant: Mapped[str | None] = mapped_column(sa.String(200), index=True)
    body: Mapped[bytes] = mapped_column(sa.LargeBinary)
    nodes: Mapped[bytes] = mapped_column(sa.LargeBinary)


class LedgerCheckpointRow(Base):
    """A kept signed tree head (C2SP checkpoint note), also copied to the second location.

    Every commit signs a new head (kept in ``ledger_state``); a head is kept here every N entries
    or T seconds (policy ``evidence``), which bounds how precisely tampering can be located.
    """

    __tablename__ = "ledger_checkpoints"

    size: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(sa.LargeBinary)
    note: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    copied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The folder it was copied to: instances sharing one database may keep separate folders,
    # and each folder is checked for the checkpoints copied to it (NULL: before ledger_0002).
    copied_to: Mapped[str | None] = mapped_column(sa.Text)


class LedgerStateRow(Base):
    """The single head row: size, compact range and the latest signed checkpoint.

    Appenders lock this row (``FOR UPDATE`` on PostgreSQL) so indices are assigned in order.
    """

    __tablename__ = "ledger_state"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(sa.BigInteger)
    frontier: Mapped[bytes] = mapped_column(sa.LargeBinary)
    root: Mapped[bytes] = mapped_column(sa.LargeBinary)
    note: Mapped[str | None] = mapped_column(sa.Text)
    kept_size: Mapped[int] = mapped_column(sa.BigInteger)
    kept_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WitnessDeliveryRow(Base):
    """A kept checkpoint queued for one witness, and the cosignature it returned.

    Inserted in the transaction that keeps the checkpoint (durable queue); ``cosigned_at`` is
    set once the witness cosigned it, ``skipped`` when the witness was already past it.
    """

    __tablename__ = "ledger_witness_deliveries"

    witness: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    size: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    note: Mapped[str] = mapped_column(sa.Text)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    old_size: Mapped[int | None] = mapped_column(sa.BigInteger)
    proof: Mapped[str | None] = mapped_column(sa.Text)  # base64 hashes, one per line
    cosignature: Mapped[str | None] = mapped_column(sa.Text)  # the signature line
    cosigned_time: Mapped[int | None] = mapped_column(sa.BigInteger)  # its POSIX timestamp
    cosigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    skipped: Mapped[bool] = mapped_column(sa.Boolean, default=False)


class LedgerVerificationRow(Base):
    """A full verification of the ledger, written by the verifier only."""

    __tablename__ = "ledger_verifications"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    verified_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(sa.String(200))
    ok: Mapped[bool] = mapped_column(sa.Boolean)
    size: Mapped[int] = mapped_column(sa.BigInteger)
    entries_checked: Mapped[int] = mapped_column(sa.BigInteger)
    first_bad_index: Mapped[int | None] = mapped_column(sa.BigInteger)
    problems: Mapped[str] = mapped_column(sa.Text)  # JSON list of strings
    incomplete: Mapped[str] = mapped_column(sa.Text)  # JSON list: sources that were not asked
    ledger_index: Mapped[int | None] = mapped_column(sa.BigInteger)
