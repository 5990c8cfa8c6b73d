"""The session events the ledger seals its entries on (before every commit)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["SessionFactory", "listen"]

SessionFactory = sessionmaker[Session]


def listen(
    sessions: SessionFactory,
    *,
    before_commit: Callable[[Session], None],
    after_commit: Callable[[Session], None],
    after_transaction_end: Callable[[Session, Any], None],
    after_transaction_create: Callable[[Session, Any], None],
    after_soft_rollback: Callable[[Session, Any], None],
) -> None:
    """Call the ledger's hooks on every session ``sessions`` makes."""
    event.listen(sessions, "before_commit", before_commit)
    event.listen(sessions, "after_commit", after_commit)
    event.listen(sessions, "after_transaction_end", after_transaction_end)
    event.listen(sessions, "after_transaction_create", after_transaction_create)
    event.listen(sessions, "after_soft_rollback", after_soft_rollback)
