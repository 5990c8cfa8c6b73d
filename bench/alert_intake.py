"""Alert intake benchmark: the Alertmanager webhook against an empty 200 on the same server.

What is measured (see bench/README.md):

1. Baseline: requests/s and p50/p99 latency of ``GET /bench/empty`` (an empty 200 behind the
   same token check as the webhook) on the very same uvicorn server process and app.
2. Intake: ``POST /api/v1/alerts/alertmanager`` with batches of 1 and of 50 alerts, half of
   them duplicates of alerts sent just before, on SQLite (the embedded default) and PostgreSQL.
   Each request commits before it answers: alerts, escalations, notification rows, timers and
   the ledger entry of every new alert.
3. Escalation timer accuracy: 1,000 critical alerts raised at once with a 5 s acknowledgement
   timeout; the scheduler loop (default poll interval and batch) fires their level-3 timers,
   each opening a SEV-1 incident. Lateness is the time the firing was committed (seen by an
   observer polling every 5 ms) minus the due time, on SQLite and PostgreSQL.

The server runs in its own process (``--serve``: uvicorn, one worker, as `leitstand up`), and
the load comes from ``wrk`` (C, keep-alive connections, a Lua script that makes the payloads),
so the client does not compete with the server for Python's GIL.

Run from the repository root::

    .venv/bin/python bench/alert_intake.py            # about 1 minute
    .venv/bin/python bench/alert_intake.py --seconds 5 --no-postgres

Human-readable lines go to stdout; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import httpx
import sqlalchemy as sa
import uvicorn
from fastapi import Request

from leitstand.app import create_app
from leitstand.auth.api import requires
from leitstand.auth.model import SYSTEM_ACTOR, Actor, Role
from leitstand.bootstrap import build
from leitstand.incidents.store import IncidentRow
from leitstand.observability import configure_logging
from leitstand.policy.model import Policy
from leitstand.policy.monitoring import AlertingPolicy
from leitstand.scheduler.store import JobRow, JobRunRow
from leitstand.server import freeze_startup_heap
from leitstand.settings import Settings
from leitstand.testing import POSTGRES_URL, free_port, postgres_available, postgres_schema

TARGET_ALERTS_PER_S = 1000
TARGET_P99_MS = 50.0
TARGET_TIMER_LATE_S = 1.0

# wrk's request generator: every thread numbers its alerts; a batch of N carries N/2 fresh
# fingerprints and repeats the previous batch's fresh half (a batch of 1 alternates a fresh
# alert and a repeat of it). The final line is JSON for the parent process.
_WRK_SCRIPT = r"""
local counter, last, id = 0, {}, 0
local batch = tonumber(os.getenv("BENCH_BATCH"))
local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
if pause > 0 then
  function delay() return pause end
end
local prefix = os.getenv("BENCH_PREFIX")
local threads = {}
function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end
local function alert(fp)
  return '{"status":"firing","labels":{"alertname":"Http5xxRate","severity":"critical",' ..
    '"service":"portal"},"annotations":{"summary":"5xx rate over 5%"},' ..
    '"startsAt":"2026-11-27T08:59:00Z","endsAt":"0001-01-01T00:00:00Z",' ..
    '"generatorURL":"http://127.0.0.1:9090/graph","fingerprint":"' .. fp .. '"}'
end
function request()
  counter = counter + 1
  local chosen = {}
  if batch == 1 then
    if counter % 2 == 0 and #last > 0 then chosen = last
    else chosen = {prefix .. id .. "x" .. counter}; last = chosen end
  else
    local fresh = {}
    for i = 1, math.floor(batch / 2) do fresh[i] = prefix .. id .. "x" .. counter .. "y" .. i end
    for i = 1, #fresh do chosen[i] = fresh[i] end
    local older = (#last > 0) and last or fresh
    for i = 1, batch - #fresh do chosen[#fresh + i] = older[i] end
    last = fresh
  end
  local parts = {}
  for i = 1, #chosen do parts[i] = alert(chosen[i]) end
  local body = '{"version":"4","status":"firing","alerts":[' .. table.concat(parts, ",") .. ']}'
  return wrk.format("POST", nil, nil, body)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"mean_us":%d,"non2xx":%d,"socket_errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, math.floor(latency.mean), e.status, e.connect + e.read + e.write + e.timeout))
end
"""
_WRK_GET = _WRK_SCRIPT.replace("function request()", "function unused_request()")


def _serve(args: argparse.Namespace) -> int:
    """``--serve``: the server process (uvicorn, one worker, as `leitstand up` runs it)."""
    settings = Settings(
        home=Path(args.home), database_url=args.database_url, database_schema=args.schema
    )
    configure_logging(settings.log_level)  # as `leitstand up`: JSON lines to stderr
    container = build(settings, migrate=False)
    app = create_app(container)
    freeze_startup_heap()  # as `leitstand up` does before it serves

    @app.get("/bench/empty")
    def empty(_request: Request, _: Annotated[Actor, requires(Role.DEVOPS, Role.ONCALL)]) -> None:
        return None

    uvicorn.run(app, host="127.0.0.1", port=args.port, log_config=None, access_log=False)
    container.close()
    return 0


@contextmanager
def _server(settings: Settings) -> Iterator[str]:
    port = free_port()
    command = [sys.executable, __file__, "--serve", "--home", str(settings.home)]
    command += ["--port", str(port)]
    if settings.database_url:
        command += ["--database-url", settings.database_url]
    if settings.database_schema:
        command += ["--schema", settings.database_schema]
    settings.home.mkdir(parents=True, exist_ok=True)
    log = (settings.home / "server.log").open("ab")  # the server's JSON lines, for a look later
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise SystemExit("the benchmark server did not come up")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(15)
        log.close()


def _wrk(url: str, token: str, seconds: float, clients: int, **env: str) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_WRK_SCRIPT if env else _WRK_GET)
    try:
        done = subprocess.run(
            [
                shutil.which("wrk") or "wrk",
                f"-t{min(2, clients)}",
                f"-c{clients}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "30s",
                "-s",
                script.name,
                "-H",
                f"Authorization: Bearer {token}",
                "-H",
                "Content-Type: application/json",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 120,
            env={**os.environ, **env},
            check=False,
        )
    finally:
        Path(script.name).unlink()
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if done.returncode != 0 or line is None:
        raise SystemExit(f"wrk failed: {done.stderr.strip() or done.stdout.strip()}")
    figures: dict[str, Any] = json.loads(line.removeprefix("WRKJSON "))
    if figures["non2xx"] or figures["socket_errors"]:
        raise SystemExit(f"requests failed under load: {figures}")
    return figures


def _paced_connections(rate: float) -> tuple[int, float]:
    """Connections and per-connection pause (ms) that offer about ``rate`` requests/s."""
    connections = 2 if rate <= 200 else 4
    return connections, 1000.0 * connections / rate


def _measure(settings: Settings, seconds: float, clients: int, label: str) -> dict[str, Any]:
    """Saturation (``clients`` connections flat out) and latency at the target load.

    Under a closed loop at saturation, latency is only queueing (Little's law: connections /
    throughput), so latency is also measured paced at the target rate of 1,000 alerts/s (for a
    batch of 50: 20 requests/s), or at half the saturation rate when that is lower.
    """
    container = build(settings, migrate=True)
    try:
        _user, token = container.auth.add_user(
            name="bench-am", role=Role.ONCALL, actor=SYSTEM_ACTOR
        )
    finally:
        container.close()
    out: dict[str, Any] = {}
    intake = "/api/v1/alerts/alertmanager"
    with _server(settings) as url:
        # A short warm-up of both routes (imports, connection pool, prepared statements).
        _wrk(f"{url}/bench/empty", token, 1, clients)
        _wrk(f"{url}{intake}", token, 1, clients, BENCH_BATCH="50", BENCH_PREFIX=f"{label}w")
        base = _wrk(f"{url}/bench/empty", token, seconds, clients)
        rate = base["requests"] / (base["duration_us"] / 1e6)
        out["baseline_requests_per_s"] = rate
        out["baseline_p50_ms"] = base["p50_us"] / 1000
        out["baseline_p99_ms"] = base["p99_us"] / 1000
        print(
            f"{label} baseline empty 200: {rate:,.0f} req/s, p50 {out['baseline_p50_ms']:.1f}"
            f" ms, p99 {out['baseline_p99_ms']:.1f} ms ({clients} connections)"
        )
        for batch in (1, 50):
            run = _wrk(
                f"{url}{intake}",
                token,
                seconds,
                clients,
                BENCH_BATCH=str(batch),
                BENCH_PREFIX=f"{label}{batch}s",
            )
            took = run["duration_us"] / 1e6
            saturated = run["requests"] / took
            out[f"batch{batch}_alerts_per_s"] = saturated * batch
            out[f"batch{batch}_requests_per_s"] = saturated
            out[f"batch{batch}_saturated_p50_ms"] = run["p50_us"] / 1000
            out[f"batch{batch}_saturated_p99_ms"] = run["p99_us"] / 1000
            offered = min(TARGET_ALERTS_PER_S / batch, saturated / 2)
            connections, period = _paced_connections(offered)
            # wrk's delay is a pause after each response, so a connection's period is the
            # pause plus the latency: a short calibration run measures the latency first.
            calibration = _wrk(
                f"{url}{intake}",
                token,
                2,
                connections,
                BENCH_BATCH=str(batch),
                BENCH_PREFIX=f"{label}{batch}c",
                BENCH_DELAY_MS=f"{period:.3f}",
            )
            pause = max(0.0, period - calibration["mean_us"] / 1000)
            paced = _wrk(
                f"{url}{intake}",
                token,
                seconds,
                connections,
                BENCH_BATCH=str(batch),
                BENCH_PREFIX=f"{label}{batch}p",
                BENCH_DELAY_MS=f"{pause:.3f}",
            )
            paced_rate = paced["requests"] / (paced["duration_us"] / 1e6)
            out[f"batch{batch}_paced_alerts_per_s"] = paced_rate * batch
            out[f"batch{batch}_p50_ms"] = paced["p50_us"] / 1000
            out[f"batch{batch}_p99_ms"] = paced["p99_us"] / 1000
            print(
                f"{label} intake batch {batch:>2}: saturated {saturated * batch:,.0f} alerts/s "
                f"({saturated:,.0f} req/s; p50 {run['p50_us'] / 1000:.1f} ms, p99 "
                f"{run['p99_us'] / 1000:.1f} ms at {clients} connections); paced at "
                f"{paced_rate * batch:,.0f} alerts/s: p50 {paced['p50_us'] / 1000:.1f} ms,"
                f" p99 {paced['p99_us'] / 1000:.1f} ms"
            )
    return out


def _timers(settings: Settings, count: int, label: str) -> dict[str, Any]:
    """Escalation timer accuracy: ``count`` level-3 steps due within the second they were raised.

    Lateness is measured twice: when the scheduler claimed a timer (``fired_at`` minus due, what
    the handler sees as "now"), and when its firing was committed and visible to every reader
    (an observer thread polls the run table every 5 ms). The second is the one that counts.
    """
    data = Policy().alerting.model_dump(mode="json")
    data["ack_timeout"] = "5s"
    policy = Policy(alerting=AlertingPolicy.model_validate(data))
    container = build(settings, migrate=True, policy=policy)
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
        print(f"{label}: raised {count} critical alerts in {time.monotonic() - raised:.1f}s")
        stop = threading.Event()
        seen: list[tuple[int, datetime]] = []  # (highest committed run id, when seen)

        def observe() -> None:
            last = 0
            while not stop.is_set():
                with container.db.reader() as session:
                    top = session.execute(sa.select(sa.func.max(JobRunRow.id))).scalar() or 0
                if top > last:
                    seen.append((top, datetime.now(UTC)))
                    last = top
                stop.wait(0.005)

        observer = threading.Thread(target=observe)
        loop = threading.Thread(
            target=container.scheduler.run_forever,
            args=(stop,),
            kwargs={
                "poll_seconds": container.settings.scheduler_poll_seconds,
                "batch": container.settings.scheduler_batch,
            },
        )
        observer.start()
        loop.start()
        deadline = time.monotonic() + 120
        with container.db.reader() as session:
            query = sa.select(sa.func.count(JobRow.id)).where(
                JobRow.kind == "alerting.escalate", JobRow.status == "pending"
            )
            while time.monotonic() < deadline and session.execute(query).scalar_one():
                session.rollback()
                time.sleep(0.2)
        time.sleep(0.05)
        stop.set()
        loop.join(30)
        observer.join(30)
        with container.db.reader() as session:
            rows = session.execute(
                sa.select(JobRunRow.id, JobRunRow.fired_at, JobRunRow.due_at)
                .join(JobRow, JobRow.id == JobRunRow.job_id)
                .where(JobRow.kind == "alerting.escalate")
            ).all()
            incidents = session.execute(sa.select(sa.func.count(IncidentRow.id))).scalar_one()
        claimed = [(f - d) / timedelta(seconds=1) for _, f, d in rows]
        visible = []
        for run_id, _fired, due in rows:
            when = next(t for top, t in seen if top >= run_id)
            visible.append((when - due) / timedelta(seconds=1))
        result = {
            "timers": len(rows),
            "incidents_opened": incidents,
            "timer_max_late_s": max(visible) if visible else None,
            "timer_p50_late_s": statistics.median(visible) if visible else None,
            "timer_max_claim_late_s": max(claimed) if claimed else None,
        }
        print(
            f"{label} escalation timers: {len(rows)} fired, {incidents} incidents opened; "
            f"committed lateness median {result['timer_p50_late_s']:.3f}s, max "
            f"{result['timer_max_late_s']:.3f}s (claimed: max "
            f"{result['timer_max_claim_late_s']:.3f}s; batch {settings.scheduler_batch}, "
            f"poll {settings.scheduler_poll_seconds}s)"
        )
        return result
    finally:
        container.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="load per measurement")
    parser.add_argument("--clients", type=int, default=8, help="concurrent connections")
    parser.add_argument("--timers", type=int, default=1000)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--home", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--schema", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return _serve(args)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk (scripts/test installs it)")
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = _measure(Settings(home=Path(tmp) / "sqlite"), args.seconds, args.clients, "sqlite")
        result.update({f"sqlite_{k}": v for k, v in sqlite.items()})
        postgres: dict[str, Any] | None = None
        if not args.no_postgres and postgres_available(args.postgres_url):
            with postgres_schema(args.postgres_url, prefix="bench") as pg:
                settings = Settings(
                    home=Path(tmp) / "pg", database_url=pg.url, database_schema=pg.schema
                )
                postgres = _measure(settings, args.seconds, args.clients, "postgres")
            result.update({f"postgres_{k}": v for k, v in postgres.items()})
        else:
            print("PostgreSQL not measured (unreachable or --no-postgres)")
        timers = _timers(Settings(home=Path(tmp) / "timers"), args.timers, "sqlite")
        result.update({f"sqlite_{k}": v for k, v in timers.items()})
        if postgres is not None:
            with postgres_schema(args.postgres_url, prefix="bench") as pg:
                settings = Settings(
                    home=Path(tmp) / "pg-timers", database_url=pg.url, database_schema=pg.schema
                )
                pg_timers = _timers(settings, args.timers, "postgres")
            result.update({f"postgres_{k}": v for k, v in pg_timers.items()})
            # The headline is the worse of the two backends.
            timers = max(timers, pg_timers, key=lambda t: t["timer_max_late_s"] or 0)
        result.update(timers)
    main_figures = postgres or sqlite
    result["backend_of_headline"] = "postgres" if postgres else "sqlite"
    result["alerts_per_s"] = main_figures["batch50_alerts_per_s"]
    result["p99_ms"] = main_figures["batch50_p99_ms"]
    result["batch1_p99_ms"] = main_figures["batch1_p99_ms"]
    result["saturated_p99_ms"] = main_figures["batch50_saturated_p99_ms"]
    result["baseline_requests_per_s"] = main_figures["baseline_requests_per_s"]
    result["ratio"] = main_figures["batch50_requests_per_s"] / result["baseline_requests_per_s"]
    result["targets"] = {
        "alerts_per_s>=1000": result["alerts_per_s"] >= TARGET_ALERTS_PER_S,
        "p99_ms<=50": result["p99_ms"] <= TARGET_P99_MS,
        "timer_max_late_s<=1": (result["timer_max_late_s"] or 0) <= TARGET_TIMER_LATE_S,
    }
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
