"""Alert intake benchmark: the Alertmanager webhook against an empty 200 on the same server.

What is measured (see bench/README.md):

1. Baseline: requests/s and p50/p99 latency of ``GET /bench/empty`` (an empty 200 with the same
   token check as the webhook) on the very same uvicorn server and app, same client threads.
2. Intake: ``POST /api/v1/alerts/alertmanager`` with batches of 1 and of 50 alerts, half of
   them duplicates of alerts already sent, on SQLite (the embedded default) and PostgreSQL.
   Each request commits before it answers: alerts, escalations, notification rows, timers and
   the ledger entry of every new alert.
3. Escalation timer accuracy: 1,000 critical alerts raised with a 5 s acknowledgement timeout;
   the scheduler loop (default poll interval) fires their level-3 timers; lateness is the
   firing time minus the due time.

Run from the repository root::

    .venv/bin/python bench/alert_intake.py            # about 1 minute
    .venv/bin/python bench/alert_intake.py --seconds 5 --no-postgres

Human-readable lines go to stdout; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import httpx
import sqlalchemy as sa
import uvicorn
from fastapi import Request

from leitstand.app import create_app
from leitstand.auth.api import requires
from leitstand.auth.model import SYSTEM_ACTOR, Actor, Role
from leitstand.bootstrap import Container, build
from leitstand.policy.model import Policy
from leitstand.policy.monitoring import AlertingPolicy
from leitstand.scheduler.store import JobRow, JobRunRow
from leitstand.settings import Settings
from leitstand.testing import POSTGRES_URL, free_port, postgres_available, postgres_schema

TARGET_ALERTS_PER_S = 1000
TARGET_P99_MS = 50.0
TARGET_TIMER_LATE_S = 1.0


def _alert(fingerprint: str) -> dict[str, Any]:
    return {
        "status": "firing",
        "labels": {"alertname": "Http5xxRate", "severity": "critical", "service": "portal"},
        "annotations": {"summary": "5xx rate over 5%"},
        "startsAt": "2026-11-27T08:59:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://127.0.0.1:9090/graph",
        "fingerprint": fingerprint,
    }


class _Payloads:
    """Batches where half of the alerts repeat ones sent just before (thread-safe)."""

    def __init__(self, batch: int, prefix: str) -> None:
        self.batch = batch
        self.prefix = prefix
        self._counter = itertools.count()
        self._lock = threading.Lock()
        self._last: list[str] = []

    def next(self) -> bytes:
        with self._lock:
            n = next(self._counter)
            if self.batch == 1:
                # Batches of one alternate between a new alert and a repeat of the last one.
                if n % 2 and self._last:
                    chosen = list(self._last)
                else:
                    chosen = self._last = [f"{self.prefix}{n:x}"]
            else:
                fresh = [f"{self.prefix}{n:x}y{i}" for i in range(self.batch // 2)]
                chosen = fresh + (self._last or fresh)[: self.batch - len(fresh)]
                self._last = fresh
            body = {"version": "4", "status": "firing", "alerts": [_alert(f) for f in chosen]}
        return json.dumps(body).encode()


@contextmanager
def _serve(container: Container) -> Iterator[str]:
    app = create_app(container)

    @app.get("/bench/empty")
    def empty(_request: Request, _: Annotated[Actor, requires(Role.DEVOPS, Role.ONCALL)]) -> None:
        return None

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def _load(
    seconds: float, clients: int, request: Callable[[httpx.Client], httpx.Response]
) -> tuple[int, list[float], float]:
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    errors: list[str] = []

    def worker() -> None:
        mine: list[float] = []
        with httpx.Client(timeout=30) as http:
            while time.monotonic() < stop:
                started = time.perf_counter()
                answer = request(http)
                mine.append(time.perf_counter() - started)
                if answer.status_code != 200:
                    errors.append(f"{answer.status_code}: {answer.text[:200]}")
                    return
        with lock:
            latencies.extend(mine)

    begun = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit(f"request failed: {errors[0]}")
    return len(latencies), latencies, time.monotonic() - begun


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _measure(container: Container, seconds: float, clients: int, label: str) -> dict[str, Any]:
    _user, token = container.auth.add_user(name="bench-am", role=Role.ONCALL, actor=SYSTEM_ACTOR)
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    out: dict[str, Any] = {}
    with _serve(container) as url:
        count, lat, took = _load(
            seconds, clients, lambda h: h.get(f"{url}/bench/empty", headers=auth)
        )
        out["baseline_requests_per_s"] = count / took
        out["baseline_p50_ms"], out["baseline_p99_ms"] = _p(lat, 0.5), _p(lat, 0.99)
        print(
            f"{label} baseline empty 200: {count / took:,.0f} req/s, "
            f"p50 {_p(lat, 0.5):.1f} ms, p99 {_p(lat, 0.99):.1f} ms"
        )
        for batch in (1, 50):
            payloads = _payloads_for(batch, label)
            count, lat, took = _load(
                seconds,
                clients,
                lambda h, p=payloads: h.post(
                    f"{url}/api/v1/alerts/alertmanager", content=p.next(), headers=auth
                ),
            )
            alerts_per_s = count * batch / took
            out[f"batch{batch}_alerts_per_s"] = alerts_per_s
            out[f"batch{batch}_requests_per_s"] = count / took
            out[f"batch{batch}_p50_ms"], out[f"batch{batch}_p99_ms"] = _p(lat, 0.5), _p(lat, 0.99)
            print(
                f"{label} intake batch {batch:>2}: {alerts_per_s:,.0f} alerts/s "
                f"({count / took:,.0f} req/s), p50 {_p(lat, 0.5):.1f} ms,"
                f" p99 {_p(lat, 0.99):.1f} ms"
            )
    return out


def _payloads_for(batch: int, label: str) -> _Payloads:
    return _Payloads(batch, f"{label[:2]}{batch}x")


def _timers(home: Path, count: int) -> dict[str, Any]:
    data = Policy().alerting.model_dump(mode="json")
    data["ack_timeout"] = "5s"
    policy = Policy(alerting=AlertingPolicy.model_validate(data))
    container = build(Settings(home=home), migrate=True, policy=policy)
    try:
        raised = time.monotonic()
        with container.db.transaction() as session:
            for i in range(count):
                container.alerting.raise_alert(
                    session,
                    name="TimerBench",
                    severity="critical",
                    summary="timer accuracy",
                    labels={"n": str(i)},
                    actor=SYSTEM_ACTOR,
                )
        print(f"raised {count} critical alerts in {time.monotonic() - raised:.1f}s")
        stop = threading.Event()
        loop = threading.Thread(
            target=container.scheduler.run_forever,
            args=(stop,),
            kwargs={
                "poll_seconds": container.settings.scheduler_poll_seconds,
                "batch": container.settings.scheduler_batch,
            },
        )
        loop.start()
        deadline = time.monotonic() + 120
        with container.db.reader() as session:
            query = sa.select(sa.func.count(JobRow.id)).where(
                JobRow.kind == "alerting.escalate", JobRow.status == "pending"
            )
            while time.monotonic() < deadline and session.execute(query).scalar_one():
                session.rollback()
                time.sleep(0.2)
        stop.set()
        loop.join(30)
        with container.db.reader() as session:
            rows = session.execute(
                sa.select(JobRunRow.fired_at, JobRunRow.due_at)
                .join(JobRow, JobRow.id == JobRunRow.job_id)
                .where(JobRow.kind == "alerting.escalate")
            ).all()
        late = [(f - d) / timedelta(seconds=1) for f, d in rows]
        result = {
            "timers": len(late),
            "timer_max_late_s": max(late) if late else None,
            "timer_p50_late_s": statistics.median(late) if late else None,
        }
        print(
            f"escalation timers: {len(late)} fired, lateness median "
            f"{result['timer_p50_late_s']:.3f}s, max {result['timer_max_late_s']:.3f}s "
            f"(poll interval {container.settings.scheduler_poll_seconds}s)"
        )
        return result
    finally:
        container.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="load per measurement")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client threads")
    parser.add_argument("--timers", type=int, default=1000)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    args = parser.parse_args(argv)
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        container = build(Settings(home=Path(tmp) / "sqlite"), migrate=True)
        try:
            sqlite = _measure(container, args.seconds, args.clients, "sqlite")
        finally:
            container.close()
        result.update({f"sqlite_{k}": v for k, v in sqlite.items()})
        postgres: dict[str, Any] | None = None
        if not args.no_postgres and postgres_available(args.postgres_url):
            with postgres_schema(args.postgres_url, prefix="bench") as pg:
                settings = Settings(
                    home=Path(tmp) / "pg", database_url=pg.url, database_schema=pg.schema
                )
                container = build(settings, migrate=True)
                try:
                    postgres = _measure(container, args.seconds, args.clients, "postgres")
                finally:
                    container.close()
            result.update({f"postgres_{k}": v for k, v in postgres.items()})
        else:
            print("PostgreSQL not measured (unreachable or --no-postgres)")
        result.update(_timers(Path(tmp) / "timers", args.timers))
    main_figures = postgres or sqlite
    result["backend_of_headline"] = "postgres" if postgres else "sqlite"
    result["alerts_per_s"] = main_figures["batch50_alerts_per_s"]
    result["p99_ms"] = main_figures["batch50_p99_ms"]
    result["batch1_p99_ms"] = main_figures["batch1_p99_ms"]
    result["baseline_requests_per_s"] = main_figures["baseline_requests_per_s"]
    result["targets"] = {
        "alerts_per_s>=1000": result["alerts_per_s"] >= TARGET_ALERTS_PER_S,
        "p99_ms<=50": result["p99_ms"] <= TARGET_P99_MS,
        "timer_max_late_s<=1": (result["timer_max_late_s"] or 0) <= TARGET_TIMER_LATE_S,
    }
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
