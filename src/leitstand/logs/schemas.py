"""Typed answers of the logs domain (API and ``--json``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

__all__ = [
    "ExpireOut",
    "LogLineOut",
    "LogSearchOut",
    "LogTypeOut",
    "SegmentOut",
    "SegmentProblemOut",
    "VerifyOut",
]


class LogTypeOut(BaseModel):
    """One log type: retention, stream, rotation, readers, legal hold."""

    key: str
    retention_days: int
    file: str
    rotation: str
    max_size: str | None
    readers: list[str]
    legal_hold: bool
    environments: list[str]
    reads_recorded: bool


class SegmentOut(BaseModel):
    """A sealed segment: where it is, its digest and size, and the ledger entry of its seal."""

    log_type: str
    path: str
    sha256: str
    size: int
    sealed_at: datetime
    ledger_index: int


class SegmentProblemOut(BaseModel):
    """A sealed segment that no longer matches its seal."""

    log_type: str
    path: str
    problem: str  # deleted | truncated | changed | seal_mismatch
    detail: str


class VerifyOut(BaseModel):
    ok: bool
    checked: int
    problems: list[SegmentProblemOut]


class ExpireOut(BaseModel):
    expired: list[SegmentOut]
    held: list[SegmentOut]


class LogLineOut(BaseModel):
    log_type: str
    source: str  # the stream or segment file name
    line: int
    time: datetime | None
    text: str


class LogSearchOut(BaseModel):
    log_type: str
    lines: list[LogLineOut]
    truncated: bool
    recorded: bool  # whether this read was recorded in the ledger (audit and security logs)
