"""Wire schemas of the scheduler API: durable timers as operators see them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

__all__ = ["JobOut"]


class JobOut(BaseModel):
    """A durable timer: what it does, when it is due, how its last firings went."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    key: str
    status: str
    due_at: datetime
    recurrence: str | None
    attempts: int
    last_error: str | None
    fired_at: datetime | None
    fired_by: str | None
    lease_until: datetime | None = None
