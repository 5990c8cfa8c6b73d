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
from leitstand.gates.project import git_root
from leitstand.gates.secretrules import HEURISTICS, location_of
from leitstand.gates.tools import ToolFailure, run_tool, tail
from leitstand.policy.gates import AllowedSecret, SecretSettings

__all__ = ["classify", "scan_tree", "secrets_check", "tree_files"]

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
        if any(part in _SKIP_DIRS or part.endswith(".egg-info") for part in Path(rel).parts[:-1]):
            continue
        if any(path.resolve().is_relative_to(s) for s in skipped):
            continue
        if _is_text(path):
            files.append(rel)
    return files


def _git_files(root: Path) -> list[str] | None:
    if git_root(root) is None:  # the project may be a subdirectory of the work tree
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
    """(file, hashed_secret) pairs a detect-secrets baseline accepts.

    Results an audit marked ``is_secret: true`` are confirmed secrets: they are not accepted.
    """
    path = root / name
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"gates.allow.secrets: baseline {name}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"gates.allow.secrets: baseline {name} is not JSON ({exc})") from None
    results = data.get("results", {}) if isinstance(data, dict) else {}
    if not isinstance(results, dict):
        raise ConfigError(f"gates.allow.secrets: baseline {name} has no results mapping")
    return {
        (Path(str(file)).as_posix(), str(item.get("hashed_secret")))
        for file, items in results.items()
        for item in items or []
        if isinstance(item, dict) and item.get("is_secret") is not True
    }


def classify(
    raw: list[dict[str, Any]], settings: SecretSettings
) -> tuple[list[Finding], list[dict[str, Any]]]:
    """Findings from the scan's items (placeholders dropped, heuristics on a line with a
    provider's key merged into it), each blocking or for review as the policy says."""
    strong = {(i["file"], i["line"]) for i in raw if i["kind"] not in HEURISTICS}
    patterns = {"tests": settings.tests, "docs": settings.docs, "generated": settings.generated}
    findings: list[Finding] = []
    placeholders: list[dict[str, Any]] = []
    for item in raw:
        if item.get("placeholder"):
            placeholders.append(item)
            continue
        if item["kind"] in HEURISTICS and (item["file"], item["line"]) in strong:
            continue
        kind, provider = item["kind"], item.get("provider")
        location = location_of(item["file"], patterns)
        blocks = settings.blocks(kind, location)
        what = f"{provider} key ({item['type']})" if provider else _KIND_WORDS[kind]
        where = _LOCATION_WORDS[location]
        reason = (
            f"{what} in {where}: blocks (gates.secrets.block)"
            if blocks
            else f"{what} in {where}: for review, not blocking (gates.secrets.block)"
        )
        findings.append(
            Finding(
                rule=item["type"],
                message=f"{item['file']}:{item['line']}: {reason}: {item['excerpt']}",
                severity=Severity.CRITICAL if blocks else Severity.MEDIUM,
                blocking=blocks,
                file=item["file"],
                line=int(item["line"]),
                data={
                    "kind": kind,
                    "provider": provider,
                    "location": location,
                    "verdict": "block" if blocks else "review",
                    "reason": reason,
                    "excerpt": item["excerpt"],
                    "fingerprint": item["fingerprint"],
                    "hashed_secret": item["hashed_secret"],
                },
            )
        )
    return findings, placeholders


_KIND_WORDS = {
    "private_key": "a private key",
    "entropy": "a high-entropy string (heuristic)",
    "keyword": "a secret-like keyword assignment (heuristic)",
    "basic_auth": "credentials in a URL (heuristic)",
    "jwt": "a JSON Web Token (heuristic)",
    "provider": "a provider's key",
}
_LOCATION_WORDS = {
    "source": "shipped source",
    "tests": "tests",
    "docs": "docs/examples/changelog",
    "generated": "generated or vendored code",
}


def secrets_check(ctx: GateContext) -> CheckResult:
    """No secret the policy blocks (a provider's key or a private key in shipped source, by
    default) beyond what the allow-list accepts; the other findings are listed for review."""
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
    findings, placeholders = classify(raw, settings)
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
            entry.hashed_secret is None
            or entry.hashed_secret in (hashed, finding.data.get("fingerprint"))
        )

    outcome = apply_allowances(
        findings,
        ctx.gates.allow.secrets,
        matches=matches,
        today=ctx.today,
        describe=lambda e: e.baseline or e.path or "?",
        review_too=True,
    )
    blocking = sum(1 for f in outcome.open if f.blocking)
    review = sum(1 for f in outcome.open if not f.blocking and f.rule != "allow-list")
    maximum = ctx.pipeline.security.max_secret_findings
    return CheckResult.judge(
        "security.secrets",
        outcome.open,
        summary=f"{len(files)} files ({size / 1e6:.1f} MB) scanned: {blocking} blocking, "
        f"{review} for review, {len(outcome.allowed)} allowed, "
        f"{len(placeholders)} placeholder(s) ignored",
        measured=blocking,
        threshold=maximum,
        max_blocking=maximum,
        allowed=outcome.allowed,
        tools=(Tool("detect-secrets", importlib.metadata.version("detect-secrets")),),
    )
