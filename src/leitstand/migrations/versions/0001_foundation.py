"""Foundation: evidence ledger, users and tokens, durable timers.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from leitstand.db import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_SQLITE_TRIGGERS = (
    """CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries
    BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only: UPDATE refused'); END""",
    """CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries
    BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only: DELETE refused'); END""",
)
_PG_FUNCTION = """CREATE FUNCTION ledger_entries_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger_entries is append-only: % refused', TG_OP;
END $$"""
_PG_TRIGGERS = (
    """CREATE TRIGGER ledger_entries_no_change BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only()""",
    """CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_append_only()""",
)


def upgrade() -> None:
    op.create_table(
        "ledger_entries",
        sa.Column("idx", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("role", sa.String(64), nullable=False),
        sa.Column("action", sa.String(200), nullable=False),
        sa.Column("subject", sa.String(500), nullable=False),
        sa.Column("tenant", sa.String(200), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("nodes", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_ledger_entries_recorded_at", "ledger_entries", ["recorded_at"])
    op.create_index("ix_ledger_entries_action", "ledger_entries", ["action"])
    op.create_index("ix_ledger_entries_tenant", "ledger_entries", ["tenant"])
    op.create_table(
        "ledger_checkpoints",
        sa.Column("size", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("root", sa.LargeBinary(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("copied_at", UTCDateTime(), nullable=True),
    )
    state = op.create_table(
        "ledger_state",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("frontier", sa.LargeBinary(), nullable=False),
        sa.Column("root", sa.LargeBinary(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("kept_size", sa.BigInteger(), nullable=False),
        sa.Column("kept_at", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=True),
    )
    empty_root = bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    op.bulk_insert(
        state, [{"id": 1, "size": 0, "frontier": b"", "root": empty_root, "kept_size": 0}]
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(63), nullable=False, unique=True),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("disabled_at", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"])
    op.create_table(
        "scheduler_jobs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(100), nullable=False),
        sa.Column("key", sa.String(300), nullable=False, unique=True),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("recurrence", sa.String(200), nullable=True),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("fired_at", UTCDateTime(), nullable=True),
        sa.Column("fired_by", sa.String(200), nullable=True),
    )
    op.create_index("ix_scheduler_jobs_status_due", "scheduler_jobs", ["status", "due_at"])
    op.create_table(
        "scheduler_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "job_id",
            sa.Integer(),
            sa.ForeignKey("scheduler_jobs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("fired_at", UTCDateTime(), nullable=False),
        sa.Column("instance", sa.String(200), nullable=False),
        sa.UniqueConstraint("job_id", "due_at", name="uq_scheduler_runs_job_due"),
    )
    op.create_index("ix_scheduler_runs_job_id", "scheduler_runs", ["job_id"])
    if op.get_context().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        for statement in _PG_TRIGGERS:
            op.execute(statement)
    else:
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS ledger_entries_no_truncate ON ledger_entries")
        op.execute("DROP TRIGGER IF EXISTS ledger_entries_no_change ON ledger_entries")
        op.execute("DROP FUNCTION IF EXISTS ledger_entries_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS ledger_entries_no_update")
        op.execute("DROP TRIGGER IF EXISTS ledger_entries_no_delete")
    op.drop_index("ix_scheduler_runs_job_id", table_name="scheduler_runs")
    op.drop_table("scheduler_runs")
    op.drop_index("ix_scheduler_jobs_status_due", table_name="scheduler_jobs")
    op.drop_table("scheduler_jobs")
    op.drop_index("ix_api_tokens_user_id", table_name="api_tokens")
    op.drop_table("api_tokens")
    op.drop_table("users")
    op.drop_table("ledger_state")
    op.drop_table("ledger_checkpoints")
    op.drop_index("ix_ledger_entries_tenant", table_name="ledger_entries")
    op.drop_index("ix_ledger_entries_action", table_name="ledger_entries")
    op.drop_index("ix_ledger_entries_recorded_at", table_name="ledger_entries")
    op.drop_table("ledger_entries")
