"""Witnesses outside the database's reach: delivery, verification, and the rollback attack."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from leitstand.alerting.store import AlertRow
from leitstand.auth.model import Actor
from leitstand.bootstrap import Container, build
from leitstand.ledger.canonical import canonical_bytes
from leitstand.ledger.jobs import OVERDUE_ALERT, check_overdue
from leitstand.ledger.merkle import CompactRange, decompose, leaf_hash
from leitstand.ledger.service import EntryQuery
from leitstand.ledger.store import WitnessDeliveryRow
from leitstand.ledger.verify import verify_database
from leitstand.ledger.witness_server import WitnessCore, WitnessServer
from leitstand.ledger.witnessing import deliver_all
from leitstand.policy.ledger import LedgerPolicy, WitnessPolicy
from leitstand.policy.model import Policy
from leitstand.policy.tenants import EvidencePolicy
from leitstand.settings import Settings
from leitstand.testing import ManualClock

from .test_ledger_service import record, tamper

SYSTEM = Actor(name="test", role="system")


def _serve(core: WitnessCore, port: int = 0) -> WitnessServer:
    server = WitnessServer(core, port=port)
    server.start()
    return server


@pytest.fixture
def witnesses(tmp_path: Path) -> Iterator[list[WitnessServer]]:
    servers = [
        _serve(WitnessCore(tmp_path / name, name=f"witness.test/{name}", log_keys=[]))
        for name in ("w1", "w2")
    ]
    yield servers
    for server in servers:
        server.shutdown()
        server.server_close()


def _policy(servers: list[WitnessServer]) -> Policy:
    return Policy(
        evidence=EvidencePolicy(checkpoint_copy_every_entries=10),
        ledger=LedgerPolicy(
            witnesses=[
                WitnessPolicy(
                    name=s.core.key.name.rsplit("/", 1)[1], url=s.url, key=s.core.key.format()
                )
                for s in servers
            ],
            witness_timeout_seconds=2,
        ),
    )


@pytest.fixture
def witnessed(
    settings: Settings, clock: ManualClock, witnesses: list[WitnessServer]
) -> Iterator[Container]:
    c = build(settings, clock=clock, migrate=True, policy=_policy(witnesses))
    verifier = c.ledger.signer.verifier
    for server in witnesses:
        server.core.log_keys[verifier.name] = [verifier]  # each witness trusts this ledger
    try:
        yield c
    finally:
        c.close()


def _settle(container: Container) -> None:
    witnessing = container.ledger.witness
    assert witnessing is not None
    assert witnessing.wait_idle(30)


def _deliveries(container: Container) -> list[tuple[str, int, bool]]:
    with container.db.reader() as session:
        rows = session.execute(
            sa.select(WitnessDeliveryRow).order_by(
                WitnessDeliveryRow.witness, WitnessDeliveryRow.size
            )
        ).scalars()
        return [(r.witness, r.size, r.cosigned_at is not None) for r in rows]


def test_every_kept_checkpoint_is_queued_cosigned_by_every_witness_and_stored(
    witnessed: Container, witnesses: list[WitnessServer]
) -> None:
    record(witnessed, 25)
    _settle(witnessed)
    deliver_all(witnessed.db, witnessed.ledger)  # what the scheduler's retry duty runs
    rows = _deliveries(witnessed)
    assert {(w, s) for w, s, _ in rows} == {(w, s) for w in ("w1", "w2") for s in (1, 10, 20)}
    assert all(cosigned for _, _, cosigned in rows)
    for server in witnesses:
        latest = server.core.latest("leitstand")
        assert latest is not None and "\n20\n" in latest
    report = witnessed.audit.verify()
    assert report.ok and report.complete, report.as_dict()
    assert report.witnesses_configured
    assert [w["size"] for w in report.witnesses] == [20, 20]
    assert report.cosignatures_checked == 2 + 6  # the live answers and the stored ones


def test_the_rollback_attack_is_caught_by_the_witnesses(
    witnessed: Container, witnesses: list[WitnessServer]
) -> None:
    """Write access to the database and the home folder, but no signing key."""
    record(witnessed, 35)
    _settle(witnessed)
    ledger = witnessed.ledger
    with witnessed.db.reader() as session:
        old = session.execute(
            sa.text("SELECT size, note, root FROM ledger_checkpoints WHERE size = 20")
        ).one()
        frontier = CompactRange.from_nodes(20, ledger.node_getter(session, set(decompose(0, 20))))
    # 1. delete the entries after the earlier signed checkpoint (and its later records),
    tamper(witnessed, "DELETE FROM ledger_entries WHERE idx >= 20")
    with witnessed.db.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM ledger_checkpoints WHERE size > 20"))
        conn.execute(sa.text("DELETE FROM ledger_witness_deliveries"))
        # 2. replay that checkpoint's note into the state table,
        conn.execute(
            sa.text(
                "UPDATE ledger_state SET size = 20, note = :note, root = :root, "
                "frontier = :frontier, kept_size = 20"
            ),
            {"note": old.note, "root": old.root, "frontier": b"".join(frontier.hashes)},
        )
    # 3. delete the newer files of the witness folder.
    copy = ledger.witness.copy if ledger.witness else None
    assert copy is not None
    for path in (copy.directory / "checkpoints").iterdir():
        if int(path.name.split(".")[0]) > 20:
            path.unlink()
    (copy.directory / "latest.note").write_text(old.note)

    # The database and the folder alone now look intact: this is what the witnesses add.
    with witnessed.db.reader() as session:
        blind = verify_database(session, verifier=ledger.signer.verifier, witness=copy)
    assert blind.ok, blind.as_dict()

    report = witnessed.audit.verify()
    assert not report.ok
    assert report.first_bad_index == 20
    messages = " ".join(p.message for p in report.problems)
    for name in ("w1", "w2"):
        assert f"witness {name} cosigned checkpoint covers 30 entries but only 20 exist" in messages
    # Sending the replayed (smaller) checkpoint again cannot get a cosignature either.
    assert witnesses[0].core.add_checkpoint(b"old 20\n\n" + old.note.encode()).status == 409


def test_a_witness_that_cosigned_another_root_names_the_inconsistency(
    witnessed: Container,
) -> None:
    record(witnessed, 12)
    _settle(witnessed)
    entry = witnessed.audit.log(EntryQuery(limit=1, newest_first=False, subject="item:4"))[0]
    body = canonical_bytes(entry.as_dict() | {"payload": {"i": 999}})
    # Rewrite entry 4 everywhere the database holds it, hashes included: only signed data
    # (the head, the checkpoints and the witnesses' cosignatures) can tell.
    with witnessed.db.reader() as session:
        rows = dict(session.execute(sa.text("SELECT idx, body FROM ledger_entries")).all())
    rows[4] = body
    cr = CompactRange.empty()
    for idx in range(len(rows)):
        nodes = cr.append(leaf_hash(bytes(rows[idx])))
        tamper(
            witnessed,
            "UPDATE ledger_entries SET body = :b, nodes = :n WHERE idx = :i",
            b=bytes(rows[idx]),
            n=b"".join(nodes),
            i=idx,
        )
    report = witnessed.audit.verify()
    assert not report.ok
    assert any("witness w1 cosigned checkpoint at size 10" in p.message for p in report.problems)


def test_an_unreachable_witness_makes_the_result_incomplete_and_named(
    witnessed: Container, witnesses: list[WitnessServer]
) -> None:
    record(witnessed, 3)
    _settle(witnessed)
    witnesses[1].shutdown()
    witnesses[1].server_close()
    witnessed.ledger.witness.remotes[1].close()  # type: ignore[union-attr]
    report = witnessed.audit.verify()
    assert report.ok
    assert not report.complete
    assert report.incomplete and "witness w2 could not be reached" in report.incomplete[0]
    assert report.as_dict()["complete"] is False


def test_without_witnesses_verify_says_so(sqlite_container: Container) -> None:
    record(sqlite_container, 2)
    report = sqlite_container.audit.verify()
    assert report.ok and report.complete
    assert report.as_dict()["witnesses_configured"] is False
    assert any("no witness is configured" in line for line in report.notes())


def test_a_queue_that_cannot_be_delivered_is_retried_and_alerted_when_overdue(
    witnessed: Container, witnesses: list[WitnessServer], clock: ManualClock
) -> None:
    down = witnesses[0]
    port = int(down.server_address[1])
    down.shutdown()
    down.server_close()
    record(witnessed, 3)
    _settle(witnessed)
    assert ("w1", 1, False) in _deliveries(witnessed)
    assert check_overdue(witnessed, actor=SYSTEM) == {}  # queued, but not overdue yet
    clock.advance(timedelta(minutes=witnessed.policy.ledger.witness_overdue_minutes + 1))
    assert set(check_overdue(witnessed, actor=SYSTEM)) == {"w1"}
    with witnessed.db.reader() as session:
        alerts = session.execute(
            sa.select(AlertRow.status, AlertRow.labels).where(AlertRow.name == OVERDUE_ALERT)
        ).all()
    assert len(alerts) == 1 and '"w1"' in alerts[0].labels and alerts[0].status != "resolved"
    # The witness comes back: the retry delivers the queue and the alert resolves.
    witnesses[0] = _serve(down.core, port)
    assert deliver_all(witnessed.db, witnessed.ledger)["w1"] >= 1
    assert all(cosigned for _, _, cosigned in _deliveries(witnessed))
    assert check_overdue(witnessed, actor=SYSTEM) == {}
    with witnessed.db.reader() as session:
        status = session.execute(
            sa.select(AlertRow.status).where(AlertRow.name == OVERDUE_ALERT)
        ).scalar_one()
    assert status == "resolved"


def test_deleting_the_checkpoint_copy_folder_is_tampering(container: Container) -> None:
    record(container, 3)
    _settle(container)  # the background sender records the copy
    copy = container.ledger.witness.copy  # type: ignore[union-attr]
    assert copy is not None and (copy.directory / "checkpoints").is_dir()
    shutil.rmtree(copy.directory)
    report = container.audit.verify()
    assert not report.ok
    assert "copy folder" in report.problems[0].message
    assert "missing" in report.problems[0].message


def test_instances_sharing_a_database_check_their_own_copy_folders(
    container: Container, tmp_path: Path, clock: ManualClock
) -> None:
    # Instance a copies the kept checkpoints to its folder; instance b (same database, same key,
    # its own home and copy folder) copied nothing: its verification is clean, not "deleted".
    record(container, 3)
    _settle(container)
    a_copy = container.ledger.witness.copy  # type: ignore[union-attr]
    assert a_copy is not None and (a_copy.directory / "checkpoints").is_dir()
    other = container.settings.model_copy(
        update={
            "home": tmp_path / "instance-b",
            "database_url": container.settings.effective_database_url,
            "signing_key": container.settings.signing_key_path,
        }
    )
    b = build(other, clock=clock, migrate=False)
    try:
        b_copy = b.ledger.witness.copy  # type: ignore[union-attr]
        assert b_copy is not None and b_copy.directory != a_copy.directory
        report = b.audit.verify()
        assert report.ok, [p.message for p in report.problems]
    finally:
        b.close()
    # Deleting a's folder is still found, by a.
    shutil.rmtree(a_copy.directory)
    report = container.audit.verify()
    assert not report.ok and "missing" in report.problems[0].message


def test_a_shortened_copy_history_is_tampering(container: Container) -> None:
    record(container, 120)  # kept at sizes 1 and 100, both copied
    _settle(container)
    copy = container.ledger.witness.copy  # type: ignore[union-attr]
    assert copy is not None
    copy.path_for(100).unlink()
    report = container.audit.verify()
    assert not report.ok
    assert any(
        "copy history was shortened" in p.message and "100" in p.message for p in report.problems
    )


def test_the_first_bad_index_is_exact_for_entry_50_of_100(container: Container) -> None:
    record(container, 100)
    entry = container.audit.log(EntryQuery(limit=1, newest_first=False, subject="item:50"))[0]
    body = canonical_bytes(entry.as_dict() | {"payload": {"i": 999}})
    tamper(container, "UPDATE ledger_entries SET body = :b WHERE idx = 50", b=body)
    report = container.audit.verify()
    assert report.first_bad_index == 50, report.as_dict()
    # With the entry's own stored hash rewritten too, its pair's hash still names it.
    with container.db.reader() as session:
        nodes = bytes(
            session.execute(sa.text("SELECT nodes FROM ledger_entries WHERE idx = 50")).scalar_one()
        )
    tamper(
        container,
        "UPDATE ledger_entries SET nodes = :n WHERE idx = 50",
        n=leaf_hash(body) + nodes[32:],
    )
    report = container.audit.verify()
    assert report.first_bad_index == 50, report.as_dict()


def test_the_scheduler_duty_retries_the_queue(
    witnessed: Container, witnesses: list[WitnessServer], clock: ManualClock
) -> None:
    from leitstand.ledger.jobs import schedule_ledger_jobs

    schedule_ledger_jobs(witnessed)
    down = witnesses[1]
    port = int(down.server_address[1])
    down.shutdown()
    down.server_close()
    record(witnessed, 2)
    _settle(witnessed)
    assert ("w2", 1, False) in _deliveries(witnessed)
    witnesses[1] = _serve(down.core, port)
    clock.advance(witnessed.policy.evidence.checkpoint_copy_interval)
    witnessed.scheduler.run_due()
    assert witnessed.scheduler.leases.drain(timeout=30)
    _settle(witnessed)
    assert all(cosigned for _, _, cosigned in _deliveries(witnessed))
