"""Shared field types of the read models that services return and the API answers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import PlainSerializer

__all__ = ["IsoTime"]


def _iso(value: datetime) -> str:
    return value.isoformat()


#: A time in JSON as ``datetime.isoformat()`` gives it (``+00:00``, as the API always wrote it).
IsoTime = Annotated[datetime, PlainSerializer(_iso, return_type=str, when_used="json")]
