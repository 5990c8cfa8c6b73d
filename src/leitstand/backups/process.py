"""Running the engines' command-line tools: argument lists, timeouts, another OS user, no secrets.

Every call has a timeout and keeps stderr for the error message. Keys travel in the environment
or in owner-only files, never in arguments; any known secret value that a tool echoes is masked
before it reaches a message. A call interrupted by Ctrl-C or a timeout takes its whole process
group down, so no engine keeps running behind leitstand's back.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from leitstand.errors import ConfigError, LeitstandError

__all__ = [
    "APT_PACKAGES",
    "CommandResult",
    "EngineError",
    "MissingBinaryError",
    "Runner",
    "first_line",
]

#: Debian package that provides each tool leitstand drives.
APT_PACKAGES: Mapping[str, str] = {
    "pgbackrest": "pgbackrest",
    "restic": "restic",
    "git": "git",
    "initdb": "postgresql-15",
    "pg_ctl": "postgresql-15",
    "pg_checksums": "postgresql-15",
    "pg_basebackup": "postgresql-15",
    "postgres": "postgresql-15",
}


class EngineError(LeitstandError):
    """An engine call failed; the message names the command and the tool's own words."""


class MissingBinaryError(ConfigError):
    """A tool is not installed; the message names the Debian package."""


@dataclass(frozen=True, slots=True)
class CommandResult:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def first_line(text: str, *, limit: int = 400) -> str:
    """The first meaningful line of a tool's output, printable characters only."""
    for raw in text.splitlines():
        line = "".join(ch for ch in raw if ch.isprintable()).strip()
        if line:
            return line[:limit]
    return ""


@dataclass
class Runner:
    """Runs tools as the current user or as another OS user (e.g. ``postgres``)."""

    secrets: list[str] = field(default_factory=list)
    env_base: Mapping[str, str] | None = None

    def which(self, tool: str, *, directory: str | None = None) -> str:
        """The absolute path of ``tool``, or a MissingBinaryError naming the apt package."""
        if directory is not None:
            candidate = Path(directory) / tool
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
        found = shutil.which(tool)
        if found is None:
            package = APT_PACKAGES.get(tool, tool)
            where = f" in {directory} or" if directory else ""
            raise MissingBinaryError(
                f"{tool} is not installed (not found{where} on PATH): "
                f"install it with `apt-get install {package}`"
            )
        return found

    def mask(self, text: str) -> str:
        """Replace every known secret value in ``text``."""
        for secret in self.secrets:
            if secret:
                text = text.replace(secret, "***")
        return text

    def run(
        self,
        args: Sequence[str],
        *,
        timeout: float,
        env: Mapping[str, str] | None = None,
        user: str | None = None,
        cwd: str | Path | None = None,
        check: bool = True,
        what: str | None = None,
    ) -> CommandResult:
        """Run ``args``; raise EngineError on a non-zero exit (``check``) or a timeout."""
        full_env = self._environment(env)
        command = list(args)
        kwargs: dict[str, object] = {}
        if user is not None and user != _current_user():
            if os.geteuid() == 0:
                entry = _passwd(user)
                kwargs.update(user=entry.pw_uid, group=entry.pw_gid, extra_groups=[])
                full_env["HOME"] = entry.pw_dir
                full_env["USER"] = full_env["LOGNAME"] = user
            else:
                keep = ",".join(sorted(set(full_env) - {"PATH"}))
                command = ["sudo", "-n", f"--preserve-env={keep}", "-u", user, "--", *command]
            # The caller's working folder may be closed to that user (PostgreSQL tools chdir).
            cwd = cwd or "/"
        label = what or Path(args[0]).name
        started = time.monotonic()
        try:
            process = subprocess.Popen(  # noqa: S603 - an argument list, never a shell
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=full_env,
                cwd=cwd,
                text=True,
                errors="replace",
                start_new_session=True,
                **kwargs,  # type: ignore[call-overload]
            )
        except FileNotFoundError as exc:
            tool = Path(command[0]).name
            raise MissingBinaryError(
                f"{tool} is not installed: install it with "
                f"`apt-get install {APT_PACKAGES.get(tool, tool)}`"
            ) from exc
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _stop_group(process)
            raise EngineError(
                f"{label} did not finish within {timeout:.0f}s and was stopped"
            ) from None
        except BaseException:
            # Ctrl-C or SIGTERM: take the tool and its children down before unwinding.
            _stop_group(process)
            raise
        result = CommandResult(
            args=tuple(args),
            returncode=process.returncode,
            stdout=stdout,
            stderr=self.mask(stderr),
            seconds=time.monotonic() - started,
        )
        if check and not result.ok:
            raise EngineError(f"{label} failed (exit {result.returncode}): {self.explain(result)}")
        return result

    def explain(self, result: CommandResult) -> str:
        """The tool's own words for a failure, masked and on one line."""
        text = first_line(result.stderr) or first_line(result.stdout) or "no output"
        return self.mask(text)

    def _environment(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        base = self.env_base if self.env_base is not None else os.environ
        keep = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER", "LOGNAME")
        env = {k: base[k] for k in keep if k in base}
        env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
        env.setdefault("LANG", "C.UTF-8")
        env.update(extra or {})
        return env


def _current_user() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def _passwd(user: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(user)
    except KeyError:
        raise ConfigError(f"OS user {user!r} does not exist on this machine") from None


def _stop_group(process: subprocess.Popen[str]) -> None:
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except (ProcessLookupError, PermissionError):
            break
        try:
            process.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(subprocess.TimeoutExpired, ValueError):
        process.communicate(timeout=1)
