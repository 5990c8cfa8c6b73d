"""Queries of the ledger's entries, its head row and its kept checkpoints."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from leitstand.ledger.store.tables import LedgerCheckpointRow, LedgerEntryRow, LedgerStateRow

__all__ = [
    "EntryScan",
    "LedgerState",
    "add_checkpoint",
    "checkpoints",
    "copied_checkpoints",
    "entry_bodies",
    "entry_range",
    "head_row",
    "index_bounds",
    "insert_entries",
    "kept_checkpoints",
    "mark_copied",
    "nodes",
    "scan_entries",
    "state",
    "uncopied_checkpoints",
    "update_state",
]

ENTRIES = cast(sa.Table, LedgerEntryRow.__table__)

# Statements built once: proofs are a hot path, and compiling a select costs more than running it.
_HEAD = sa.select(
    LedgerStateRow.size, LedgerStateRow.root, LedgerStateRow.note, LedgerStateRow.updated_at
).where(LedgerStateRow.id == 1)
_NODES = sa.select(
    ENTRIES.c.idx,
    ENTRIES.c.nodes,
    sa.case((ENTRIES.c.idx == sa.bindparam("body_of"), ENTRIES.c.body), else_=sa.null()),
).where(ENTRIES.c.idx.in_(sa.bindparam("rows", expanding=True)))


# -- the head row --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LedgerState:
    """The head row's values (plain data: usable after the session has ended)."""

    size: int
    frontier: bytes
    root: bytes
    note: str | None
    kept_size: int
    kept_at: datetime | None
    updated_at: datetime | None


_STATE = sa.select(
    LedgerStateRow.size,
    LedgerStateRow.frontier,
    LedgerStateRow.root,
    LedgerStateRow.note,
    LedgerStateRow.kept_size,
    LedgerStateRow.kept_at,
    LedgerStateRow.updated_at,
).where(LedgerStateRow.id == 1)


def state(session: Session, *, for_update: bool = False) -> LedgerState | None:
    """The head row; ``for_update`` queues on it (PostgreSQL: ``FOR UPDATE``).

    SQLite's BEGIN IMMEDIATE already holds the database write lock.
    """
    stmt = _STATE
    if for_update and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = session.execute(stmt).one_or_none()
    return None if row is None else LedgerState(*row)


def update_state(session: Session, values: Mapping[str, Any]) -> None:
    session.execute(sa.update(LedgerStateRow).where(LedgerStateRow.id == 1).values(**values))


def head_row(session: Session) -> tuple[int, bytes, str | None, datetime | None] | None:
    """Size, root, signed note and update time of the head, if the row exists."""
    row = session.execute(_HEAD).one_or_none()
    if row is None:
        return None
    return (row.size, row.root, row.note, row.updated_at)


# -- entries -------------------------------------------------------------------------------------


def insert_entries(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    # A Core insert is one executemany; the ORM bulk path would split the batch into runs
    # wherever an optional column (tenant) is None.
    session.execute(sa.insert(ENTRIES), list(rows))


def entry_bodies(
    session: Session,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    action: str | None = None,
    tenant: str | None = None,
    subject: str | None = None,
    limit: int | None = None,
    newest_first: bool = True,
) -> list[bytes]:
    """The canonical bytes of the matching entries; ``action`` may end in ``*`` (a prefix)."""
    stmt = sa.select(LedgerEntryRow.body)
    if since is not None:
        stmt = stmt.where(LedgerEntryRow.recorded_at >= since)
    if until is not None:
        stmt = stmt.where(LedgerEntryRow.recorded_at < until)
    if action is not None:
        if action.endswith("*"):
            stmt = stmt.where(LedgerEntryRow.action.startswith(action[:-1], autoescape=True))
        else:
            stmt = stmt.where(LedgerEntryRow.action == action)
    if tenant is not None:
        stmt = stmt.where(LedgerEntryRow.tenant == tenant)
    if subject is not None:
        stmt = stmt.where(LedgerEntryRow.subject == subject)
    order = LedgerEntryRow.idx.desc() if newest_first else LedgerEntryRow.idx.asc()
    stmt = stmt.order_by(order)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.execute(stmt).scalars())


def index_bounds(
    session: Session, *, since: datetime | None, until: datetime | None
) -> tuple[int | None, int | None]:
    """The lowest and highest index recorded in the time window (None, None: none)."""
    stmt = sa.select(sa.func.min(LedgerEntryRow.idx), sa.func.max(LedgerEntryRow.idx))
    if since is not None:
        stmt = stmt.where(LedgerEntryRow.recorded_at >= since)
    if until is not None:
        stmt = stmt.where(LedgerEntryRow.recorded_at < until)
    row = session.execute(stmt).one()
    return cast("tuple[int | None, int | None]", (row[0], row[1]))


def nodes(
    session: Session, rows: Sequence[int], *, body_of: int | None = None
) -> Iterator[tuple[int, bytes, bytes | None]]:
    """(index, stored subtree hashes, body if it is ``body_of``) of the entries ``rows``."""
    connection = session.connection()
    for chunk_start in range(0, len(rows), 500):
        chunk = list(rows[chunk_start : chunk_start + 500])
        for idx, stored, body in connection.execute(
            _NODES, {"rows": chunk, "body_of": -1 if body_of is None else body_of}
        ):
            yield int(idx), stored, body


def entry_range(session: Session, first: int, end: int) -> Iterator[tuple[bytes, bytes]]:
    """(body, stored hashes) of the entries in ``[first, end)``, in index order, streamed."""
    stmt = (
        sa.select(LedgerEntryRow.body, LedgerEntryRow.nodes)
        .where(LedgerEntryRow.idx >= first, LedgerEntryRow.idx < end)
        .order_by(LedgerEntryRow.idx)
        .execution_options(yield_per=10_000)
    )
    for row in session.execute(stmt):
        yield row[0], row[1]


class EntryScan:
    """Every entry with its indexed columns, streamed in index order (close when stopping)."""

    def __init__(self, result: sa.CursorResult[Any]) -> None:
        self._result = result

    def __iter__(self) -> Iterator[Any]:
        return iter(self._result)

    def close(self) -> None:
        # A PostgreSQL server-side cursor must be closed when the reader stops early.
        self._result.close()


def scan_entries(session: Session, *, chunk: int) -> tuple[Callable[[str, Any], bool], EntryScan]:
    """How to compare an entry's RFC 3339 time with its stored column, and the rows.

    Each row: idx, body, nodes, recorded_at, actor, role, action, subject, tenant. Core rows on
    the session's connection: no ORM objects and no per-row type decorator, which would cost
    more than the hashing itself.
    """
    same_time, time_column = _time_comparison(session)
    table = ENTRIES.c
    stmt = sa.select(
        table.idx,
        table.body,
        table.nodes,
        time_column,
        table.actor,
        table.role,
        table.action,
        table.subject,
        table.tenant,
    ).order_by(table.idx)
    result = session.connection().execution_options(yield_per=chunk).execute(stmt)
    return same_time, EntryScan(result)


def _time_comparison(
    session: Session,
) -> tuple[Callable[[str, Any], bool], sa.ColumnElement[Any]]:
    """How to compare an entry's RFC 3339 time with the stored column, cheaply per backend."""
    column = ENTRIES.c.recorded_at
    if session.get_bind().dialect.name == "sqlite":
        # SQLite keeps "YYYY-MM-DD HH:MM:SS.ffffff" (UTC): compare the text itself.
        def same_text(entry_time: str, stored: Any) -> bool:
            return bool(stored == entry_time[:-1].replace("T", " "))

        return same_text, sa.type_coerce(column, sa.String)

    def same_instant(entry_time: str, stored: Any) -> bool:
        try:
            return bool(datetime.fromisoformat(entry_time) == stored)
        except (TypeError, ValueError):
            return False

    return same_instant, sa.type_coerce(column, sa.DateTime(timezone=True))


# -- kept checkpoints ----------------------------------------------------------------------------


def add_checkpoint(
    session: Session, *, size: int, root: bytes, note: str, created_at: datetime
) -> None:
    session.execute(
        sa.insert(LedgerCheckpointRow).values(
            size=size, root=root, note=note, created_at=created_at, copied_at=None
        )
    )


def uncopied_checkpoints(session: Session) -> list[LedgerCheckpointRow]:
    """Kept checkpoints not yet at the second location, by size."""
    return list(
        session.execute(
            sa.select(LedgerCheckpointRow)
            .where(LedgerCheckpointRow.copied_at.is_(None))
            .order_by(LedgerCheckpointRow.size)
        ).scalars()
    )


def mark_copied(session: Session, sizes: Sequence[int], now: datetime, folder: str) -> None:
    """Note that the kept checkpoints of ``sizes`` are at the second location ``folder``."""
    session.execute(
        sa.update(LedgerCheckpointRow)
        .where(LedgerCheckpointRow.size.in_(list(sizes)), LedgerCheckpointRow.copied_at.is_(None))
        .values(copied_at=now, copied_to=folder)
    )


def checkpoints(session: Session) -> Iterator[LedgerCheckpointRow]:
    """Every kept checkpoint row, by size."""
    yield from session.execute(
        sa.select(LedgerCheckpointRow).order_by(LedgerCheckpointRow.size)
    ).scalars()


def kept_checkpoints(session: Session, *, up_to: int) -> list[tuple[int, str]]:
    """(size, note) of the kept checkpoints up to ``up_to`` entries, by size."""
    return [
        (int(s), str(n))
        for s, n in session.execute(
            sa.select(LedgerCheckpointRow.size, LedgerCheckpointRow.note)
            .where(LedgerCheckpointRow.size <= up_to)
            .order_by(LedgerCheckpointRow.size)
        ).all()
    ]


def copied_checkpoints(session: Session, folder: str) -> list[tuple[int, str]]:
    """(size, note) of the kept checkpoints noted as copied to ``folder`` (or to an unnamed
    folder, before the folder was recorded)."""
    column = LedgerCheckpointRow.copied_to
    return [
        (int(s), str(n))
        for s, n in session.execute(
            sa.select(LedgerCheckpointRow.size, LedgerCheckpointRow.note)
            .where(
                LedgerCheckpointRow.copied_at.is_not(None),
                sa.or_(column.is_(None), column == folder),
            )
            .order_by(LedgerCheckpointRow.size)
        ).all()
    ]
