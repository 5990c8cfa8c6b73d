"""Files and uploads (and the secrets export) through restic: one repository per site.

The password reaches restic only through ``RESTIC_PASSWORD`` in its environment. leitstand
reads ``--json`` output and exit codes (0 ok, 1 failure or wrong password in 0.14, 3 some
source files unreadable, 10-12 on restic >= 0.17).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from leitstand.backups.engines.base import RestorePoint, Retention
from leitstand.backups.fsutil import ensure_dir
from leitstand.backups.model import Check, Site, SiteResult, Snapshot, plan_snapshot_retention
from leitstand.backups.process import CommandResult, EngineError, Runner
from leitstand.backups.targets import KeyName, KeyStore, SystemTargets
from leitstand.policy.continuity import BackupMethod

__all__ = ["ResticEngine", "parse_snapshots"]

_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$")
_EXIT = {
    3: "some source files could not be read",
    10: "the repository does not exist",
    11: "the repository is locked by another process",
    12: "wrong password",
    130: "interrupted",
}


def parse_snapshots(text: str) -> list[Snapshot]:
    """Snapshots from ``restic snapshots --json``, oldest first."""
    try:
        data = json.loads(text or "[]")
    except json.JSONDecodeError as exc:
        raise EngineError(f"restic snapshots: unreadable JSON ({exc.msg})") from None
    snapshots = [
        Snapshot(
            id=item["id"],
            time=datetime.fromisoformat(_trim_nanos(item["time"])),
            tags=tuple(item.get("tags") or ()),
        )
        for item in data or []
    ]
    return sorted(snapshots, key=lambda s: s.time)


def _trim_nanos(text: str) -> str:
    # restic writes nanoseconds and sometimes a local offset; Python takes microseconds.
    match = _TIME.match(text.strip())
    if match is None:
        raise EngineError(f"restic: unreadable snapshot time {text!r}")
    head, fraction, offset = match.group(1), match.group(2) or "", match.group(3)
    offset = "+00:00" if offset in ("Z", "") else offset
    return f"{head}.{fraction[:6].ljust(6, '0')}{offset}"


@dataclass
class ResticEngine:
    """One folder set of one system in a restic repository on each site."""

    system: str
    purpose: Literal["files", "secrets"]
    paths: Sequence[Path]
    targets: SystemTargets
    keys: KeyStore
    runner: Runner
    read_percent: float = 5.0
    timeout: float = 6 * 3600.0
    engine: str = "restic"
    tags: tuple[str, ...] = field(default=())

    @property
    def sites(self) -> tuple[str, ...]:
        return (Site.PRIMARY.value, Site.SECONDARY.value)

    @property
    def key_name(self) -> KeyName:
        return "secrets" if self.purpose == "secrets" else "restic"

    def repository(self, site: Site | str) -> Path:
        return self.targets.restic_repo(Site(site), self.purpose)

    def _tags(self) -> list[str]:
        return ["leitstand", f"system:{self.system}", f"data:{self.purpose}", *self.tags]

    def call(
        self, site: Site | str, *args: str, timeout: float | None = None, check: bool = True
    ) -> CommandResult:
        binary = self.runner.which("restic")
        password = self.keys.get(self.key_name)
        if password not in self.runner.secrets:
            self.runner.secrets.append(password)
        cache = ensure_dir(self.targets.restic_cache)
        result = self.runner.run(
            [binary, "--repo", str(self.repository(site)), "--quiet", *args],
            timeout=timeout or self.timeout,
            env={"RESTIC_PASSWORD": password, "RESTIC_CACHE_DIR": str(cache)},
            check=False,
            what=f"restic {args[0]}",
        )
        if check and not result.ok:
            raise EngineError(self._message(args[0], site, result))
        return result

    def _message(self, command: str, site: Site | str, result: CommandResult) -> str:
        text = self.runner.explain(result)
        if "wrong password" in text or result.returncode == 12:
            return (
                f"restic {command} ({site}): wrong password for the repository "
                f"(key from {self.keys.where(self.key_name)}); nothing was written"
            )
        meaning = _EXIT.get(result.returncode)
        prefix = f"{meaning}: " if meaning else ""
        return f"restic {command} ({site}) failed (exit {result.returncode}): {prefix}{text}"

    def prepare(self) -> list[str]:
        self.keys.get(self.key_name, create=True)
        done = []
        for site in Site:
            repo = self.repository(site)
            if (repo / "config").exists():
                self.call(site, "cat", "config", timeout=120)
                done.append(f"restic repository {repo} opens with the key")
                continue
            ensure_dir(repo.parent)
            self.call(site, "init", timeout=300)
            done.append(f"created restic repository {repo}")
        return done

    def backup(self, method: BackupMethod) -> list[SiteResult]:
        missing = [str(p) for p in self.paths if not p.exists()]
        results: list[SiteResult] = []
        for site in Site:
            if missing:
                error = f"source folder(s) missing: {', '.join(missing)}"
                results.append(SiteResult(site=site.value, ok=False, error=error))
                continue
            try:
                self.call(site, "unlock", timeout=120)
                args = ["backup", "--json", "--host", "leitstand"]
                for tag in self._tags():
                    args += ["--tag", tag]
                result = self.call(site, *args, *[str(p) for p in self.paths])
                summary = _summary(result.stdout)
                results.append(
                    SiteResult(
                        site=site.value,
                        ok=True,
                        engine_id=str(summary.get("snapshot_id", "")),
                        size_bytes=int(summary.get("total_bytes_processed", 0)),
                        stored_bytes=int(summary.get("data_added", 0)),
                    )
                )
            except EngineError as exc:
                results.append(SiteResult(site=site.value, ok=False, error=exc.message))
        return results

    def verify(self, site: str) -> Check:
        name = f"restic check ({site})"
        subset = f"--read-data-subset={self.read_percent:g}%"
        try:
            result = self.call(site, "check", subset, check=False)
        except EngineError as exc:
            return Check(name, False, exc.message)
        if result.ok:
            return Check(name, True, f"structure and {self.read_percent:g}% of the data read back")
        detail = self._message("check", site, result)
        return Check(name, False, f"repository contains errors: {detail}"[:1000])

    def snapshots(self, site: Site | str) -> list[Snapshot]:
        result = self.call(site, "snapshots", "--json", "--tag", f"system:{self.system}")
        return parse_snapshots(result.stdout)

    def points(self, site: str) -> list[RestorePoint]:
        return [
            RestorePoint(site=site, id=s.id, time=s.time, kind="snapshot")
            for s in self.snapshots(site)
        ]

    def expire(self, site: str, retention: Retention, *, now: datetime) -> list[str]:
        plan = plan_snapshot_retention(self.snapshots(site), now=now, retention=retention.full)
        if plan.expire:
            self.call(site, "forget", "--prune", *plan.expire)
        return list(plan.expire)

    def restore(self, *, site: Site, snapshot: str, target: Path, verify: bool = True) -> None:
        """Restore a snapshot into ``target`` (original absolute paths below it)."""
        args = ["restore", snapshot, "--target", str(target)]
        if verify:
            args.append("--verify")
        self.call(site, *args)


def _summary(stdout: str) -> dict[str, Any]:
    for line in reversed(stdout.splitlines()):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict) and data.get("message_type") == "summary":
            return data
    raise EngineError("restic backup: no summary in the JSON output")
