"""Benchmark: leitstand's own image, built and scanned.

1. ``build_s``: ``leitstand.images.build.build_image`` of leitstand's wheel (mmdebstrap from the
   mirror, pip, the layer); ``image_mb`` the compressed layer.
2. ``scan_s``: the gate's image scan (``security.images``: layout verification, syft's SBOM,
   OSV matching of the SBOM's Python packages, Trivy's secret and misconfiguration scanners).
3. ``baseline_scan_s``: the same two engines by hand on the same layout, one after the other
   (``syft scan oci-dir:DIR -o cyclonedx-json``, then ``trivy image --input DIR`` with the same
   offline flags), in the same run. Target: ``ratio`` = scan / baseline <= 1.1.

Each scan is run ROUNDS times after one warm-up; the medians are compared. Last line: JSON.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from leitstand.gates.context import GateContext
from leitstand.gates.environment import PipOptions
from leitstand.gates.image_scan import SYFT_ENV, image_scan, syft_command, trivy_command
from leitstand.gates.project import load_project
from leitstand.images.build import build_image
from leitstand.policy import load_policy_text

ROUNDS = 3
ROOT = Path(__file__).resolve().parent.parent
OSV = ROOT.parent / "shared/data/pypa-advisory-database/vulns"
EPOCH = 1_764_547_200


def _tool(name: str) -> str:
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else name


def _wheel(out: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return next(out.glob("leitstand-*.whl"))


def _scan(project: Path, osv: Path) -> float:
    policy = load_policy_text(f"gates:\n  osv:\n    path: {osv}\n")
    ctx = GateContext(
        project=load_project(project),
        policy=policy,
        out=project / "gate-report",
        today=date.today(),
        now=datetime.now(UTC),
        pip_options=PipOptions(),
    )
    started = time.perf_counter()
    result = image_scan(ctx)
    elapsed = time.perf_counter() - started
    if not ctx.scanned_images:
        raise SystemExit(f"the image scan scanned nothing: {result.summary}")
    return elapsed


def _baseline(layout: Path, work: Path) -> float:
    env = {**os.environ, **SYFT_ENV}
    started = time.perf_counter()
    subprocess.run(
        syft_command(_tool("syft"), layout, work / "sbom.json"), check=True, env=env, timeout=1800
    )
    with tempfile.TemporaryDirectory() as cache:
        command = trivy_command(_tool("trivy"), layout, work / "trivy.json", cache)
        subprocess.run(command, check=True, timeout=1800)
    return time.perf_counter() - started


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-image-") as tmp:
        work = Path(tmp)
        wheel = _wheel(work / "wheel")
        project = work / "project"
        project.mkdir()
        (project / "requirements.txt").write_text("", encoding="utf-8")
        layout = project / "image"
        settings = load_policy_text("{}").gates.containers.build
        started = time.perf_counter()
        built = build_image(wheel, layout, settings=settings, epoch=EPOCH)
        build_s = time.perf_counter() - started
        image_mb = built.layer_bytes / 1e6
        print(
            f"built {built.ref.name}:{built.ref.tag} {built.ref.manifest.digest}: "
            f"{image_mb:.1f} MB layer, {len(built.debian_packages)} Debian and "
            f"{built.python_packages} Python packages in {build_s:.1f} s"
        )
        _scan(project, OSV)  # warm-up: file caches
        _baseline(layout, work)
        scans, baselines = [], []
        for round_ in range(ROUNDS):
            scans.append(_scan(project, OSV))
            baselines.append(_baseline(layout, work))
            print(f"round {round_ + 1}: leitstand {scans[-1]:.2f} s, by hand {baselines[-1]:.2f} s")
        scan_s = statistics.median(scans)
        baseline_s = statistics.median(baselines)
    print(
        json.dumps(
            {
                "bench": "image",
                "build_s": round(build_s, 2),
                "image_mb": round(image_mb, 1),
                "scan_s": round(scan_s, 3),
                "baseline_scan_s": round(baseline_s, 3),
                "ratio": round(scan_s / baseline_s, 3),
                "target_ratio": 1.1,
                "rounds": ROUNDS,
            }
        )
    )


if __name__ == "__main__":
    main()
