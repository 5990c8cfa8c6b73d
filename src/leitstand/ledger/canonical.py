"""Canonical bytes of an evidence entry, and the secret redaction applied before hashing
(``leitstand.redaction``: key names and value patterns; check results are kept).

The canonical form is compact JSON with sorted keys in UTF-8 (orjson ``OPT_SORT_KEYS``), one line.
The stored bytes are what is hashed and exported, so a verifier never re-serialises anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from leitstand.clock import isoformat_utc
from leitstand.errors import Issue, ValidationError
from leitstand.redaction import redact

__all__ = [
    "ENTRY_VERSION",
    "FIELD_SET",
    "MAX_PAYLOAD_BYTES",
    "Entry",
    "canonical_bytes",
    "decode_entry",
    "encode_entry",
    "redact",
]

ENTRY_VERSION = 1
MAX_PAYLOAD_BYTES = 64 * 1024
FIELD_SET = frozenset(
    ("v", "index", "time", "actor", "role", "action", "subject", "tenant", "payload")
)


@dataclass(frozen=True, slots=True)
class Entry:
    """A decoded evidence entry."""

    index: int
    time: str
    actor: str
    role: str
    action: str
    subject: str
    tenant: str | None
    payload: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "v": ENTRY_VERSION,
            "index": self.index,
            "time": self.time,
            "actor": self.actor,
            "role": self.role,
            "action": self.action,
            "subject": self.subject,
            "tenant": self.tenant,
            "payload": self.payload,
        }


def canonical_bytes(value: Any) -> bytes:
    """Serialise JSON data canonically (sorted keys, compact, UTF-8)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError as exc:
        raise ValidationError([Issue("payload", f"must be JSON data ({exc})")]) from exc


def encode_entry(
    *,
    index: int,
    time: datetime,
    actor: str,
    role: str,
    action: str,
    subject: str,
    tenant: str | None,
    payload: Mapping[str, Any] | None,
) -> tuple[Entry, bytes]:
    """Build an entry and its canonical bytes; refuse payloads that are not small JSON objects."""
    issues = []
    for name, text in (("actor", actor), ("role", role), ("action", action), ("subject", subject)):
        if not text or not text.strip():
            issues.append(Issue(name, "must not be empty"))
    if payload is not None and not isinstance(payload, Mapping):
        # Typed callers cannot get here; the API and CLI pass user input through.
        issues.append(  # type: ignore[unreachable]
            Issue("payload", f"must be a JSON object (got {type(payload).__name__})")
        )
    if issues:
        raise ValidationError(issues)
    clean = redact(dict(payload or {}))
    entry = Entry(
        index=index,
        time=isoformat_utc(time),
        actor=actor,
        role=role,
        action=action,
        subject=subject,
        tenant=tenant,
        payload=clean,
    )
    body = canonical_bytes(entry.as_dict())
    # The entry is larger than its payload, so the payload is measured only for big entries.
    if len(body) > MAX_PAYLOAD_BYTES and len(canonical_bytes(clean)) > MAX_PAYLOAD_BYTES:
        size = len(canonical_bytes(clean))
        raise ValidationError(
            [Issue("payload", f"must be at most {MAX_PAYLOAD_BYTES} bytes (got {size})")]
        )
    return entry, body


def decode_entry(body: bytes) -> Entry:
    """Parse canonical bytes back into an Entry; raises ValueError when the shape is wrong."""
    data = orjson.loads(body)
    if not isinstance(data, dict) or data.keys() != FIELD_SET:
        raise ValueError("entry does not have the expected fields")
    if data["v"] != ENTRY_VERSION:
        raise ValueError(f"unknown entry version {data['v']!r}")
    return Entry(
        index=int(data["index"]),
        time=str(data["time"]),
        actor=str(data["actor"]),
        role=str(data["role"]),
        action=str(data["action"]),
        subject=str(data["subject"]),
        tenant=None if data["tenant"] is None else str(data["tenant"]),
        payload=dict(data["payload"]),
    )
