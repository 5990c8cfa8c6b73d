"""The log engines: rsyslog and logrotate (Debian's ``rsyslog`` and ``logrotate`` packages)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from leitstand.errors import ConfigError

__all__ = ["CheckFailed", "LogEngines", "find_log_engines"]

_TIMEOUT = 60


class CheckFailed(ConfigError):
    """An engine refused a generated configuration; the message carries the engine's output."""


def _find(name: str) -> str | None:
    found = shutil.which(name)
    if found is None and Path(f"/usr/sbin/{name}").is_file():
        found = f"/usr/sbin/{name}"
    return found


@dataclass(frozen=True, slots=True)
class LogEngines:
    """Paths of ``rsyslogd`` and ``logrotate`` (None when not installed)."""

    rsyslogd: str | None
    logrotate: str | None

    def _tool(self, tool: str | None, name: str) -> str:
        if tool is None:
            raise ConfigError(
                f"{name} is not installed: apt-get install rsyslog logrotate (Debian/Ubuntu)"
            )
        return tool

    def _run(self, args: list[str], what: str) -> str:
        try:
            done = subprocess.run(  # noqa: S603 - fixed engine binaries, arguments from leitstand
                args, capture_output=True, text=True, timeout=_TIMEOUT, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise CheckFailed(f"{what}: no answer within {_TIMEOUT}s") from exc
        output = (done.stdout + done.stderr).strip()
        # rsyslogd -N1 and logrotate -d report errors on stderr; both exit non-zero on them,
        # logrotate also prints "error:" for problems it only skips.
        if done.returncode != 0 or any(line.startswith("error:") for line in output.splitlines()):
            raise CheckFailed(f"{what} refused the configuration:\n{output}")
        return output

    def check_rsyslog(self, config: Path) -> str:
        """``rsyslogd -N1 -f CONFIG``: the configuration parses and every module loads."""
        tool = self._tool(self.rsyslogd, "rsyslogd")
        return self._run([tool, "-N1", "-f", str(config)], "rsyslogd -N1")

    def check_logrotate(self, config: Path, state: Path) -> str:
        """``logrotate -d -s STATE CONFIG``: a dry run that rotates nothing."""
        tool = self._tool(self.logrotate, "logrotate")
        return self._run([tool, "-d", "-s", str(state), str(config)], "logrotate -d")

    def rotate(self, config: Path, state: Path, *, force: bool = False) -> str:
        """Run logrotate on ``config`` (``-f``: rotate now, whatever the schedule says)."""
        tool = self._tool(self.logrotate, "logrotate")
        args = [tool, "-s", str(state), *(["-f"] if force else []), str(config)]
        return self._run(args, "logrotate")


def find_log_engines() -> LogEngines:
    return LogEngines(rsyslogd=_find("rsyslogd"), logrotate=_find("logrotate"))
