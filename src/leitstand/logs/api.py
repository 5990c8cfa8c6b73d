"""Logs API: the log types, and search with the policy's readers per type.

The route admits every role; the service decides per log type from the policy
(``logs.streams.types.<type>.readers``: audit logs for the compliance officer and the auditor)
and records every read of audit and security logs in the ledger (``log.read``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from leitstand.api_types import Limit, QueryTimestamp
from leitstand.auth.api import requires
from leitstand.auth.model import ALL_ROLES, READ_ROLES, Actor
from leitstand.deps import provide
from leitstand.logs.schemas import LogSearchOut, LogTypeOut
from leitstand.logs.service import LogService

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/logs", tags=["logs"])
Logs = Annotated[LogService, provide(LogService)]
LogTypeKey = Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_-]*$")]
Grep = Annotated[str | None, Query(max_length=200, description="Text to find (any case)")]


@router.get("/types")
def list_types(logs: Logs, _: Annotated[Actor, requires(*READ_ROLES)]) -> list[LogTypeOut]:
    """The policy's log types with retention, stream, rotation, readers and legal hold."""
    return logs.types()


@router.get("/search")
def search(
    logs: Logs,
    actor: Annotated[Actor, requires(*ALL_ROLES)],
    type: LogTypeKey,
    since: QueryTimestamp | None = None,
    grep: Grep = None,
    limit: Limit = 200,
) -> LogSearchOut:
    """Lines of one log type, if the caller's role may read it (403 otherwise)."""
    return logs.search(actor=actor, log_type=type, since=since, grep=grep, limit=limit)
