"""`leitstand logs render`: rsyslog's and logrotate's configuration, checked by the engines first.

Both files are generated into a temporary folder, checked there with ``rsyslogd -N1`` and
``logrotate -d`` (a dry run with a throwaway state file), and only then written into the target,
each with an atomic rename. A refused configuration leaves the target untouched: the engine's
output is the error (:class:`~leitstand.logs.engines.CheckFailed`, exit code 2).
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from leitstand.logs.engines import LogEngines
from leitstand.logs.model import LogTypeSpec, Paths, logrotate_config, rsyslog_config

__all__ = ["LOGROTATE_FILE", "RSYSLOG_FILE", "RenderReport", "build_files", "render"]

RSYSLOG_FILE = "rsyslog.conf"
LOGROTATE_FILE = "logrotate.conf"


@dataclass(slots=True)
class RenderReport:
    """What was written and which checks passed."""

    out: Path
    files: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)


def build_files(types: list[LogTypeSpec], paths: Paths) -> dict[str, str]:
    """Both configurations (file name -> text)."""
    return {
        RSYSLOG_FILE: rsyslog_config(types, paths),
        LOGROTATE_FILE: logrotate_config(types, paths),
    }


def check(types: list[LogTypeSpec], paths: Paths, folder: Path, engines: LogEngines) -> list[str]:
    """Check the generated files in ``folder``; raises CheckFailed with the engine's output."""
    rsyslog = folder / RSYSLOG_FILE
    if not paths.work_directory.is_dir():
        # rsyslogd -N1 refuses a work directory that is not there yet (rsyslog's own start
        # creates nothing): check the same configuration with the staging folder as work folder.
        rsyslog = folder / f".check-{RSYSLOG_FILE}"
        rsyslog.write_text(rsyslog_config(types, replace(paths, work_directory=folder)))
    engines.check_rsyslog(rsyslog)
    engines.check_logrotate(folder / LOGROTATE_FILE, folder / ".logrotate.state")
    return [f"rsyslogd -N1: {RSYSLOG_FILE}", f"logrotate -d: {LOGROTATE_FILE}"]


def render(
    types: list[LogTypeSpec], paths: Paths, *, out: Path, engines: LogEngines
) -> RenderReport:
    """Generate, check with the engines, then write into ``out``; nothing is written on failure."""
    files = build_files(types, paths)
    staging = Path(tempfile.mkdtemp(prefix="leitstand-logs-render-"))
    try:
        for name, text in files.items():
            (staging / name).write_text(text, encoding="utf-8")
        checks = check(types, paths, staging, engines)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        partial = out / f".{name}.tmp"
        partial.write_text(text, encoding="utf-8")
        # logrotate ignores a configuration others may write to.
        partial.chmod(0o644)
        partial.replace(out / name)
    return RenderReport(out=out, files=sorted(files), checks=checks)
