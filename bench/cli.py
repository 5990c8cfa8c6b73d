"""CLI start-up: `leitstand --version` and `leitstand policy show` against `python -c pass`.

What is measured: the wall time of a whole command, from starting the process to its exit, as a
user sees it. `leitstand --version` (the interpreter, Typer and the root command, no domain) and
`leitstand policy show` in an empty temporary folder (no leitstand.yaml: the embedded default
policy, validated and printed as YAML). Baseline: `python -c pass` with the same interpreter (the
venv's), in the same run. The three commands alternate within each round, so all of them see the
same load; the figures are medians. The child processes' CPU time (user + system) is reported
too: on a busy machine it says what the command costs when the wall time says how long it waited.

Run from the repository root::

    .venv/bin/python bench/cli.py              # 15 rounds, about 20 seconds
    .venv/bin/python bench/cli.py --rounds 5

Human lines go to stdout; the last line is one JSON object with every figure. Exit code 1 when
a target is missed (``--version`` <= 0.3 s, ``policy show`` <= 0.8 s).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS = {"version_s": 0.3, "policy_show_s": 0.8}


def _leitstand() -> list[str]:
    """The `leitstand` console script next to this interpreter (as installed), else `-m`."""
    script = Path(sys.executable).parent / "leitstand"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "leitstand"]


def _timed(argv: list[str], *, cwd: Path, env: dict[str, str], expect: str) -> tuple[float, float]:
    """Run ``argv`` once; return (wall seconds, CPU seconds of the child)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0 or expect not in done.stdout:
        raise SystemExit(
            f"{' '.join(argv)} failed (exit {done.returncode}): {done.stderr.strip()[-500:]}"
        )
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="timed runs of each command")
    parser.add_argument("--warmup", type=int, default=2, help="untimed rounds first")
    args = parser.parse_args(argv)

    leitstand = _leitstand()
    commands = {
        "python": ([sys.executable, "-c", "pass"], ""),
        "version": ([*leitstand, "--version"], "leitstand "),
        "policy_show": ([*leitstand, "policy", "show"], "services:"),
    }
    wall: dict[str, list[float]] = {name: [] for name in commands}
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    with tempfile.TemporaryDirectory(prefix="leitstand-bench-cli-") as tmp:
        folder = Path(tmp)
        # No leitstand.yaml here and no LEITSTAND_* settings: the embedded default policy.
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEITSTAND_")}
        env["LEITSTAND_HOME"] = str(folder / ".leitstand")
        for round_ in range(args.warmup + args.rounds):
            for name, (command, expect) in commands.items():
                seconds, used = _timed(command, cwd=folder, env=env, expect=expect)
                if round_ >= args.warmup:
                    wall[name].append(seconds)
                    cpu[name].append(used)
        if (folder / ".leitstand").exists():
            raise SystemExit("leitstand policy show created an installation; it must not")

    def median(values: list[float]) -> float:
        return round(statistics.median(values), 4)

    python_s = median(wall["python"])
    result: dict[str, object] = {
        "rounds": args.rounds,
        "command": " ".join(leitstand),
        "python_s": python_s,
        "version_s": median(wall["version"]),
        "policy_show_s": median(wall["policy_show"]),
        "version_ratio": round(median(wall["version"]) / python_s, 2),
        "policy_show_ratio": round(median(wall["policy_show"]) / python_s, 2),
        "python_cpu_s": median(cpu["python"]),
        "version_cpu_s": median(cpu["version"]),
        "policy_show_cpu_s": median(cpu["policy_show"]),
        "version_min_s": round(min(wall["version"]), 4),
        "policy_show_min_s": round(min(wall["policy_show"]), 4),
        "targets": TARGETS,
    }
    met = {key: median(wall[key.removesuffix("_s")]) <= limit for key, limit in TARGETS.items()}
    result["targets_met"] = met
    print(f"rounds: {args.rounds} (after {args.warmup} warm-up), commands alternating")
    print(f"python -c pass:          median {python_s:.3f} s  cpu {result['python_cpu_s']:.3f} s")
    for name, label in (
        ("version", "leitstand --version"),
        ("policy_show", "leitstand policy show"),
    ):
        key = f"{name}_s"
        print(
            f"{label + ':':24s} median {result[key]:.3f} s  cpu {result[f'{name}_cpu_s']:.3f} s  "
            f"min {result[f'{name}_min_s']:.3f} s  {result[f'{name}_ratio']}x python  "
            f"(target <= {TARGETS[key]} s: {'met' if met[key] else 'MISSED'})"
        )
    print("targets met" if all(met.values()) else "TARGETS MISSED")
    print(json.dumps(result, sort_keys=True))
    return 0 if all(met.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
