"""The evidence ledger on both store backends: sealing, proofs, tampering, export."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from leitstand.auth.model import Actor
from leitstand.bootstrap import Container
from leitstand.errors import NotFoundError, ValidationError
from leitstand.ledger.checkpoint import open_checkpoint
from leitstand.ledger.export import verify_export
from leitstand.ledger.merkle import leaf_hash, verify_inclusion
from leitstand.ledger.service import EntryQuery
from leitstand.testing import ManualClock

ACTOR = Actor(name="anna", role="devops")


def record(container: Container, n: int, *, tenant: str | None = None) -> None:
    for i in range(n):
        container.audit.record(
            actor=ACTOR, action="manual.check", subject=f"item:{i}", tenant=tenant, payload={"i": i}
        )


def tamper(container: Container, statement: str, **params: object) -> None:
    """Change the store behind leitstand's back, switching the append-only triggers off."""
    engine = container.db.engine
    with engine.begin() as conn:
        if container.db.is_postgres:
            conn.exec_driver_sql("ALTER TABLE ledger_entries DISABLE TRIGGER USER")
            conn.execute(sa.text(statement), params)
            conn.exec_driver_sql("ALTER TABLE ledger_entries ENABLE TRIGGER USER")
        else:
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS ledger_entries_no_update")
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS ledger_entries_no_delete")
            conn.execute(sa.text(statement), params)


def test_every_commit_ends_with_a_signed_checkpoint_covering_its_entries(
    container: Container,
) -> None:
    record(container, 3)
    with container.db.reader() as session:
        head = container.ledger.head(session)
    assert head.size == 3
    assert head.note is not None
    checkpoint = open_checkpoint(head.note, container.ledger.signer.verifier)
    assert checkpoint.size == 3
    assert checkpoint.origin == container.policy.evidence.origin


def test_a_rolled_back_transaction_leaves_no_entry(container: Container) -> None:
    record(container, 1)
    with pytest.raises(RuntimeError), container.db.transaction() as session:
        container.ledger.append(session, actor="a", role="devops", action="x.y", subject="s")
        raise RuntimeError("service failed after appending")
    with container.db.reader() as session:
        assert container.ledger.head(session).size == 1
    assert container.audit.verify().ok


def test_entries_appended_in_a_rolled_back_savepoint_are_dropped(container: Container) -> None:
    with container.db.transaction() as session:
        container.ledger.append(session, actor="a", role="devops", action="keep.one", subject="s")
        with pytest.raises(RuntimeError), session.begin_nested():
            container.ledger.append(
                session, actor="a", role="devops", action="drop.me", subject="s"
            )
            raise RuntimeError("inner step failed")
        container.ledger.append(session, actor="a", role="devops", action="keep.two", subject="s")
    actions = [e.action for e in container.audit.log(EntryQuery(newest_first=False))]
    assert actions == ["keep.one", "keep.two"]
    assert container.audit.verify().ok


def test_secrets_in_payloads_are_redacted_before_hashing(container: Container) -> None:
    entry = container.audit.record(
        actor=ACTOR,
        action="manual.config",
        subject="db",
        payload={"user": "app", "password": "hunter2", "nested": {"api_key": "k"}},
    )
    assert entry.payload == {
        "user": "app",
        "password": "[redacted]",
        "nested": {"api_key": "[redacted]"},
    }
    with container.db.reader() as session:
        body = session.execute(sa.text("SELECT body FROM ledger_entries")).scalar_one()
    assert b"hunter2" not in bytes(body)


def test_bad_payload_is_refused_with_its_field(container: Container) -> None:
    with pytest.raises(ValidationError) as info:
        container.audit.record(actor=ACTOR, action="", subject="s", payload={"a": 1})
    assert "action: must not be empty" in str(info.value)
    with pytest.raises(ValidationError, match="payload: must be at most"):
        container.audit.record(actor=ACTOR, action="a.b", subject="s", payload={"x": "y" * 70000})


def test_log_filters_by_action_tenant_and_time(container: Container, clock: ManualClock) -> None:
    record(container, 2, tenant="makler-nord")
    clock.advance(timedelta(hours=2))
    record(container, 1, tenant="makler-sued")
    since = clock.now() - timedelta(hours=1)
    assert [e.tenant for e in container.audit.log(EntryQuery(since=since))] == ["makler-sued"]
    assert len(container.audit.log(EntryQuery(tenant="makler-nord"))) == 2
    assert len(container.audit.log(EntryQuery(action="manual.*"))) == 3
    assert container.audit.log(EntryQuery(action="manual.other")) == []


def test_every_entry_has_an_inclusion_proof_against_the_signed_head(
    container: Container,
) -> None:
    record(container, 13)
    for index in range(13):
        proof = container.audit.prove(index)
        assert proof.verified
        checkpoint = open_checkpoint(proof.checkpoint, container.ledger.signer.verifier)
        assert verify_inclusion(
            proof.leaf_hash, index, checkpoint.size, proof.hashes, checkpoint.root_hash
        )
    with pytest.raises(NotFoundError):
        container.audit.prove(13)


def test_an_intact_ledger_verifies(container: Container) -> None:
    record(container, 25)
    report = container.audit.verify()
    assert report.ok, report.problems
    assert report.entries_checked == 25
    assert report.witness_checked >= 1


def test_a_modified_entry_is_named_by_index(container: Container) -> None:
    record(container, 10)
    tamper(
        container,
        "UPDATE ledger_entries SET body = :body WHERE idx = 6",
        body=b'{"action":"forged"}',
    )
    report = container.audit.verify()
    assert not report.ok
    assert report.first_bad_index == 6


def test_a_modified_entry_with_rewritten_hashes_is_caught_by_the_checkpoints(
    container: Container,
) -> None:
    record(container, 10)
    entry = container.audit.log(EntryQuery(limit=1, newest_first=False, subject="item:4"))[0]
    forged = entry.as_dict() | {"payload": {"i": 999}}
    from leitstand.ledger.canonical import canonical_bytes

    body = canonical_bytes(forged)
    with container.db.reader() as session:
        nodes = bytes(
            session.execute(sa.text("SELECT nodes FROM ledger_entries WHERE idx = 4")).scalar_one()
        )
    tamper(
        container,
        "UPDATE ledger_entries SET body = :body, nodes = :nodes WHERE idx = 4",
        body=body,
        nodes=leaf_hash(body) + nodes[32:],
    )
    report = container.audit.verify()
    assert not report.ok
    assert report.first_bad_index is not None
    assert report.first_bad_index <= 4


def test_a_deleted_entry_is_named_by_index(container: Container) -> None:
    record(container, 8)
    tamper(container, "DELETE FROM ledger_entries WHERE idx = 3")
    report = container.audit.verify()
    assert report.first_bad_index == 3
    assert "missing" in str(report.problems[0])


def test_swapped_entries_are_named_by_index(container: Container) -> None:
    record(container, 8)
    with container.db.reader() as session:
        rows = dict(
            session.execute(
                sa.text("SELECT idx, body FROM ledger_entries WHERE idx IN (2, 5)")
            ).all()
        )
    tamper(container, "UPDATE ledger_entries SET body = :b WHERE idx = 2", b=rows[5])
    tamper(container, "UPDATE ledger_entries SET body = :b WHERE idx = 5", b=rows[2])
    report = container.audit.verify()
    assert report.first_bad_index == 2
    assert "reordered" in str(report.problems[0])


def test_an_inserted_entry_is_named_by_index(container: Container) -> None:
    record(container, 6)
    # Make room by moving the last entry up, then insert a forged one in its place.
    tamper(container, "UPDATE ledger_entries SET idx = 6 WHERE idx = 5")
    tamper(
        container,
        "INSERT INTO ledger_entries (idx, recorded_at, actor, role, action, subject, tenant,"
        " body, nodes) SELECT 5, recorded_at, actor, role, 'forged', subject, tenant, body,"
        " nodes FROM ledger_entries WHERE idx = 4",
    )
    report = container.audit.verify()
    assert not report.ok
    assert report.first_bad_index == 5


def test_truncating_the_log_and_its_head_is_caught_by_the_second_location(
    container: Container,
) -> None:
    record(container, 150)  # crosses the keep-every-100 boundary: a copy sits at the witness
    with container.db.reader() as session:
        old = session.execute(
            sa.text("SELECT size, note, root FROM ledger_checkpoints ORDER BY size LIMIT 1")
        ).one()
    tamper(container, "DELETE FROM ledger_entries WHERE idx >= :n", n=int(old.size))
    with container.db.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM ledger_checkpoints WHERE size > :n"), {"n": old.size})
        conn.execute(
            sa.text("UPDATE ledger_state SET size = :n, note = :note, root = :root"),
            {"n": old.size, "note": old.note, "root": old.root},
        )
    report = container.audit.verify()
    assert not report.ok
    assert any("second-location" in p.message for p in report.problems)


def test_a_forged_checkpoint_signature_fails_verification(container: Container) -> None:
    record(container, 4)
    with container.db.reader() as session:
        note = session.execute(sa.text("SELECT note FROM ledger_state")).scalar_one()
    forged = note[:-10] + ("A" if note[-10] != "A" else "B") + note[-9:]
    with container.db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE ledger_state SET note = :n"), {"n": forged})
    report = container.audit.verify()
    assert not report.ok
    assert "signed head" in str(report.problems[0])


def test_the_entries_table_refuses_update_and_delete(container: Container) -> None:
    record(container, 2)
    with (
        pytest.raises(sa.exc.DatabaseError, match="append-only"),
        container.db.engine.begin() as conn,
    ):
        conn.exec_driver_sql("UPDATE ledger_entries SET action = 'x' WHERE idx = 0")
    with (
        pytest.raises(sa.exc.DatabaseError, match="append-only"),
        container.db.engine.begin() as conn,
    ):
        conn.exec_driver_sql("DELETE FROM ledger_entries WHERE idx = 1")


def test_concurrent_appenders_get_consecutive_indices(container: Container) -> None:
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(15):
                container.audit.record(actor=ACTOR, action="load.test", subject=f"w{n}:{i}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    entries = container.audit.log(EntryQuery(limit=None, newest_first=False))
    assert [e.index for e in entries] == list(range(60))
    assert container.audit.verify().ok


def test_export_verifies_offline_and_detects_a_changed_line(
    container: Container, clock: ManualClock, tmp_path: Path
) -> None:
    record(container, 5)
    clock.advance(timedelta(days=1))
    start = clock.now()
    record(container, 7, tenant="makler-nord")
    clock.advance(timedelta(days=1))
    record(container, 4)
    full = container.audit.export(tmp_path / "full")
    assert (full.first_index, full.count) == (0, 16)
    assert verify_export(tmp_path / "full").ok
    window = container.audit.export(
        tmp_path / "window", since=start, until=start + timedelta(hours=1)
    )
    assert (window.first_index, window.count) == (5, 7)
    report = verify_export(tmp_path / "window")
    assert report.ok, report.problems
    lines = (tmp_path / "window" / "entries.jsonl").read_bytes().splitlines()
    lines[3] = lines[3].replace(b"makler-nord", b"makler-sued")
    (tmp_path / "window" / "entries.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    assert not verify_export(tmp_path / "window").ok
