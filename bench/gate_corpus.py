"""Benchmark: the gate's BUILD and SECURITY stages on popular PyPI projects nobody here wrote.

The corpus is a list of pinned source distributions of different build backends, downloaded at
run time with ``pip download --no-binary :all: --no-deps`` into a cache folder (kept between
runs). Each is unpacked into a temporary folder and gated (build, security) as a new user
would: ``leitstand gate run SRC --stage build,security`` with the PyPA advisory snapshot.

A copy of one project gets planted secrets in the real formats of at least eight providers in
its shipped source; every one must block. Every blocking secret finding in an unmodified
project counts as a false positive. Baseline: detect-secrets alone (its CLI) on the same files.

Per project: build ok, blocking secrets, review findings, duration. Last line: JSON with
``projects``, ``built``, ``blocking_false_positives``, ``planted``, ``planted_found``,
``scan_s``, ``baseline_detect_secrets_s``, ``ratio``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import string
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

from leitstand.auth.model import Actor
from leitstand.bootstrap import build
from leitstand.gates.model import RunResult, Stage, Status
from leitstand.gates.secrets import tree_files
from leitstand.gates.service import GateRequest
from leitstand.settings import Settings
from leitstand.testing import ManualClock

# (distribution, pinned version, build backend as declared in the sdist)
CORPUS: tuple[tuple[str, str, str], ...] = (
    ("requests", "2.32.3", "setuptools"),
    ("urllib3", "2.2.3", "hatchling"),
    ("httpx", "0.27.2", "hatchling"),
    ("attrs", "24.2.0", "hatchling + hatch-vcs"),
    ("structlog", "24.4.0", "hatchling + hatch-vcs"),
    ("iniconfig", "2.0.0", "hatchling + hatch-vcs"),
    ("rich", "13.9.2", "poetry-core"),
    ("poetry-core", "1.9.0", "poetry-core (itself)"),
    ("click", "8.1.7", "setuptools"),
    ("jinja2", "3.1.4", "flit_core"),
    ("itsdangerous", "2.2.0", "flit_core"),
    ("idna", "3.10", "flit_core"),
    ("packaging", "24.1", "flit_core"),
    ("tomli", "2.0.2", "flit_core"),
    ("markdown-it-py", "3.0.0", "flit_core"),
    ("pyjwt", "2.9.0", "setuptools"),
    ("pluggy", "1.5.0", "setuptools + setuptools_scm"),
    ("python-dateutil", "2.9.0.post0", "setuptools + setuptools_scm"),
    ("six", "1.16.0", "setup.py only"),
    ("docopt", "0.6.2", "setup.py only"),
    ("fastapi", "0.115.0", "pdm-backend"),
    ("typer", "0.12.5", "pdm-backend"),
)
PLANT_INTO = "httpx"
OSV = Path(__file__).resolve().parents[1].parent / "shared/data/pypa-advisory-database/vulns"


def _random(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def planted_secrets(seed: int = 21) -> list[tuple[str, str]]:
    """(provider, assignment line) in real formats, generated at run time (never in this file)."""
    rng = random.Random(seed)
    up, low, dig = string.ascii_uppercase, string.ascii_lowercase, string.digits
    alnum = up + low + dig
    key_body = "\n".join(
        _random(rng, alnum + "+/", 70) for _ in range(12)
    )  # an OpenSSH private key's base64 body
    begin, end = (
        "-----BEGIN OPENSSH " + "PRIVATE KEY-----",
        "-----END OPENSSH " + "PRIVATE KEY-----",
    )
    return [
        ("AWS", f'AWS_ACCESS_KEY_ID = "{"AKIA" + _random(rng, up + dig, 16)}"'),
        ("GitHub", f'GITHUB_TOKEN = "{"ghp_" + _random(rng, alnum, 36)}"'),
        ("GitLab", f'GITLAB_TOKEN = "{"glpat-" + _random(rng, alnum, 20)}"'),
        (
            "Slack",
            f'SLACK_TOKEN = "{"xoxb-" + _random(rng, dig, 12) + "-" + _random(rng, dig, 13)}'
            f'-{_random(rng, low + dig, 24)}"',
        ),
        ("Stripe", f'STRIPE_KEY = "{"sk_" + "live_" + _random(rng, alnum, 24)}"'),
        ("Google", f'GOOGLE_API_KEY = "{"AI" + "za" + _random(rng, alnum + "_-", 35)}"'),
        (
            "Azure",
            f'AZURE_STORAGE = "DefaultEndpointsProtocol=https;AccountName=prod;'
            f'{"Account" + "Key="}{_random(rng, alnum + "+/", 86)}=="',
        ),
        (
            "SendGrid",
            f'SENDGRID_KEY = "{"SG." + _random(rng, alnum, 22) + "." + _random(rng, alnum, 43)}"',
        ),
        ("PyPI", f'PYPI_TOKEN = "{"pypi-AgEIcHlwaS5vcmc" + _random(rng, alnum + "_-", 70)}"'),
        ("OpenSSH private key", f'DEPLOY_KEY = """{begin}\n{key_body}\n{end}\n"""'),
    ]


def _download(name: str, version: str, cache: Path) -> Path:
    folder = cache / "sdists"
    folder.mkdir(parents=True, exist_ok=True)
    stem = name.replace("-", "_").lower()
    for candidate in folder.iterdir():
        low = candidate.name.lower().replace("-", "_")
        if low.startswith((f"{stem}_{version}.", f"{stem}-{version}.")):
            return candidate
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--disable-pip-version-check",
            # The project as its sdist; its build requirements (for pip's metadata step) may
            # come as wheels, so ":all:" is narrowed to the project itself.
            "--no-binary",
            name,
            "--no-deps",
            "-d",
            str(folder),
            f"{name}=={version}",
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return _download(name, version, cache)


def _unpack(archive: Path, target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(target)  # noqa: S202 - a pinned sdist from PyPI, into a temp folder
    else:
        with tarfile.open(archive) as tf:
            tf.extractall(target, filter="data")
    [root] = [p for p in target.iterdir() if p.is_dir()]
    return root


def _plant(root: Path) -> tuple[Path, list[tuple[str, int]]]:
    package = next(p for p in (root / "httpx", root / "src" / "httpx") if p.is_dir())
    target = package / "_deploy_settings.py"
    lines = ['"""Deployment settings (planted secrets for the benchmark)."""', ""]
    planted: list[tuple[str, int]] = []
    for _provider, assignment in planted_secrets():
        planted.append((target.relative_to(root).as_posix(), len(lines) + 1))
        lines.extend(assignment.splitlines())
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target, planted


def _baseline(root: Path) -> float:
    files = tree_files(root, exclude=[], skip=[root / "gate-report"])
    started = time.perf_counter()
    subprocess.run(
        [str(Path(sys.executable).parent / "detect-secrets"), "scan", *files],
        cwd=root,
        capture_output=True,
        check=False,
        timeout=1800,
    )
    return time.perf_counter() - started


def _gate(container: object, root: Path, osv: Path) -> tuple[RunResult, float]:
    request = GateRequest(
        path=root,
        stages=(Stage.BUILD, Stage.SECURITY),
        out=root / "gate-report",
        keep_going=True,
        osv_db=osv,
    )
    started = time.perf_counter()
    result, _, _ = container.gates.run(request, actor=Actor(name="bench", role="local"))  # type: ignore[attr-defined]
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    parser.add_argument("--cache", type=Path, default=default_cache / "leitstand" / "gate-corpus")
    parser.add_argument("--osv-db", type=Path, default=OSV)
    parser.add_argument("--only", help="comma-separated distribution names (a quick run)")
    args = parser.parse_args()
    if not args.osv_db.is_dir():
        parser.error(f"--osv-db {args.osv_db}: not a folder (the PyPA advisory snapshot)")
    wanted = {n.strip() for n in args.only.split(",")} if args.only else None
    corpus = [c for c in CORPUS if wanted is None or c[0] in wanted]
    totals = {"built": 0, "fp": 0, "scan": 0.0, "baseline": 0.0}
    planted_count = planted_found = 0
    with tempfile.TemporaryDirectory(prefix="leitstand-gate-corpus-") as tmp:
        base = Path(tmp)
        container = build(Settings(home=base / "home"), clock=ManualClock(), migrate=True)
        runs: list[tuple[str, Path, list[tuple[str, int]] | None]] = []
        for name, version, _backend in corpus:
            root = _unpack(_download(name, version, args.cache), base / name)
            runs.append((f"{name} {version}", root, None))
            if name == PLANT_INTO:
                copy = base / f"{name}-planted"
                shutil.copytree(root, copy / root.name)
                _file, planted = _plant(copy / root.name)
                runs.append((f"{name} {version} + planted", copy / root.name, planted))
        print(f"{'project':34} {'backend':28} build blocking review  secs")
        backends = {f"{n} {v}": b for n, v, b in corpus}
        for label, root, planted in runs:
            result, seconds = _gate(container, root, args.osv_db)
            checks = {c.id: c for c in result.checks}
            built = checks["build.compile"].status is Status.PASS
            secrets = checks["security.secrets"]
            blocking = [f for f in secrets.findings if f.blocking]
            review = [f for f in secrets.findings if not f.blocking and f.rule != "allow-list"]
            totals["scan"] += secrets.duration_s
            totals["baseline"] += _baseline(root)
            if planted is None:
                totals["built"] += int(built)
                totals["fp"] += len(blocking)
            else:
                planted_count = len(planted)
                hits = {(f.file, f.line) for f in blocking}
                planted_found = sum(1 for spot in planted if spot in hits)
            backend = backends.get(label.removesuffix(" + planted"), "")
            print(
                f"{label:34} {backend:28} {'ok' if built else 'FAIL':5} {len(blocking):8} "
                f"{len(review):6} {seconds:5.1f}"
            )
            if not built:
                print(f"    {checks['build.compile'].findings[0].message.splitlines()[0]}")
            for finding in blocking[:5]:
                print(f"    blocking: {finding.message[:150]}")
        container.close()
    ratio = totals["scan"] / totals["baseline"] if totals["baseline"] else 0.0
    print(
        json.dumps(
            {
                "projects": len(corpus),
                "built": totals["built"],
                "blocking_false_positives": totals["fp"],
                "planted": planted_count,
                "planted_found": planted_found,
                "scan_s": round(totals["scan"], 3),
                "baseline_detect_secrets_s": round(totals["baseline"], 3),
                "ratio": round(ratio, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
