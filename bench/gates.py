"""Benchmark: leitstand's SECURITY stage against running the same scanners one after another.

The project is a real open-source package of at least 20k lines vendored from an installed
wheel's sources (hypothesis, a test dependency) into a temporary folder with a pyproject.toml.
Baseline: the same scanners by hand, sequentially, in the same run (detect-secrets, pip's
installed-distribution licence read, OSV lookup, hadolint). Last line: JSON.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import hypothesis

from leitstand.auth.model import Actor
from leitstand.bootstrap import build
from leitstand.gates.environment import PipOptions
from leitstand.gates.model import Stage
from leitstand.gates.service import GateRequest
from leitstand.settings import Settings
from leitstand.testing import ManualClock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # tests/support

from support.gates_lab import osv_folder

ROUNDS = 3


def _vendor(root: Path) -> tuple[int, int]:
    source = Path(hypothesis.__file__).parent
    shutil.copytree(
        source, root / "src" / "hypothesis", ignore=shutil.ignore_patterns("__pycache__")
    )
    (root / "pyproject.toml").write_text(
        '[project]\nname = "vendored-hypothesis"\nversion = "1.0"\n', encoding="utf-8"
    )
    (root / "Dockerfile").write_text(
        "FROM python:3.12-alpine\nUSER app\nHEALTHCHECK CMD true\n", encoding="utf-8"
    )
    files = list((root / "src").rglob("*.py"))
    lines = sum(len(p.read_text(encoding="utf-8").splitlines()) for p in files)
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    return lines, size


def _baseline(root: Path, osv: Path) -> float:
    started = time.perf_counter()
    venv_bin = Path(sys.executable).parent
    subprocess.run(
        [str(venv_bin / "detect-secrets"), "scan", "--all-files", str(root)],
        capture_output=True,
        check=False,
        timeout=600,
        cwd=root,
    )
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import importlib.metadata as m; "
            "[(d.metadata['Name'], d.metadata.get('License-Expression'), "
            "d.metadata.get_all('Classifier')) "
            "for d in m.distributions()]",
        ],
        capture_output=True,
        check=False,
        timeout=600,
    )
    from leitstand.gates.osv import OsvDatabase

    database = OsvDatabase.load(osv)
    import importlib.metadata as md

    for dist in md.distributions():
        database.find(dist.metadata["Name"], dist.version)
    subprocess.run(
        [str(venv_bin / "hadolint"), "--no-fail", "-f", "json", str(root / "Dockerfile")],
        capture_output=True,
        check=False,
        timeout=600,
    )
    return time.perf_counter() - started


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="leitstand-bench-gates-") as tmp:
        base = Path(tmp)
        root = base / "project"
        lines, size = _vendor(root)
        osv = osv_folder(base / "osv")
        (root / "leitstand.yaml").write_text(f"gates:\n  osv:\n    path: {osv}\n", encoding="utf-8")
        container = build(Settings(home=base / "home"), clock=ManualClock(), migrate=True)
        request = GateRequest(
            path=root,
            stages=(Stage.SECURITY,),
            out=base / "out",
            python=Path(sys.executable),
            pip=PipOptions(),
            keep_going=True,
        )
        # Warm both paths once (imports, page cache), then measure in alternating rounds and
        # take the medians (one round of each is at the mercy of a background hiccup).
        container.gates.run(request, actor=Actor(name="bench", role="local"))
        baselines, stages, scans = [], [], []
        for _ in range(ROUNDS):
            baselines.append(_baseline(root, osv))
            started = time.perf_counter()
            result, _, _ = container.gates.run(request, actor=Actor(name="bench", role="local"))
            stages.append(time.perf_counter() - started)
            scans.append(next(c for c in result.checks if c.id == "security.secrets").duration_s)
        container.close()
        baseline, stage = statistics.median(baselines), statistics.median(stages)
        secret_s = statistics.median(scans)
    print(f"project: vendored hypothesis, {lines} lines of Python, {size / 1e6:.2f} MB")
    print(f"baseline (scanners one after another): {baseline:.2f} s")
    print(f"leitstand security stage (parallel checks): {stage:.2f} s")
    print(f"ratio: {stage / baseline:.2f}x; secret scan {secret_s:.2f} s (medians of {ROUNDS})")
    print(
        json.dumps(
            {
                "stage_s": round(stage, 3),
                "baseline_sequential_s": round(baseline, 3),
                "ratio": round(stage / baseline, 3),
                "secrets_mb_per_s": round(size / 1e6 / secret_s, 3),
                "lines": lines,
            }
        )
    )


if __name__ == "__main__":
    main()
