"""Feature flag evaluation benchmarks, against OpenFeature's InMemoryProvider in the same run.

What is measured:

1. In-process evaluations per second and the p99 latency of one evaluation through the standard
   OpenFeature API (``client.get_boolean_value`` etc.) with ``LeitstandProvider``, whose
   ``FlagClient`` fetched its snapshot from a real ``leitstand up`` (started here on 127.0.0.1
   with a free port, stopped by PID at the end). The flags carry real targeting: a tenant rule, an
   attribute rule, an excluded tenant and a sticky percentage rollout (a murmur3 hash per call).
   Baseline: OpenFeature's own ``InMemoryProvider`` holding the same keys and variants, called
   through the same API with the same contexts. Rounds alternate between the two providers.
2. HTTP evaluations per second: ``POST /api/v1/flags/evaluate`` for one flag per request over one
   keep-alive connection (the server's own work plus HTTP), and the same with every flag in one
   request (evaluations per second counts flags).

Run from the repository root::

    .venv/bin/python bench/flags.py              # 12 flags, 3 rounds of 40,000 evaluations
    .venv/bin/python bench/flags.py --quick      # 1 round of 10,000, 300 HTTP requests

Human lines go to stdout; the last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.evaluation_context import EvaluationContext
from openfeature.provider.in_memory_provider import InMemoryFlag, InMemoryProvider

from leitstand.flags.client import FlagClient
from leitstand.flags.provider import LeitstandProvider
from leitstand.testing import ServerProcess, free_port

TENANTS = ["example-makler-nord", "example-makler-sued", "example-vorsorge-west"]


def _flag_bodies(count: int) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(key, create body, production targeting) for ``count`` boolean/string flags."""
    flags = []
    for i in range(count):
        key = f"bench-flag-{i:02d}"
        string = i % 4 == 3
        create: dict[str, Any] = {"key": key, "type": "release"}
        on = "on"
        if string:
            create |= {
                "value_type": "string",
                "variants": {"classic": "list", "fresh": "grid"},
                "off_variant": "classic",
            }
            on = "fresh"
        targeting = {
            "enabled": True,
            "exclude_tenants": [TENANTS[2]] if i % 3 == 0 else [],
            "rules": [
                {"name": "tenants", "tenants": [TENANTS[0]], "serve": {"variant": on}},
                {
                    "name": "enterprise",
                    "conditions": [{"attribute": "plan", "operator": "in", "values": ["ent"]}],
                    "serve": {"variant": on},
                },
            ],
            "default": {"variant": on, "percentage": 10 + (i * 7) % 80},
        }
        flags.append((key, create, targeting))
    return flags


def _contexts(n: int) -> list[EvaluationContext]:
    return [
        EvaluationContext(
            f"user-{i}",
            {"tenantId": TENANTS[i % 3], "plan": "ent" if i % 5 == 0 else "basic"},
        )
        for i in range(n)
    ]


def _measure(
    client: OpenFeatureClient,
    calls: list[tuple[Callable[..., Any], str, Any]],
    contexts: list[EvaluationContext],
    n: int,
) -> tuple[float, list[int]]:
    del client
    latencies: list[int] = [0] * n
    perf = time.perf_counter_ns
    ncalls, nctx = len(calls), len(contexts)
    started = perf()
    for i in range(n):
        method, key, default = calls[i % ncalls]
        t0 = perf()
        method(key, default, contexts[i % nctx])
        latencies[i] = perf() - t0
    elapsed = (perf() - started) / 1e9
    return n / elapsed, latencies


def _p99_us(latencies: list[int]) -> float:
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] / 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flags", type=int, default=12)
    parser.add_argument("--evaluations", type=int, default=40_000, help="per round and provider")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--http-requests", type=int, default=1_000)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.evaluations, args.rounds, args.http_requests = 10_000, 1, 300

    with tempfile.TemporaryDirectory(prefix="leitstand-bench-flags-") as tmp:
        server = ServerProcess(home=Path(tmp) / ".leitstand", port=free_port())
        try:
            server.wait_ready()
            token = server.token()
            if token is None:
                raise SystemExit("leitstand up printed no token")
            auth = {"Authorization": f"Bearer {token}"}
            http = httpx.Client(base_url=server.url, headers=auth, timeout=30)
            bodies = _flag_bodies(args.flags)
            for key, create, targeting in bodies:
                http.post("/api/v1/flags", json=create).raise_for_status()
                http.put(
                    f"/api/v1/flags/{key}/environments/production",
                    json={"targeting": targeting, "reason": "benchmark"},
                ).raise_for_status()
            result = _run(args, server, token, http, bodies)
            http.close()
        finally:
            server.stop()
    print(json.dumps(result, sort_keys=True))
    return 0


def _run(
    args: argparse.Namespace,
    server: ServerProcess,
    token: str,
    http: httpx.Client,
    bodies: list[tuple[str, dict[str, Any], dict[str, Any]]],
) -> dict[str, Any]:
    flag_client = FlagClient(server.url, token=token, environment="production")
    if not flag_client.start(background=False):
        raise SystemExit(f"no snapshot: {flag_client.last_error}")
    snapshot = flag_client.snapshot
    assert snapshot is not None
    api.set_provider_and_wait(LeitstandProvider(flag_client), domain="leitstand")
    memory: dict[str, InMemoryFlag[Any]] = {}
    for key, config in snapshot.flags.items():
        on = config.targeting.default.variant or config.off_variant
        memory[key] = InMemoryFlag(default_variant=on, variants=dict(config.variants))
    api.set_provider_and_wait(InMemoryProvider(memory), domain="in-memory")
    ours, base = api.get_client("leitstand"), api.get_client("in-memory")

    def calls(client: OpenFeatureClient) -> list[tuple[Callable[..., Any], str, Any]]:
        out: list[tuple[Callable[..., Any], str, Any]] = []
        for key, create, _t in bodies:
            if create.get("value_type") == "string":
                out.append((client.get_string_value, key, "list"))
            else:
                out.append((client.get_boolean_value, key, False))
        return out

    contexts = _contexts(997)
    # Same answers for the shared part of the semantics: a sanity check before timing.
    sample = ours.get_boolean_details(bodies[0][0], False, contexts[0])
    if sample.error_code is not None:
        raise SystemExit(f"evaluation failed: {sample}")
    _measure(ours, calls(ours), contexts, 2_000)  # warm-up
    _measure(base, calls(base), contexts, 2_000)
    rates: dict[str, list[float]] = {"leitstand": [], "in-memory": []}
    latencies: dict[str, list[int]] = {"leitstand": [], "in-memory": []}
    for round_no in range(args.rounds):
        for name, client in (("leitstand", ours), ("in-memory", base)):
            rate, lat = _measure(client, calls(client), contexts, args.evaluations)
            rates[name].append(rate)
            latencies[name] += lat
        print(
            f"round {round_no + 1}: leitstand {rates['leitstand'][-1]:,.0f}/s, "
            f"InMemoryProvider {rates['in-memory'][-1]:,.0f}/s"
        )
    api.clear_providers()
    flag_client.close()

    evals = max(rates["leitstand"])
    baseline = max(rates["in-memory"])
    p99 = _p99_us(latencies["leitstand"])
    p99_base = _p99_us(latencies["in-memory"])
    print(
        f"in-process via OpenFeature: {evals:,.0f} evaluations/s, p99 {p99:.1f} us "
        f"({len(bodies)} flags with targeting and sticky rollouts)"
    )
    print(f"baseline InMemoryProvider:  {baseline:,.0f} evaluations/s, p99 {p99_base:.1f} us")
    print(f"ratio: {evals / baseline:.2f}x (target >= 0.5x)")

    keys = [key for key, _c, _t in bodies]
    context = {"tenantId": TENANTS[1], "targetingKey": "user-1", "plan": "basic"}
    http_latencies: list[int] = []
    started = time.perf_counter()
    for i in range(args.http_requests):
        t0 = time.perf_counter_ns()
        response = http.post(
            "/api/v1/flags/evaluate",
            json={"environment": "production", "context": context, "flags": [keys[i % len(keys)]]},
        )
        http_latencies.append(time.perf_counter_ns() - t0)
        response.raise_for_status()
    http_rate = args.http_requests / (time.perf_counter() - started)
    batches = max(1, args.http_requests // 5)
    started = time.perf_counter()
    for _ in range(batches):
        http.post(
            "/api/v1/flags/evaluate", json={"environment": "production", "context": context}
        ).raise_for_status()
    batch_rate = batches * len(keys) / (time.perf_counter() - started)
    print(
        f"HTTP one flag per request: {http_rate:,.0f} evaluations/s, "
        f"p99 {_p99_us(http_latencies) / 1000:.1f} ms"
    )
    print(f"HTTP all {len(keys)} flags per request: {batch_rate:,.0f} evaluations/s")
    sys.stdout.flush()
    return {
        "flags": len(bodies),
        "evaluations_per_round": args.evaluations,
        "rounds": args.rounds,
        "evals_per_s": round(evals),
        "baseline_evals_per_s": round(baseline),
        "ratio": round(evals / baseline, 3),
        "p99_us": round(p99, 2),
        "baseline_p99_us": round(p99_base, 2),
        "http_evals_per_s": round(http_rate),
        "http_p99_ms": round(_p99_us(http_latencies) / 1000, 2),
        "http_batch_evals_per_s": round(batch_rate),
    }


if __name__ == "__main__":
    sys.exit(main())
