"""The auditor's export as one download: ``audit export`` of a period, packed as a tar.gz.

The archive holds exactly the folder ``export_ledger`` writes (entries, signed checkpoint,
inclusion proofs, public key), so ``leitstand audit verify --export`` checks it offline after
``tar xzf``. The export itself is recorded in the ledger (``ledger.exported``) by the audit
service, with the actor who downloaded it.
"""

from __future__ import annotations

import io
import tarfile
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from leitstand.errors import Issue, ValidationError
from leitstand.identity import Actor
from leitstand.ledger.audit import AuditService

__all__ = ["export_archive", "zone"]


def zone(name: str) -> ZoneInfo:
    """The time zone ``name`` (IANA, e.g. Europe/Berlin), or a clear 422."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValidationError(
            [Issue("tz", f"an IANA time zone like Europe/Berlin (got {name!r})")]
        ) from None


def export_archive(
    audit: AuditService,
    *,
    since: datetime | None,
    until: datetime | None,
    actor: Actor,
    now: datetime,
    tz: ZoneInfo,
) -> tuple[bytes, str]:
    """The export of ``since``..``until`` as tar.gz bytes, and the archive's file name."""
    # A time without a zone is in ``tz`` (UTC in the API; the UI's form says Europe/Berlin).
    since, until = _aware(since, tz), _aware(until, tz)
    if since is not None and until is not None and until <= since:
        raise ValidationError([Issue("until", "must be after since")])
    name = f"leitstand-audit-{now:%Y%m%dT%H%M%SZ}"
    with tempfile.TemporaryDirectory(prefix="leitstand-export-") as tmp:
        folder = Path(tmp) / name
        audit.export(folder, since=since, until=until, actor=actor)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            tar.add(folder, arcname=name)
    return buffer.getvalue(), f"{name}.tar.gz"


def _aware(value: datetime | None, tz: ZoneInfo) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=tz).astimezone(UTC)
