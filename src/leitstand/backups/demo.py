"""`leitstand drill run pitr --scratch`: a point-in-time recovery demonstrated end to end.

It creates a scratch cluster with generated data, backs it up with pgBackRest to two sites,
writes marker rows over time, restores to a point between them into a segregated copy, verifies
that exactly the markers before that point came back, prints the Testprotokoll and removes
everything it created (clusters, repositories, keys, its own throwaway leitstand store), also
on an error or Ctrl-C. While it runs, its scratch folder holds ``steps.log``, one line per step
as it begins (``tail -f`` follows it; a test waits on it instead of guessing how long a step
takes).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from leitstand.auth.model import Actor
from leitstand.backups.model import DrillKind
from leitstand.backups.postgres import connect, switch_and_archive
from leitstand.backups.process import EngineError
from leitstand.backups.scratch import ScratchLab, free_local_port
from leitstand.policy.continuity import BackupData
from leitstand.policy.model import Policy
from leitstand.settings import Settings

__all__ = ["MARKERS", "STEPS_LOG", "DemoResult", "run_scratch_pitr"]

MARKERS = "public.leitstand_markers"
#: The log of the demonstration's steps in its scratch folder (removed with the folder).
STEPS_LOG = "steps.log"
_SCHEMA = """
CREATE TABLE demo_contracts (
    id bigint PRIMARY KEY,
    tenant text NOT NULL,
    amount numeric(12, 2) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO demo_contracts (id, tenant, amount)
SELECT g, 'makler-' || (g % 40), (g % 997) * 1.5 FROM generate_series(1, %(rows)s) AS g;
CREATE TABLE leitstand_markers (
    id integer PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
"""


@dataclass(frozen=True, slots=True)
class DemoResult:
    protocol: dict[str, Any]
    status: str
    markers_before: list[int]
    markers_after: list[int]
    target: datetime
    root: str
    cleaned_up: bool


def run_scratch_pitr(
    *,
    base: Policy,
    actor: Actor,
    progress: Callable[[str], None],
    rows: int = 50_000,
    markers: int = 3,
    gap: float = 0.4,
) -> DemoResult:
    """Run the whole demonstration; nothing it created is left behind when it returns."""
    from leitstand.bootstrap import build

    lab = ScratchLab(base=base)
    with lab:
        progress = _logged(progress, lab.root / STEPS_LOG)
        progress(f"scratch folder {lab.root}")
        port = free_local_port()
        policy = lab.policy(
            port,
            pitr_check={"table": MARKERS, "time_column": "created_at", "key_column": "id"},
            invariants=[
                {
                    "name": "Verträge vorhanden",
                    "sql": "SELECT count(*) FROM demo_contracts",
                    "expect": rows,
                },
                {
                    "name": "keine negativen Beträge",
                    "sql": "SELECT count(*) FROM demo_contracts WHERE amount < 0",
                    "expect": 0,
                },
            ],
        )
        settings = Settings(
            home=lab.root / "leitstand",
            database_url=None,
            database_schema=None,
            policy=None,
            signing_key=None,
        )
        container = build(settings, policy=policy, migrate=True)
        try:
            backups, drills = container.backups, container.drills
            engine = backups.engine(lab.system, BackupData.DATABASE)
            backups.keys.get("pgbackrest", create=True)
            engine.write_config()  # type: ignore[attr-defined]
            progress("initdb and start of the source cluster (WAL archiving to both sites)")
            cluster = lab.start_source(engine.archive_command(), port=port)  # type: ignore[attr-defined]
            progress(f"generating {rows} rows")
            with connect(cluster.address()) as conn:
                conn.execute(_SCHEMA.replace("%(rows)s", str(int(rows))))
            progress("stanza-create and check (pgBackRest)")
            backups.setup(system=lab.system, actor=actor)
            progress("full backup to both sites")
            run = backups.run(
                system=lab.system, row="database_full", actor=actor, trigger="scratch"
            )
            if run.status != "succeeded":
                raise EngineError(f"the full backup failed: {run.error}")
            before, after, target = _write_markers(
                cluster, markers=markers, gap=gap, progress=progress
            )
            switch_and_archive(engine.address())  # type: ignore[attr-defined]
            progress("point-in-time recovery drill")
            view = drills.run(
                kind=DrillKind.PITR,
                system=lab.system,
                actor=actor,
                target=target,
                trigger="scratch",
                progress=progress,
            )
            protocol = dict(view.protocol or {})
        finally:
            container.close()
        root = str(lab.root)
    return DemoResult(
        protocol=protocol,
        status=view.status,
        markers_before=before,
        markers_after=after,
        target=target,
        root=root,
        cleaned_up=not lab.root.exists(),
    )


def _logged(progress: Callable[[str], None], log: Path) -> Callable[[str], None]:
    """``progress`` that also appends each step to ``log`` before the step begins."""

    def step(text: str) -> None:
        with log.open("a", encoding="utf-8") as out:
            out.write(text + "\n")
        progress(text)

    return step


def _write_markers(
    cluster: Any, *, markers: int, gap: float, progress: Callable[[str], None]
) -> tuple[list[int], list[int], datetime]:
    progress(f"writing {markers} marker rows, then the target time, then {markers} more")
    before, after = [], []
    with connect(cluster.address()) as conn:
        for i in range(1, markers + 1):
            conn.execute("INSERT INTO leitstand_markers (id) VALUES (%s)", (i,))
            before.append(i)
            time.sleep(gap)
        row = conn.execute("SELECT clock_timestamp()").fetchone()
        target: datetime = row[0]
        time.sleep(gap)
        for i in range(markers + 1, 2 * markers + 1):
            conn.execute("INSERT INTO leitstand_markers (id) VALUES (%s)", (i,))
            after.append(i)
            time.sleep(gap)
    return before, after, target
