"""Secret detection with detect-secrets over the project tree, with baseline and allow-list.

The scan runs in a child process (``python -m leitstand.gates.secretscan``) that uses
detect-secrets' library API with one worker per core: forking a worker pool from a process
whose other threads run the stage's other checks is unsafe, a fresh process is not.
"""

from __future__ import annotations

import fnmatch
import hashlib
import importlib.metadata
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from leitstand.errors import ConfigError
from leitstand.gates.allow import apply_allowances
from leitstand.gates.context import GateContext
from leitstand.gates.model import CheckResult, Finding, Severity, Tool
from leitstand.gates.tools import ToolFailure, run_tool, tail
from leitstand.policy.gates import AllowedSecret

__all__ = ["scan_tree", "secrets_check", "tree_files"]

_SKIP_DIRS = {
    ".git",
    ".hg",
    ".svn",
    ".venv",
    "venv",
    "node_modules",
    "__pycache__",
    ".tox",
    ".nox",
    "build",
    "dist",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".leitstand",
    ".hypothesis",
}
_MAX_BYTES = 5 * 1024 * 1024


def tree_files(root: Path, *, exclude: list[str], skip: list[Path]) -> list[str]:
    """Text files of the tree, relative to ``root`` (git's view when it is a repository)."""
    candidates = _git_files(root)
    if candidates is None:
        candidates = list(_walk(root))
    skipped = [p.resolve() for p in skip]
    files: list[str] = []
    for rel in sorted(set(candidates)):
        if any(fnmatch.fnmatch(rel, pattern) for pattern in exclude):
            continue
        path = root / rel
        if any(part in _SKIP_DIRS for part in Path(rel).parts[:-1]):
            continue
        if any(path.resolve().is_relative_to(s) for s in skipped):
            continue
        if _is_text(path):
            files.append(rel)
    return files


def _git_files(root: Path) -> list[str] | None:
    if not (root / ".git").exists():
        return None
    try:
        done = run_tool(
            [
                "git",
                "-C",
                str(root),
                "ls-files",
                "-z",
                "--cached",
                "--others",
                "--exclude-standard",
            ],
            timeout=120,
        )
    except ToolFailure:
        return None
    if done.returncode != 0:
        return None
    return [name for name in done.stdout.split("\0") if name]


def _walk(root: Path) -> Iterator[str]:
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in _SKIP_DIRS and not d.endswith(".egg-info")]
        for name in names:
            yield (Path(folder) / name).relative_to(root).as_posix()


def _is_text(path: Path) -> bool:
    try:
        if not path.is_file() or path.is_symlink() or path.stat().st_size > _MAX_BYTES:
            return False
        with path.open("rb") as fh:
            return b"\0" not in fh.read(8192)
    except OSError:
        return False


def scan_tree(root: Path, files: list[str], *, timeout: float) -> list[dict[str, Any]]:
    """Scan ``files`` (relative to ``root``) with detect-secrets in a child process."""
    done = run_tool(
        [sys.executable, "-m", "leitstand.gates.secretscan", str(root)],
        input_text="\n".join(files),
        timeout=timeout,
    )
    if done.returncode != 0:
        raise ToolFailure(f"detect-secrets failed:\n{tail(done.stderr)}")
    result: list[dict[str, Any]] = json.loads(done.stdout)
    return result


def _baseline(root: Path, name: str) -> set[tuple[str, str]]:
    path = root / name
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"gates.allow.secrets: baseline {name}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"gates.allow.secrets: baseline {name} is not JSON ({exc})") from None
    results = data.get("results", {}) if isinstance(data, dict) else {}
    return {
        (str(file), str(item.get("hashed_secret")))
        for file, items in results.items()
        for item in items
    }


def secrets_check(ctx: GateContext) -> CheckResult:
    """No secret in the tree beyond what the policy allows (baseline or reviewed entries)."""
    root = ctx.project.root
    settings = ctx.gates.secrets
    files = tree_files(root, exclude=list(settings.exclude), skip=[ctx.out])
    size = sum((root / f).stat().st_size for f in files)
    raw = scan_tree(root, files, timeout=ctx.build_timeout)
    # An allow-list entry names a secret by its hash, and that hash looks like a secret too:
    # a finding whose value is such a listed hash is the reference itself, not a secret.
    references = {
        hashlib.sha1(e.hashed_secret.encode(), usedforsecurity=False).hexdigest()
        for e in ctx.gates.allow.secrets
        if e.hashed_secret
    }
    raw = [item for item in raw if item["hashed_secret"] not in references]
    findings = [
        Finding(
            rule=item["type"],
            message=f"{item['file']}:{item['line']}: {item['type']}",
            severity=Severity.CRITICAL,
            file=item["file"],
            line=int(item["line"]),
            data={"hashed_secret": item["hashed_secret"]},
        )
        for item in raw
    ]
    baselines = {
        entry.baseline: _baseline(root, entry.baseline)
        for entry in ctx.gates.allow.secrets
        if entry.baseline is not None
    }

    def matches(finding: Finding, entry: AllowedSecret) -> bool:
        hashed = str(finding.data.get("hashed_secret"))
        if entry.baseline is not None:
            return (str(finding.file), hashed) in baselines[entry.baseline]
        return fnmatch.fnmatch(str(finding.file), str(entry.path)) and (
            entry.hashed_secret is None or entry.hashed_secret == hashed
        )

    outcome = apply_allowances(
        findings,
        ctx.gates.allow.secrets,
        matches=matches,
        today=ctx.today,
        describe=lambda e: e.baseline or e.path or "?",
    )
    blocking = sum(1 for f in outcome.open if f.blocking)
    maximum = ctx.pipeline.security.max_secret_findings
    return CheckResult.judge(
        "security.secrets",
        outcome.open,
        summary=f"{len(files)} files ({size / 1e6:.1f} MB) scanned: {blocking} secret(s), "
        f"{len(outcome.allowed)} allowed",
        measured=blocking,
        threshold=maximum,
        max_blocking=maximum,
        allowed=outcome.allowed,
        tools=(Tool("detect-secrets", importlib.metadata.version("detect-secrets")),),
    )
