"""Log management benchmarks: leitstand's log processors and the sealing of log segments.

What is measured:

1. Log lines per second through leitstand's processor chain, built as
   ``leitstand.observability.configure_logging`` builds it (context variables, level, ISO
   timestamp, secret redaction, JSON) with the pseudonymiser of ``leitstand.logs.pseudonym``
   (keyed HMAC-SHA256 of user names, e-mail and IP addresses) inserted before the renderer.
   Baseline: plain structlog JSON as its documentation sets it up (context variables, level,
   ISO timestamp, ``JSONRenderer``), in the same run. Both use the same
   bound-logger class, the same ``PrintLogger`` and the same in-memory sink, and log the same
   events (a mix of HTTP requests with client addresses, logins with user names and e-mail
   addresses, scheduler ticks, errors with addresses in the text and lines without personal
   data). Rounds alternate between the two; the best round of each counts.
2. Seal throughput in MB/s: ``leitstand.logs.segments.seal_digest`` (SHA-256 and size, Python
   hashlib in 1 MiB chunks) over log segment files written here from the same log lines.
   Baseline: ``sha256sum`` on the same files, in the same run; the digests must agree. Rounds
   alternate; the best round of each counts. The files are read from the page cache.

Run from the repository root::

    .venv/bin/python bench/logs.py              # 200,000 lines x 5 rounds, 4 segments of 64 MiB
    .venv/bin/python bench/logs.py --quick      # 50,000 lines x 3 rounds, 4 segments of 16 MiB

Progress goes to stderr, human lines to stdout; the last line of stdout is one JSON object with
every figure. Exit code 1 when a target is missed (``lines_ratio`` >= 0.7, ``seal_ratio`` >= 0.8)
or when a personal value reaches a log line.
"""

from __future__ import annotations

import argparse
import inspect
import io
import json
import logging
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import structlog

from leitstand.logs.pseudonym import LogPseudonymiser
from leitstand.logs.segments import seal_digest
from leitstand.observability import configure_logging
from leitstand.policy import default_policy

TARGETS = {"lines_ratio": 0.7, "seal_ratio": 0.8}
SHA256SUM = shutil.which("sha256sum") or "/usr/bin/sha256sum"
MIB = 1 << 20

Event = tuple[str, dict[str, Any]]


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class _Sink(io.TextIOBase):
    """Counts what is written and keeps nothing (the same for both chains)."""

    def __init__(self) -> None:
        self.chars = 0

    def write(self, text: str) -> int:
        self.chars += len(text)
        return len(text)

    def flush(self) -> None:
        pass


def _events(count: int, seed: int) -> tuple[list[Event], set[str]]:
    """``count`` realistic events and the personal values in them."""
    rng = random.Random(seed)
    users = [f"user{i:03d}" for i in range(200)]
    mails = [f"{u}@makler-nord.example" for u in users]
    ipv4 = [f"10.{i // 250}.{i % 250}.{rng.randint(1, 254)}" for i in range(300)]
    ipv6 = [f"2001:db8:{i:x}::{rng.randint(1, 0xFFFF):x}" for i in range(100)]
    routes = ["/api/v1/incidents/{incident_id}", "/api/v1/flags/evaluate", "/api/v1/releases"]
    events: list[Event] = []
    for i in range(count):
        request_id = f"{rng.getrandbits(128):032x}"
        kind = i % 8
        if kind in (0, 1, 2):
            ip = rng.choice(ipv6 if kind == 2 else ipv4)
            route = rng.choice(routes)
            fields: dict[str, Any] = {
                "method": "GET",
                "route": route,
                "status": rng.choice((200, 200, 200, 404, 500)),
                "duration_ms": round(rng.uniform(1, 400), 2),
                "client_ip": ip,
            }
            events.append(("http_request", {"request_id": request_id, **fields}))
        elif kind == 3:
            n = rng.randrange(len(users))
            fields = {"user": users[n], "email": mails[n], "method": "password", "result": "ok"}
            events.append(("login", {"request_id": request_id, **fields}))
        elif kind == 4:
            fields = {"actor": rng.choice(users), "role": "devops", "limit": 100}
            events.append(("scheduler_tick", {"request_id": request_id, **fields}))
        elif kind == 5:
            text = f"delivery to {rng.choice(mails)} failed via {rng.choice(ipv4)}: timeout"
            events.append(("notification_failed", {"request_id": request_id, "error": text}))
        else:
            fields = {
                "service": "enterprise-api",
                "version": "2.4.1",
                "component": "release",
                "phase": rng.choice(("canary", "full", "rollback")),
                "weight": rng.choice((5, 25, 50, 100)),
            }
            events.append(("release_step", {"request_id": request_id, **fields}))
    personal = {*users, *mails, *ipv4, *ipv6}
    return events, personal


def _leitstand_processors(pseudonymiser: LogPseudonymiser) -> list[Any]:
    """The chain ``configure_logging`` configures, with the pseudonymiser before the renderer."""
    sink = _Sink()
    options: dict[str, Any] = {"json_output": True, "stream": sink}
    if "pseudonymiser" in inspect.signature(configure_logging).parameters:
        options["pseudonymiser"] = pseudonymiser
    configure_logging("info", **options)
    processors = list(structlog.get_config()["processors"])
    if not any(isinstance(p, LogPseudonymiser) for p in processors):
        # Last before the renderer: after the redaction and the exception text.
        processors.insert(len(processors) - 1, pseudonymiser)
    structlog.reset_defaults()
    logging.getLogger().handlers[:] = []
    return processors


def _logger(processors: Sequence[Any], sink: io.TextIOBase) -> Any:
    return structlog.wrap_logger(
        structlog.PrintLogger(file=sink),
        processors=list(processors),
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        cache_logger_on_first_use=True,
    )


def _run(logger: Any, events: list[Event]) -> float:
    """CPU seconds to log ``events``."""
    info = logger.info
    started = time.process_time()
    for message, fields in events:
        info(message, **fields)
    return time.process_time() - started


def _processor_costs(processors: Sequence[Any], events: list[Event]) -> dict[str, float]:
    """CPU microseconds per line of each processor, on the input it gets in the chain."""
    costs: dict[str, float] = {}
    for warm in (True, False):
        dicts: list[Any] = [{"event": message, **fields} for message, fields in events]
        for processor in processors:
            name = getattr(processor, "__name__", type(processor).__name__)
            started = time.process_time()
            dicts = [processor(None, "info", d) for d in dicts]
            if not warm:
                costs[name] = round((time.process_time() - started) / len(events) * 1e6, 2)
    return costs


def _check_no_personal_data(
    processors: Sequence[Any], events: list[Event], personal: set[str]
) -> str:
    """Every line through leitstand's chain; fail when a personal value reaches one."""
    out = io.StringIO()
    logger = _logger(processors, out)
    for message, fields in events:
        logger.info(message, **fields)
    text = out.getvalue()
    leaked = sorted(value for value in personal if value in text)
    if leaked:
        raise SystemExit(f"personal data reached a log line: {leaked[:5]}")
    if "pn:" not in text:
        raise SystemExit("no pseudonym in the log lines")
    return text


def _write_segments(folder: Path, lines: str, count: int, size: int) -> list[Path]:
    block = lines.encode("utf-8")
    paths = []
    for i in range(count):
        path = folder / f"application.log.{i + 1}"
        with path.open("wb") as handle:
            written = 0
            while written < size:
                part = block[: size - written]
                handle.write(part)
                written += len(part)
        paths.append(path)
    return paths


def _sha256sum(paths: list[Path]) -> tuple[dict[str, str], float]:
    """The digests ``sha256sum`` prints for ``paths``, and the CPU seconds it used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        [SHA256SUM, "--", *map(str, paths)], capture_output=True, text=True, check=True
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    digests = {}
    for line in done.stdout.splitlines():
        digest, _, name = line.partition("  ")
        digests[name] = digest
    return digests, used


def _best(timings: list[float]) -> float:
    return max(min(timings), 1e-9)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000, help="log lines per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds (best counts)")
    parser.add_argument("--segments", type=int, default=4, help="segment files to seal")
    parser.add_argument("--segment-mib", type=int, default=64, help="size of each segment")
    parser.add_argument("--seed", type=int, default=1515)
    parser.add_argument("--quick", action="store_true", help="fewer lines, smaller segments")
    parser.add_argument("--output", type=Path, help="also write the JSON line there")
    args = parser.parse_args(argv)
    if args.quick:
        args.lines, args.rounds, args.segment_mib = 50_000, 3, 16
    if not Path(SHA256SUM).is_file():
        raise SystemExit("sha256sum is not installed (coreutils)")

    # A fixed bench key: the figures do not depend on it and it is not a real one.
    key = os.urandom(32)
    pseudonymiser = LogPseudonymiser(key, default_policy().logs.pseudonymise_fields)
    processors = _leitstand_processors(pseudonymiser)
    # The baseline: structlog's own JSON recipe (its documentation's production set-up), with the
    # same level and ISO timestamp fields leitstand's lines carry; leitstand adds the trace ids,
    # redaction, pseudonymisation and exception text, and renders with orjson.
    baseline_processors = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.JSONRenderer(),
    ]
    # Also reported (no target): the renderer alone, a line with no level, time or protection.
    bare_processors = [structlog.processors.JSONRenderer()]
    events, personal = _events(args.lines, args.seed)
    sample = _check_no_personal_data(processors, events[:2000], personal)

    _progress(f"log lines: {args.lines} per round, {args.rounds} rounds, chains alternating")
    ours: list[float] = []
    theirs: list[float] = []
    bare: list[float] = []
    sink = _Sink()
    leitstand_logger = _logger(processors, sink)
    baseline_logger = _logger(baseline_processors, sink)
    bare_logger = _logger(bare_processors, sink)
    _run(leitstand_logger, events[:2000])  # warm-up
    _run(baseline_logger, events[:2000])
    _run(bare_logger, events[:2000])
    for round_ in range(args.rounds):
        ours.append(_run(leitstand_logger, events))
        theirs.append(_run(baseline_logger, events))
        bare.append(_run(bare_logger, events))
        _progress(
            f"  round {round_ + 1}: leitstand {args.lines / ours[-1]:,.0f} lines/s, "
            f"plain structlog {args.lines / theirs[-1]:,.0f} lines/s"
        )
    costs = _processor_costs(processors, events[: min(len(events), 20_000)])
    lines_per_s = args.lines / _best(ours)
    baseline_lines_per_s = args.lines / _best(theirs)
    bare_lines_per_s = args.lines / _best(bare)

    with tempfile.TemporaryDirectory(prefix="leitstand-bench-logs-") as tmp:
        size = args.segment_mib * MIB
        _progress(f"segments: {args.segments} x {args.segment_mib} MiB")
        paths = _write_segments(Path(tmp), sample, args.segments, size)
        total = sum(p.stat().st_size for p in paths)
        expected, _ = _sha256sum(paths)  # warm-up: the files are in the page cache from here on
        sealed: list[float] = []
        summed: list[float] = []
        for round_ in range(args.rounds):
            started = time.process_time()
            seals = [seal_digest(p) for p in paths]
            sealed.append(time.process_time() - started)
            digests, used = _sha256sum(paths)
            summed.append(used)
            for path, (digest, length) in zip(paths, seals, strict=True):
                if digest != digests[str(path)] or length != path.stat().st_size:
                    raise SystemExit(f"seal_digest disagrees with sha256sum on {path.name}")
            _progress(
                f"  round {round_ + 1}: seal_digest {total / 1e6 / sealed[-1]:,.0f} MB/s, "
                f"sha256sum {total / 1e6 / summed[-1]:,.0f} MB/s"
            )
        if digests != expected:
            raise SystemExit("sha256sum gave different digests between rounds")
    seal_mb_per_s = total / 1e6 / _best(sealed)
    baseline_sha256_mb_per_s = total / 1e6 / _best(summed)

    result: dict[str, Any] = {
        "lines": args.lines,
        "rounds": args.rounds,
        "lines_per_s": round(lines_per_s),
        "baseline_lines_per_s": round(baseline_lines_per_s),
        "lines_ratio": round(lines_per_s / baseline_lines_per_s, 3),
        "bare_renderer_lines_per_s": round(bare_lines_per_s),
        "bare_renderer_ratio": round(lines_per_s / bare_lines_per_s, 3),
        "processor_us": costs,
        "segments": args.segments,
        "segment_mib": args.segment_mib,
        "seal_mb_per_s": round(seal_mb_per_s, 1),
        "baseline_sha256_mb_per_s": round(baseline_sha256_mb_per_s, 1),
        "seal_ratio": round(seal_mb_per_s / baseline_sha256_mb_per_s, 3),
        "targets": TARGETS,
    }
    met = {name: result[name] >= limit for name, limit in TARGETS.items()}
    result["targets_met"] = met
    print(
        f"log lines:  leitstand {lines_per_s:,.0f}/s, plain structlog JSON "
        f"{baseline_lines_per_s:,.0f}/s, ratio {result['lines_ratio']} "
        f"(target >= {TARGETS['lines_ratio']}: {'met' if met['lines_ratio'] else 'MISSED'})"
    )
    print(
        f"sealing:    seal_digest {seal_mb_per_s:,.0f} MB/s, sha256sum "
        f"{baseline_sha256_mb_per_s:,.0f} MB/s, ratio {result['seal_ratio']} "
        f"(target >= {TARGETS['seal_ratio']}: {'met' if met['seal_ratio'] else 'MISSED'})"
    )
    print("CPU us per line: " + ", ".join(f"{k} {v}" for k, v in costs.items()))
    print("targets met" if all(met.values()) else "TARGETS MISSED")
    line = json.dumps(result, sort_keys=True)
    if args.output is not None:
        args.output.write_text(line + "\n", encoding="utf-8")
    print(line)
    return 0 if all(met.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
