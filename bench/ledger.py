"""Evidence-ledger benchmarks, each against a baseline measured in the same run.

What is measured (see bench/README.md for the targets):

1. Durable appends per second with batched commits, on SQLite (the embedded default, WAL and
   ``synchronous=FULL`` as ``leitstand.db.Database`` sets them) and on PostgreSQL (a fresh schema
   on 127.0.0.1:5432/test): N entries through ``Ledger.append`` in transactions of B entries,
   one commit per batch (each commit seals the batch: executemany INSERT, Merkle head, signed
   checkpoint, witness copy). Baseline: the very same rows (same column values, same body and
   node bytes, read back untimed after each ledger batch) inserted into ``bench_plain_entries``,
   a table with the same columns, types and indexes but no triggers, in the same database,
   through the same ``Database.transaction()`` with the same batch size and one commit per
   batch. Ledger and plain batches alternate so both see the same disk and server conditions.
   Both paths get their inputs precomputed; the append path pays for encoding, hashing, signing.
2. Full verification of M entries (default 1,000,000) of a fresh SQLite ledger (filled untimed,
   in big batches) with ``AuditService.verify()``. Baseline: ``hashlib.sha256(b"\\x00" + body)``
   over the same body bytes already in memory.
3. Inclusion proofs on that ledger: ``AuditService.prove(index)`` (DB fetch of the nodes, proof,
   signature check of the head, proof verification) over random indices, median and p99.
   Baseline: ``merkle.inclusion_proof`` plus ``merkle.verify_inclusion`` over an in-memory dict
   node store for the same indices.
4. Peak RSS of the process (``resource.getrusage``), a high-water mark over all phases.

Run from the repository root::

    .venv/bin/python bench/ledger.py                 # defaults: N=100,000, B=1,000, M=1,000,000
    .venv/bin/python bench/ledger.py --quick         # M=100,000
    .venv/bin/python bench/ledger.py --entries 20000 --batch 500 --verify-entries 200000

Human-readable lines go to stdout, progress bars to stderr; the last line of stdout is one JSON
object with every figure.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from leitstand.bootstrap import Container, build
from leitstand.db import Database
from leitstand.errors import StoreError
from leitstand.ledger.checkpoint import (
    Checkpoint,
    VerifierKey,
    load_or_create_signing_key,
    open_checkpoint,
    sign_checkpoint,
)
from leitstand.ledger.cosign import CosignerKey
from leitstand.ledger.merkle import (
    HASH_SIZE,
    CompactRange,
    NodeId,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    verify_inclusion,
)
from leitstand.ledger.store import LedgerEntryRow, WitnessDeliveryRow
from leitstand.ledger.witness_client import RemoteWitness
from leitstand.policy.ledger import LedgerPolicy, WitnessPolicy
from leitstand.policy.loader import default_policy
from leitstand.policy.model import Policy
from leitstand.settings import Settings
from leitstand.testing import POSTGRES_URL, free_port, postgres_available, postgres_schema

PLAIN_TABLE = "bench_plain_entries"
APPEND_RATIO_TARGET = 0.5
VERIFY_TARGET_S = 10.0
PROOF_TARGET_MS = 1.0
ONE_MILLION = 1_000_000

ACTIONS = (
    "release.promoted",
    "release.rolled_back",
    "gate.passed",
    "gate.failed",
    "backup.verified",
    "incident.opened",
    "incident.resolved",
    "alert.acknowledged",
    "policy.changed",
    "auth.token_issued",
)
ROLES = ("operator", "release-manager", "auditor", "service")
SERVICES = ("enterprise-api", "billing", "identity", "search", "reporting", "notifications")

err = Console(stderr=True)


# -- inputs --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AppendInput:
    """The arguments of one ``Ledger.append`` call."""

    actor: str
    role: str
    action: str
    subject: str
    tenant: str | None
    payload: dict[str, Any]


def make_inputs(start: int, count: int, rng: random.Random) -> list[AppendInput]:
    """Realistic small entries: varied actors, actions, subjects and tenants (1 in 10 global)."""
    out = []
    for n in range(start, start + count):
        service = rng.choice(SERVICES)
        version = f"2.{rng.randrange(10)}.{rng.randrange(20)}"
        out.append(
            AppendInput(
                actor=f"user:{rng.choice(('anna', 'ben', 'cem', 'dora', 'emil'))}",
                role=rng.choice(ROLES),
                action=rng.choice(ACTIONS),
                subject=f"{service}/{version}",
                tenant=None if n % 10 == 0 else f"tenant-{rng.randrange(500):03d}",
                payload={"service": service, "version": version, "n": n},
            )
        )
    return out


# -- helpers -------------------------------------------------------------------------------------


def progress_bar() -> Progress:
    # auto_refresh=False: no refresh thread competes for the GIL inside the timed loops; the
    # loops refresh explicitly once per batch.
    return Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(bar_width=20),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        auto_refresh=False,
    )


def peak_rss_mb() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def say(text: str) -> None:
    print(text, flush=True)


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def ms(seconds: float) -> float:
    return seconds * 1000


def p99(values: Sequence[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def target(met: bool) -> str:
    return "met" if met else "MISSED"


def fail(message: str) -> None:
    say(f"FAILED: {message}")
    raise SystemExit(1)


@contextmanager
def container_for(settings: Settings, policy: Policy | None = None) -> Iterator[Container]:
    # The default policy explicitly, so no leitstand.yaml in the working directory changes it.
    container = build(settings, migrate=True, policy=policy or default_policy())
    try:
        yield container
    finally:
        container.close()


def append_batch(container: Container, batch: Sequence[AppendInput]) -> float:
    """Append a batch through ``Ledger.append`` in one transaction and commit; return seconds."""
    ledger = container.ledger
    started = time.perf_counter()
    with container.db.transaction() as session:
        for item in batch:
            ledger.append(
                session,
                actor=item.actor,
                role=item.role,
                action=item.action,
                subject=item.subject,
                tenant=item.tenant,
                payload=item.payload,
            )
    return time.perf_counter() - started


def insert_batch(db: Database, table: sa.Table, rows: list[dict[str, Any]]) -> float:
    """Insert rows with one executemany in one transaction and commit; return seconds."""
    started = time.perf_counter()
    with db.transaction() as session:
        session.execute(sa.insert(table), rows)
    return time.perf_counter() - started


def stored_rows(db: Database, first: int, end: int) -> list[dict[str, Any]]:
    """The ledger's rows ``[first, end)`` with every column, as stored."""
    entries = LedgerEntryRow.__table__
    assert isinstance(entries, sa.Table)
    stmt = (
        sa.select(entries)
        .where(entries.c.idx >= first, entries.c.idx < end)
        .order_by(entries.c.idx)
    )
    with db.reader() as session:
        return [dict(row) for row in session.execute(stmt).mappings()]


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def plain_table(metadata: sa.MetaData) -> sa.Table:
    """``ledger_entries``' columns, types and indexes under another name, without triggers."""
    source = LedgerEntryRow.__table__
    assert isinstance(source, sa.Table)
    columns = [
        sa.Column(
            c.name, c.type, primary_key=c.primary_key, nullable=c.nullable, autoincrement=False
        )
        for c in source.columns
    ]
    indexes = [
        sa.Index(
            f"ix_{PLAIN_TABLE}_{'_'.join(c.name for c in index.columns)}", *index.columns.keys()
        )
        for index in source.indexes
    ]
    return sa.Table(PLAIN_TABLE, metadata, *columns, *indexes)


def check_verified(container: Container, expected: int, what: str) -> None:
    """Verify the whole ledger; fail loudly unless it is intact and holds ``expected`` entries."""
    report = container.audit.verify()
    if not report.ok or report.entries_checked != expected:
        fail(f"{what}: verification did not pass: {report.summary()}")


# -- 1. appends ----------------------------------------------------------------------------------


@dataclass(slots=True)
class AppendResult:
    entries: int
    append_times: list[float]
    plain_times: list[float]

    @property
    def append_s(self) -> float:
        return sum(self.append_times)

    @property
    def plain_s(self) -> float:
        return sum(self.plain_times)

    @property
    def appends_per_s(self) -> float:
        return rate(self.entries, self.append_s)

    @property
    def plain_inserts_per_s(self) -> float:
        return rate(self.entries, self.plain_s)

    @property
    def ratio(self) -> float:
        return self.appends_per_s / self.plain_inserts_per_s


def bench_appends(
    backend: str,
    settings: Settings,
    entries: int,
    batch: int,
    seed: int,
    *,
    policy: Policy | None = None,
    settle: Callable[[Container], None] | None = None,
) -> AppendResult:
    """Time ledger batches and plain batches of the same rows, interleaved batch by batch.

    Interleaving exposes both paths to the same disk and server conditions (fsync latency, WAL
    checkpoints, autovacuum) instead of giving each its own stretch of time. Each plain batch
    inserts exactly the rows its ledger batch stored, read back untimed in between.
    """
    rng = random.Random(seed)
    warmup = make_inputs(0, batch, rng)
    inputs = make_inputs(batch, entries, rng)
    result = AppendResult(entries=entries, append_times=[], plain_times=[])
    with container_for(settings, policy) as container:
        db = container.db
        metadata = sa.MetaData()
        table = plain_table(metadata)
        metadata.create_all(db.engine)
        offset = 0
        with progress_bar() as progress:
            task = progress.add_task(f"{backend} append | plain", total=entries)
            # The first (warm-up) batch is untimed: connections, statement caches, the signer.
            for n, chunk in enumerate([warmup, *chunks(inputs, batch)]):
                append_s = append_batch(container, chunk)
                rows = stored_rows(db, offset, offset + len(chunk))
                if len(rows) != len(chunk):
                    fail(f"{backend}: ledger batch at {offset} stored {len(rows)} rows")
                plain_s = insert_batch(db, table, rows)
                offset += len(chunk)
                if n:
                    result.append_times.append(append_s)
                    result.plain_times.append(plain_s)
                    progress.update(task, advance=len(chunk), refresh=True)
        if settle is not None:
            # Witnesses: the run counts as done once every kept checkpoint is cosigned; the
            # wait for the last deliveries is charged to the ledger's time.
            started = time.perf_counter()
            settle(container)
            result.append_times[-1] += time.perf_counter() - started
        with db.reader() as session:
            plain_count = session.execute(sa.select(sa.func.count()).select_from(table)).scalar()
        if plain_count != offset:
            fail(f"{backend}: {PLAIN_TABLE} holds {plain_count} rows, expected {offset}")
        check_verified(container, offset, f"{backend} append ledger")
    return result


def report_appends(backend: str, result: AppendResult, batch: int) -> None:
    append_med = ms(statistics.median(result.append_times))
    plain_med = ms(statistics.median(result.plain_times))
    say(
        f"{backend:<8} appends       {result.appends_per_s:>10,.0f} /s  "
        f"({result.entries:,} in {result.append_s:.2f} s, {batch:,} per commit, "
        f"median commit {append_med:.1f} ms)"
    )
    say(
        f"{backend:<8} plain inserts {result.plain_inserts_per_s:>10,.0f} /s  "
        f"({result.entries:,} in {result.plain_s:.2f} s, median commit {plain_med:.1f} ms)"
    )
    say(
        f"{backend:<8} ratio         {result.ratio:>10.1%}     "
        f"target >= {APPEND_RATIO_TARGET:.0%}: {target(result.ratio >= APPEND_RATIO_TARGET)}"
    )


def append_figures(backend: str, result: AppendResult | None) -> dict[str, Any]:
    """The JSON figures of one backend (all None when the backend was not measured)."""
    figures: dict[str, Any] = {
        "appends_per_s": None,
        "plain_inserts_per_s": None,
        "ratio": None,
        "append_s": None,
        "plain_s": None,
        "append_commit_median_ms": None,
        "plain_commit_median_ms": None,
    }
    if result is not None:
        figures.update(
            appends_per_s=round(result.appends_per_s),
            plain_inserts_per_s=round(result.plain_inserts_per_s),
            ratio=round(result.ratio, 3),
            append_s=round(result.append_s, 3),
            plain_s=round(result.plain_s, 3),
            append_commit_median_ms=round(ms(statistics.median(result.append_times)), 2),
            plain_commit_median_ms=round(ms(statistics.median(result.plain_times)), 2),
        )
    return {f"{backend}_{key}": value for key, value in figures.items()}


# -- 1b. appends with two witnesses, and cosigning latency ---------------------------------------


COSIGN_ORIGIN = "bench.leitstand/cosign"
COSIGN_TARGET_MS = 20.0


@contextmanager
def witness_processes(work: Path, log_keys: list[str]) -> Iterator[list[tuple[str, str]]]:
    """Two `leitstand witness serve` processes on loopback; yields (url, witness key) pairs."""
    procs: list[subprocess.Popen[str]] = []
    found: list[tuple[str, str]] = []
    try:
        for name in ("w1", "w2"):
            port = free_port()
            args = [sys.executable, "-m", "leitstand", "witness", "serve"]
            args += ["--home", str(work / name), "--port", str(port), "--name", f"bench/{name}"]
            for key in log_keys:
                args += ["--log-key", key]
            proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
            procs.append(proc)
            assert proc.stdout is not None
            key = proc.stdout.readline().strip()  # printed once it listens
            if not key:
                fail(f"witness {name} did not start")
            found.append((f"http://127.0.0.1:{port}", key))
        yield found
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)
            if proc.stdout is not None:
                proc.stdout.close()


def settle_witnesses(container: Container) -> None:
    witnessing = container.ledger.witness
    if witnessing is not None and not witnessing.wait_idle(60):
        fail("the witness sender did not finish within 60 s")


def bench_with_witnesses(
    work: Path, entries: int, batch: int, seed: int, cosigns: int
) -> tuple[AppendResult, list[float], int]:
    """Appends with two witness processes configured, and the cosigning latency on loopback."""
    settings = Settings(home=work / "witnessed", database_url=None)
    settings.signing_key_path.parent.mkdir(parents=True, exist_ok=True)
    log_key = VerifierKey.from_public_key(
        "leitstand", load_or_create_signing_key(settings.signing_key_path).public_key()
    )
    cosign_key = load_or_create_signing_key(work / "cosign-log.pem")
    cosign_log = VerifierKey.from_public_key(COSIGN_ORIGIN, cosign_key.public_key())
    with witness_processes(work, [log_key.format(), cosign_log.format()]) as found:
        policy = default_policy().model_copy(
            update={
                "ledger": LedgerPolicy(
                    witnesses=[
                        WitnessPolicy(name=f"w{i + 1}", url=url, key=key)
                        for i, (url, key) in enumerate(found)
                    ]
                )
            }
        )
        result = bench_appends(
            "witnessed", settings, entries, batch, seed, policy=policy, settle=settle_witnesses
        )
        with container_for(settings, policy) as container, container.db.reader() as session:
            cosigned = session.execute(
                sa.select(sa.func.count()).where(WitnessDeliveryRow.cosigned_at.is_not(None))
            ).scalar_one()
            queued = session.execute(sa.select(sa.func.count(WitnessDeliveryRow.size))).scalar_one()
        if cosigned != queued:
            fail(f"only {cosigned} of {queued} queued checkpoints were cosigned")
        url, key = found[0]
        times = timed_cosigns(url, CosignerKey.parse(key), cosign_key, cosigns)
    return result, times, int(cosigned)


def timed_cosigns(url: str, key: CosignerKey, log_key: Any, count: int) -> list[float]:
    """Submit ``count`` growing checkpoints of a synthetic log; time each add-checkpoint."""
    remote = RemoteWitness("w1", url, key, timeout=10)
    leaves: list[bytes] = []
    store: dict[NodeId, bytes] = {}
    cr = CompactRange.empty()

    def get_node(level: int, index: int) -> bytes:
        return store[(level, index)]

    times: list[float] = []
    old = 0
    try:
        for n in range(count + 10):  # 10 untimed warm-up submissions
            for _ in range(7):  # a few entries between checkpoints
                leaf = leaf_hash(f"bench {len(leaves)}".encode())
                idx = len(leaves)
                leaves.append(leaf)
                for level, h in enumerate(cr.append(leaf)):
                    store[(level, idx >> level)] = h
            size = len(leaves)
            note = sign_checkpoint(
                Checkpoint(COSIGN_ORIGIN, size, cr.root()), name=COSIGN_ORIGIN, private_key=log_key
            )
            proof = consistency_proof(old, size, get_node) if old else []
            started = time.perf_counter()
            answer = remote.add_checkpoint(old, proof, note)
            elapsed = time.perf_counter() - started
            if answer.status != 200:
                fail(f"witness refused checkpoint {size}: {answer.status} {answer.message}")
            old = size
            if n >= 10:
                times.append(elapsed)
    finally:
        remote.close()
    return times


# -- 2. and 3. verification and proofs ----------------------------------------------------------


@dataclass(slots=True)
class VerifyResult:
    entries: int
    fill_s: float
    verify_s: float
    bytes_hashed: int
    hash_only_s: float
    proofs: int
    proof_median_s: float
    proof_p99_s: float
    proof_inmemory_median_s: float
    proof_inmemory_p99_s: float
    peak_rss_after_verify_mb: float


def fill(container: Container, entries: int, batch: int, seed: int) -> float:
    """Fill the ledger through ``Ledger.append`` in big batches; return the seconds (untimed)."""
    rng = random.Random(seed)
    started = time.perf_counter()
    with progress_bar() as progress:
        task = progress.add_task(f"fill {entries:,} entries (untimed)", total=entries)
        for start in range(0, entries, batch):
            chunk = make_inputs(start, min(batch, entries - start), rng)
            append_batch(container, chunk)
            progress.update(task, advance=len(chunk), refresh=True)
    return time.perf_counter() - started


def timed_verify(container: Container, entries: int) -> tuple[float, int]:
    with progress_bar() as progress:
        task = progress.add_task(f"verify {entries:,} entries", total=entries)

        def on_progress(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total, refresh=True)

        started = time.perf_counter()
        report = container.audit.verify(progress=on_progress)
        seconds = time.perf_counter() - started
    if not report.ok or report.entries_checked != entries or report.size != entries:
        fail(f"verification of the {entries:,}-entry ledger did not pass: {report.summary()}")
    return seconds, report.bytes_hashed


def timed_hash_only(container: Container) -> tuple[float, int]:
    with container.db.reader() as session:
        bodies: list[bytes] = list(
            session.execute(sa.select(LedgerEntryRow.body).order_by(LedgerEntryRow.idx)).scalars()
        )
    gc.collect()
    sha256 = hashlib.sha256
    started = time.perf_counter()
    for body in bodies:
        sha256(b"\x00" + body).digest()
    seconds = time.perf_counter() - started
    return seconds, sum(map(len, bodies))


def timed_proofs(
    container: Container, indices: Sequence[int], warmup: Sequence[int]
) -> tuple[list[float], dict[int, list[bytes]]]:
    audit = container.audit
    for index in warmup:
        audit.prove(index)
    times: list[float] = []
    proofs: dict[int, list[bytes]] = {}
    with progress_bar() as progress:
        task = progress.add_task("AuditService.prove", total=len(indices))
        for n, index in enumerate(indices, 1):
            started = time.perf_counter()
            proof = audit.prove(index)
            times.append(time.perf_counter() - started)
            if not proof.verified or proof.index != index:
                fail(f"inclusion proof of entry {index} did not verify")
            proofs[index] = proof.hashes
            if n % 100 == 0 or n == len(indices):
                progress.update(task, completed=n, refresh=True)
    return times, proofs


def timed_inmemory_proofs(
    container: Container, indices: Sequence[int], expected: dict[int, list[bytes]]
) -> list[float]:
    with container.db.reader() as session:
        head = container.ledger.head(session)
        store: dict[NodeId, bytes] = {}
        rows = session.execute(sa.select(LedgerEntryRow.idx, LedgerEntryRow.nodes))
        for idx, nodes in rows:
            for level in range(len(nodes) // HASH_SIZE):
                store[(level, idx >> level)] = nodes[level * HASH_SIZE : (level + 1) * HASH_SIZE]
    assert head.note is not None
    checkpoint = open_checkpoint(head.note, container.ledger.signer.verifier)
    size, root = checkpoint.size, checkpoint.root_hash

    def get_node(level: int, index: int) -> bytes:
        return store[(level, index)]

    times: list[float] = []
    for index in indices:
        started = time.perf_counter()
        leaf = store[(0, index)]
        hashes = inclusion_proof(index, size, get_node)
        ok = verify_inclusion(leaf, index, size, hashes, root)
        times.append(time.perf_counter() - started)
        if not ok or hashes != expected[index]:
            fail(f"in-memory inclusion proof of entry {index} differs from AuditService.prove")
    return times


def bench_verify_and_prove(
    home: Path, entries: int, fill_batch: int, proofs: int, seed: int
) -> VerifyResult:
    with container_for(Settings(home=home, database_url=None)) as container:
        fill_s = fill(container, entries, fill_batch, seed)
        say(f"fill     {entries:,} entries in {fill_s:.1f} s (untimed for the figures)")
        verify_s, bytes_hashed = timed_verify(container, entries)
        rss_after_verify = peak_rss_mb()
        hash_only_s, body_bytes = timed_hash_only(container)
        if body_bytes != bytes_hashed:
            fail(f"verify hashed {bytes_hashed} bytes, the bodies hold {body_bytes}")

        rng = random.Random(seed + 1)
        indices = [rng.randrange(entries) for _ in range(proofs)]
        warmup = [rng.randrange(entries) for _ in range(min(50, proofs))]
        proof_times, proof_hashes = timed_proofs(container, indices, warmup)
        inmemory_times = timed_inmemory_proofs(container, indices, proof_hashes)
    return VerifyResult(
        entries=entries,
        fill_s=fill_s,
        verify_s=verify_s,
        bytes_hashed=bytes_hashed,
        hash_only_s=hash_only_s,
        proofs=proofs,
        proof_median_s=statistics.median(proof_times),
        proof_p99_s=p99(proof_times),
        proof_inmemory_median_s=statistics.median(inmemory_times),
        proof_inmemory_p99_s=p99(inmemory_times),
        peak_rss_after_verify_mb=rss_after_verify,
    )


# -- main ----------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/ledger.py",
        description="Evidence-ledger benchmarks against same-run baselines (last line: JSON).",
    )
    parser.add_argument("--entries", type=int, default=100_000, help="appends per backend")
    parser.add_argument("--batch", type=int, default=1_000, help="appends per commit")
    parser.add_argument(
        "--verify-entries", type=int, default=None, help="ledger size for verify and proofs"
    )
    parser.add_argument("--quick", action="store_true", help="verify 100,000 instead of 1,000,000")
    parser.add_argument("--fill-batch", type=int, default=20_000, help="entries per fill commit")
    parser.add_argument("--proofs", type=int, default=2_000, help="random proof indices (>= 1000)")
    parser.add_argument("--seed", type=int, default=9162)
    parser.add_argument(
        "--cosigns", type=int, default=500, help="checkpoints to time at one witness"
    )
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL figures")
    parser.add_argument(
        "--workdir", type=Path, default=None, help="where the SQLite files go (default: temp dir)"
    )
    parser.add_argument("--output", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args(argv)
    if args.verify_entries is None:
        args.verify_entries = 100_000 if args.quick else ONE_MILLION
    for name in ("entries", "batch", "verify_entries", "fill_batch", "proofs", "cosigns"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    phases: dict[str, float] = {}
    results: dict[str, Any] = {
        "entries": args.entries,
        "batch": args.batch,
        "verify_entries": args.verify_entries,
        "fill_batch": args.fill_batch,
        "proof_samples": args.proofs,
        "python": sys.version.split()[0],
    }

    def phase(name: str, run: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        value = run()
        phases[name] = round(time.perf_counter() - started, 2)
        return value

    with tempfile.TemporaryDirectory(prefix="leitstand-bench-", dir=args.workdir) as tmp:
        work = Path(tmp)
        say(f"leitstand ledger benchmark (SQLite files under {work})")

        # 1. appends, SQLite
        sqlite = phase(
            "appends_sqlite",
            lambda: bench_appends(
                "sqlite",
                Settings(home=work / "sqlite", database_url=None),
                args.entries,
                args.batch,
                args.seed,
            ),
        )
        report_appends("sqlite", sqlite, args.batch)
        results.update(append_figures("sqlite", sqlite))

        # 1b. appends with two witness processes (SQLite), and cosigning latency
        witnessed, cosign_times, cosigned = phase(
            "appends_witnessed",
            lambda: bench_with_witnesses(work, args.entries, args.batch, args.seed, args.cosigns),
        )
        witness_ratio = witnessed.appends_per_s / witnessed.plain_inserts_per_s
        cosign_p99 = ms(p99(cosign_times))
        say(
            f"witnessed appends       {witnessed.appends_per_s:>10,.0f} /s with 2 witnesses "
            f"({cosigned} cosignatures), plain inserts {witnessed.plain_inserts_per_s:,.0f} /s: "
            f"{witness_ratio:.1%}; target >= {APPEND_RATIO_TARGET:.0%}: "
            f"{target(witness_ratio >= APPEND_RATIO_TARGET)}"
        )
        say(
            f"cosign   median {ms(statistics.median(cosign_times)):.2f} ms, p99 {cosign_p99:.2f} ms"
            f" over {len(cosign_times)} checkpoints on loopback; target <= "
            f"{COSIGN_TARGET_MS:.0f} ms: {target(cosign_p99 <= COSIGN_TARGET_MS)}"
        )
        results.update(
            with_witnesses_appends_per_s=round(witnessed.appends_per_s),
            with_witnesses_plain_inserts_per_s=round(witnessed.plain_inserts_per_s),
            with_witnesses_ratio=round(witness_ratio, 3),
            with_witnesses_cosignatures=cosigned,
            witness_cosign_median_ms=round(ms(statistics.median(cosign_times)), 3),
            witness_cosign_p99_ms=round(cosign_p99, 3),
        )

        # 1. appends, PostgreSQL
        postgres: AppendResult | None = None
        if args.no_postgres:
            say("postgres skipped (--no-postgres): PostgreSQL figures are null")
        elif not postgres_available(args.postgres_url):
            say(f"postgres UNREACHABLE at {args.postgres_url}: PostgreSQL figures are null")
        else:
            try:
                with postgres_schema(args.postgres_url, prefix="bench") as pg:
                    pg_settings = Settings(
                        home=work / "postgres", database_url=pg.url, database_schema=pg.schema
                    )
                    postgres = phase(
                        "appends_postgres",
                        lambda: bench_appends(
                            "postgres", pg_settings, args.entries, args.batch, args.seed
                        ),
                    )
            except (StoreError, sa.exc.OperationalError) as exc:
                say(f"postgres FAILED to connect ({exc}): PostgreSQL figures are null")
        if postgres is not None:
            report_appends("postgres", postgres, args.batch)
        results.update(append_figures("postgres", postgres))

        # 2. and 3. verification and proofs on a fresh SQLite ledger
        v: VerifyResult = phase(
            "verify_and_proofs",
            lambda: bench_verify_and_prove(
                work / "verify", args.verify_entries, args.fill_batch, args.proofs, args.seed
            ),
        )

    scale = ONE_MILLION / v.entries
    extrapolated = v.entries != ONE_MILLION
    verify_1m = v.verify_s * scale
    hash_1m = v.hash_only_s * scale
    mb = v.bytes_hashed / 1e6
    note = " (extrapolated linearly)" if extrapolated else ""
    say(
        f"verify   {v.entries:,} entries in {v.verify_s:.2f} s = "
        f"{rate(v.entries, v.verify_s):,.0f} entries/s, {mb / v.verify_s:,.1f} MB/s "
        f"of bodies ({mb:,.1f} MB)"
    )
    say(f"hash     same bodies with hashlib only in {v.hash_only_s:.2f} s")
    say(
        f"verify   1,000,000 entries: {verify_1m:.2f} s{note}, "
        f"{verify_1m / hash_1m:.1f}x hashing alone; target < {VERIFY_TARGET_S:.0f} s: "
        f"{target(verify_1m < VERIFY_TARGET_S)}"
    )
    say(
        f"prove    median {ms(v.proof_median_s):.3f} ms, p99 {ms(v.proof_p99_s):.3f} ms "
        f"over {v.proofs:,} random indices of {v.entries:,}; target < {PROOF_TARGET_MS:.0f} ms: "
        f"{target(ms(v.proof_median_s) < PROOF_TARGET_MS)}"
    )
    say(
        f"prove    in-memory baseline median {ms(v.proof_inmemory_median_s):.3f} ms, "
        f"p99 {ms(v.proof_inmemory_p99_s):.3f} ms"
    )
    rss = peak_rss_mb()
    say(f"memory   peak RSS {rss:,.0f} MB (after verify: {v.peak_rss_after_verify_mb:,.0f} MB)")
    say("phases   " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in phases.items()))

    results.update(
        verify_s=round(v.verify_s, 3),
        verify_1m_s=round(verify_1m, 3),
        verify_1m_extrapolated=extrapolated,
        verify_entries_per_s=round(rate(v.entries, v.verify_s)),
        verify_mb_per_s=round(mb / v.verify_s, 1),
        verify_body_mb=round(mb, 1),
        hash_only_s=round(v.hash_only_s, 3),
        hash_only_1m_s=round(hash_1m, 3),
        verify_vs_hash_ratio=round(v.verify_s / v.hash_only_s, 2),
        fill_s=round(v.fill_s, 2),
        proof_ms=round(ms(v.proof_median_s), 4),
        proof_p99_ms=round(ms(v.proof_p99_s), 4),
        proof_inmemory_ms=round(ms(v.proof_inmemory_median_s), 4),
        proof_inmemory_p99_ms=round(ms(v.proof_inmemory_p99_s), 4),
        proof_vs_inmemory_ratio=round(v.proof_median_s / v.proof_inmemory_median_s, 2),
        peak_rss_mb=round(rss, 1),
        peak_rss_after_verify_mb=round(v.peak_rss_after_verify_mb, 1),
        phase_seconds=phases,
        targets={
            "sqlite_ratio_ge_0_5": sqlite.ratio >= APPEND_RATIO_TARGET,
            "postgres_ratio_ge_0_5": (
                postgres.ratio >= APPEND_RATIO_TARGET if postgres is not None else None
            ),
            "verify_1m_lt_10_s": verify_1m < VERIFY_TARGET_S,
            "proof_median_lt_1_ms": ms(v.proof_median_s) < PROOF_TARGET_MS,
            "with_witnesses_ratio_ge_0_5": witness_ratio >= APPEND_RATIO_TARGET,
            "witness_cosign_p99_le_20_ms": cosign_p99 <= COSIGN_TARGET_MS,
        },
    )
    line = json.dumps(results, separators=(",", ":"))
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(line + "\n", encoding="utf-8")
    say(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
