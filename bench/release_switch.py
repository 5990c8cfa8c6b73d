"""Benchmark: traffic switch and automatic rollback through HAProxy under load.

Two versions of the demo app behind a real HAProxy, wrk plus a timestamping probe loop as load.
Per cycle: a blue-green release (switch), then the new version's health endpoint starts failing
and leitstand rolls back on its own. Measured, with every request's outcome counted:

- ``switch_s``: from leitstand's switch decision (the ``release.healthy`` entry) to the end of
  the last response the old colour served;
- ``rollback_s``: from the failed health verdict (the ``release.rollback_decided`` entry) to the
  end of the last response the new colour served (traffic fully back);
- baseline, same run, same load: the bare runtime-API weight change (``set server ... weight``
  on the admin socket, no leitstand), from the command to the old colour's last response;
- ``manual_rollback_s``: once after the cycles, a release whose old colour was retired (a short
  ``rollback_window``) is rolled back by hand: the previous good version is redeployed (start,
  health checks, switch). The release record's ``rollback_seconds``, from the decision to all
  traffic on the restored version, against the policy's ``max_rollback_time`` (the seed's 60 s).

Human lines first; the last line of stdout is one JSON object.

    .venv/bin/python bench/release_switch.py [--cycles 3] [--min-requests 50000]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from leitstand.auth.model import Actor
from leitstand.bootstrap import Container, build
from leitstand.ledger.service import EntryQuery
from leitstand.policy.loader import load_policy_text
from leitstand.releases.model import Phase, Routing
from leitstand.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # tests/support

from support.gate_runs import gated_start
from support.releases_lab import LoadLoop, ReleaseLab, drive, short_dir

OPS = Actor(name="bench", role="devops")
SERVICE = "enterprise-api"


def _wall_to_mono(offset: float, iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() - offset


def _entry_time(c: Container, release_id: int, action: str) -> str:
    with c.db.reader() as session:
        entries = c.ledger.entries(
            session, EntryQuery(subject=f"release:{release_id}", action=action, limit=1)
        )
    return entries[0].time


def _last_served(probe: LoadLoop, version: str, after: float) -> float:
    ends = [end for start, end, status, v in probe.results if v == version and end >= after]
    return max(ends, default=after)


def _wrk(url: str, seconds: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["wrk", "-t2", "-c16", f"-d{seconds}s", url],  # noqa: S607 - Debian's wrk on PATH
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _parse_wrk(text: str) -> dict[str, int]:
    total = re.search(r"(\d+) requests in", text)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    )
    return {
        "requests": int(total.group(1)) if total else 0,
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": sum(map(int, errors.groups())) if errors else 0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--min-requests", type=int, default=50_000)
    parser.add_argument("--baseline-flips", type=int, default=6)
    args = parser.parse_args()
    if shutil.which("wrk") is None or shutil.which("haproxy") is None:
        print("needs Debian's haproxy and wrk: apt-get install haproxy wrk", file=sys.stderr)
        return 2

    lab = ReleaseLab(short_dir("lsb-"))
    versions = [f"1.{n}.0" for n in range(args.cycles + 1)]
    for version in versions:
        lab.versions.add(version)
    retired_version = f"1.{args.cycles + 1}.0"  # released once more, then rolled back by hand
    lab.versions.add(retired_version)
    home = lab.root / "home"
    lab.homes.append(home)
    policy = load_policy_text(lab.policy_yaml(blue_green={"rollback_window": "10m"}))
    c = build(Settings(home=home), migrate=True, policy=policy)
    offset = time.time() - time.monotonic()
    switch: list[float] = []
    rollback: list[float] = []
    detection: list[float] = []
    baseline: list[float] = []
    manual = float("nan")
    wrk: subprocess.Popen[str] | None = None
    try:
        first = gated_start(c, service=SERVICE, version=versions[0], env="staging", actor=OPS)
        drive(c, first.id)
        probe = LoadLoop(lab.url, threads=2).start()
        wrk = _wrk(lab.url, seconds=max(20, 8 * args.cycles + 6) + 12)
        time.sleep(1.0)
        runtime = c.releases.factory.get(SERVICE, "staging")
        stable = versions[0]
        for version in versions[1:]:
            info = gated_start(c, service=SERVICE, version=version, env="staging", actor=OPS)
            drive(c, info.id, until=lambda i: i.phase is Phase.OBSERVING)
            decided = _wall_to_mono(offset, _entry_time(c, info.id, "release.healthy"))
            time.sleep(0.5)
            switch.append(_last_served(probe, stable, decided) - decided)
            # Baseline: the bare runtime-API weight change, back and forth, ending on the new.
            new, old = info.target_slot, info.stable_slot or ""
            for n in range(args.baseline_flips):
                to, away = (old, version) if n % 2 == 0 else (new, stable)
                t0 = time.monotonic()
                runtime.router.apply(Routing({to: 100, (new if to == old else old): 0}))
                time.sleep(0.4)
                baseline.append(_last_served(probe, away, t0) - t0)
            # The new version's health endpoint fails: leitstand rolls back on its own.
            broke = time.monotonic()
            lab.versions.set(version, health="fail")
            done = drive(c, info.id, timeout=60)
            assert done.phase is Phase.ROLLED_BACK, done
            verdict = _wall_to_mono(offset, _entry_time(c, info.id, "release.rollback_decided"))
            time.sleep(0.5)
            detection.append(verdict - broke)
            rollback.append(_last_served(probe, version, verdict) - verdict)
        # After the old colour was retired: a manual rollback redeploys the previous version.
        c.close()
        short = load_policy_text(lab.policy_yaml(blue_green={"rollback_window": "1s"}))
        c = build(Settings(home=home), migrate=True, policy=short)
        info = gated_start(c, service=SERVICE, version=retired_version, env="staging", actor=OPS)
        assert drive(c, info.id, timeout=60).phase is Phase.COMPLETED
        back = c.releases.rollback(service=SERVICE, env="staging", actor=OPS, reason="bench")
        back = drive(c, back.id, timeout=120)
        assert back.phase is Phase.COMPLETED and back.version == stable, back
        assert back.rollback_seconds is not None
        manual = back.rollback_seconds
        while True:
            remaining = args.min_requests - len(probe.results)
            if wrk.poll() is not None or remaining <= 0:
                break
            time.sleep(0.2)
        wrk_out = wrk.communicate(timeout=120)[0]
        probe.stop()
    finally:
        if wrk is not None and wrk.poll() is None:
            wrk.kill()
            wrk.wait()
        c.close()
        lab.close()
    w = _parse_wrk(wrk_out)
    failed = len(probe.failed) + w["non_2xx"] + w["socket_errors"]
    requests = len(probe.results) + w["requests"]
    result: dict[str, Any] = {
        "requests": requests,
        "failed_requests": failed,
        "switch_s": round(statistics.median(switch), 4),
        "switch_s_max": round(max(switch), 4),
        "rollback_s": round(statistics.median(rollback), 4),
        "rollback_s_max": round(max(rollback), 4),
        "baseline_weight_change_s": round(statistics.median(baseline), 4),
        "baseline_weight_change_s_max": round(max(baseline), 4),
        "health_failure_to_verdict_s": round(statistics.median(detection), 3),
        "cycles": args.cycles,
        "wrk_requests": w["requests"],
        "probe_requests": len(probe.results),
        "probe_resent": probe.resent,
        "seed_rollback_limit_s": policy.deployment.blue_green.max_rollback_time.total_seconds(),
        "manual_rollback_s": round(manual, 3),
    }
    lines = [
        f"requests: {requests} (wrk {w['requests']}, probe {len(probe.results)}), failed: {failed}",
        f"switch (decision -> old colour's last response): median {result['switch_s']} s, "
        f"max {result['switch_s_max']} s",
        f"rollback (failed verdict -> traffic fully back): median {result['rollback_s']} s, "
        f"max {result['rollback_s_max']} s "
        f"(the seed allows {result['seed_rollback_limit_s']:g} s)",
        f"baseline, bare runtime-API weight change: median "
        f"{result['baseline_weight_change_s']} s, max {result['baseline_weight_change_s_max']} s",
        f"health endpoint failing -> verdict: median {result['health_failure_to_verdict_s']} s "
        "(2 failed checks 200 ms apart)",
        f"manual rollback after the old colour was retired (redeploy, decision -> traffic on "
        f"{versions[0]}): {result['manual_rollback_s']} s "
        f"(the seed allows {result['seed_rollback_limit_s']:g} s)",
    ]
    print("\n".join(lines))
    ok = (
        failed == 0
        and requests >= args.min_requests
        and result["rollback_s_max"] <= 1.0
        and manual <= result["seed_rollback_limit_s"]
    )
    print("targets met" if ok else "TARGETS MISSED")
    print(json.dumps(result, sort_keys=True))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
