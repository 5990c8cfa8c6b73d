"""Configuration kept in git: the backup is the repository itself, checked on every change.

A "backup" records the commit that holds the configuration after checking that nothing is left
uncommitted and that the history is intact (``git fsck --full --strict``). Retention is
unlimited (the seed), so nothing is ever removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from leitstand.backups.engines.base import RestorePoint, Retention
from leitstand.backups.model import Check, SiteResult
from leitstand.backups.process import CommandResult, EngineError, Runner
from leitstand.policy.continuity import BackupMethod

__all__ = ["GitConfigEngine"]

SITE = "git"


@dataclass
class GitConfigEngine:
    """The configuration repository of one system."""

    system: str
    repository: Path
    runner: Runner
    timeout: float = 600.0
    engine: str = "git"

    @property
    def sites(self) -> tuple[str, ...]:
        return (SITE,)

    def git(self, *args: str, check: bool = True, cwd: Path | None = None) -> CommandResult:
        binary = self.runner.which("git")
        # safe.directory: the repository may belong to another user than leitstand's.
        return self.runner.run(
            [
                binary,
                "-c",
                f"safe.directory={cwd or self.repository}",
                "-C",
                str(cwd or self.repository),
                *args,
            ],
            timeout=self.timeout,
            env={"GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1"},
            check=check,
            what=f"git {args[0]}",
        )

    def _exists(self) -> None:
        if not (self.repository / ".git").exists() and not (self.repository / "HEAD").exists():
            raise EngineError(f"{self.repository} is not a git repository")

    def prepare(self) -> list[str]:
        self._exists()
        head = self.git("rev-parse", "HEAD").stdout.strip()
        return [f"configuration repository {self.repository} at {head[:12]}"]

    def head(self) -> tuple[str, datetime]:
        out = self.git("log", "-1", "--format=%H %ct").stdout.split()
        return out[0], datetime.fromtimestamp(int(out[1]), UTC)

    def uncommitted(self) -> list[str]:
        status = self.git("status", "--porcelain", "--untracked-files=normal").stdout
        return [line[3:] for line in status.splitlines() if line.strip()]

    def backup(self, method: BackupMethod) -> list[SiteResult]:
        try:
            self._exists()
            dirty = self.uncommitted()
            if dirty:
                shown = ", ".join(dirty[:5]) + (" ..." if len(dirty) > 5 else "")
                raise EngineError(f"uncommitted changes in {self.repository}: {shown}")
            commit, _ = self.head()
            size = _size(self.repository)
        except EngineError as exc:
            return [SiteResult(site=SITE, ok=False, error=exc.message)]
        return [SiteResult(site=SITE, ok=True, engine_id=commit, size_bytes=size, stored_bytes=0)]

    def verify(self, site: str = SITE) -> Check:
        result = self.git("fsck", "--full", "--strict", "--no-progress", check=False)
        if result.ok:
            return Check("git fsck", True, "history intact")
        return Check("git fsck", False, f"history damaged: {self.runner.explain(result)}")

    def points(self, site: str = SITE) -> list[RestorePoint]:
        commit, when = self.head()
        return [RestorePoint(site=SITE, id=commit, time=when, kind="commit")]

    def expire(self, site: str, retention: Retention, *, now: datetime) -> list[str]:
        return []  # unlimited retention: a git history is never cut

    def clone(self, target: Path) -> str:
        """Clone into ``target`` (a drill's scratch folder) and return the checked-out commit."""
        binary = self.runner.which("git")
        self.runner.run(
            [binary, "clone", "--quiet", "--no-hardlinks", str(self.repository), str(target)],
            timeout=self.timeout,
            env={"GIT_TERMINAL_PROMPT": "0"},
            what="git clone",
        )
        return self.git("rev-parse", "HEAD", cwd=target).stdout.strip()


def _size(path: Path) -> int:
    git_dir = path / ".git" if (path / ".git").is_dir() else path
    return sum(f.stat().st_size for f in git_dir.rglob("*") if f.is_file())
