"""Shared parameter and field types of the HTTP API: bounded ids, page sizes and timestamps.

Every router uses these instead of a bare ``int`` or ``datetime``, so an id of 2**31, a page
size of a billion or a timestamp in the year 1 is a 422 naming the parameter, never a database
overflow (500) or a row that later breaks the pages that show it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Path, Query
from pydantic import AfterValidator, AwareDatetime, Field
from pydantic_core import PydanticCustomError

__all__ = [
    "EARLIEST_YEAR",
    "LATEST_YEAR",
    "MAX_DB_INT",
    "MAX_PAGE_SIZE",
    "MAX_ROW_ID",
    "DbId",
    "Limit",
    "PathId",
    "PathIndex",
    "QueryId",
    "QueryTimestamp",
    "Timestamp",
    "sane_timestamp",
]

#: The largest value a BIGINT column holds (PostgreSQL and SQLite alike): ledger indexes.
MAX_DB_INT = 2**63 - 1
#: The largest row id: ids are INTEGER primary keys, 32 bits on PostgreSQL.
MAX_ROW_ID = 2**31 - 1
#: The largest page any list route returns (``?limit=``); a route may allow fewer.
MAX_PAGE_SIZE = 10_000
#: Timestamps outside these years are typing errors (year 1, 9999), not events.
EARLIEST_YEAR = 1970
LATEST_YEAR = 2199

_ID_HELP = f"a positive integer id (1 to {MAX_ROW_ID})"

#: A row id in a path: ``/releases/{release_id}``.
PathId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description=_ID_HELP)]
#: A position in a list that starts at 0 (a ledger index).
PathIndex = Annotated[int, Path(ge=0, le=MAX_DB_INT, description=f"0 to {MAX_DB_INT}")]
#: A row id in a query string: ``?change=17``.
QueryId = Annotated[int, Query(ge=1, le=MAX_ROW_ID, description=_ID_HELP)]
#: A row id in a JSON body.
DbId = Annotated[int, Field(ge=1, le=MAX_ROW_ID, description=_ID_HELP)]
#: A page size: ``?limit=``; use as ``limit: Limit = 100``.
Limit = Annotated[
    int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"page size, 1 to {MAX_PAGE_SIZE}")
]


def sane_timestamp(value: datetime) -> datetime:
    """Refuse timestamps outside EARLIEST_YEAR..LATEST_YEAR (checked on the year, no arithmetic)."""
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise PydanticCustomError(
            "timestamp_range",
            "a timestamp between {low} and {high} (got year {year})",
            {"low": EARLIEST_YEAR, "high": LATEST_YEAR, "year": value.year},
        )
    return value


#: A timestamp with a time zone, within EARLIEST_YEAR..LATEST_YEAR (every input schema).
Timestamp = Annotated[AwareDatetime, AfterValidator(sane_timestamp)]
#: The same, for query parameters, where a naive value means UTC as before.
QueryTimestamp = Annotated[datetime, AfterValidator(sane_timestamp)]
