"""Start a detached process and print its PID (run as ``python -m leitstand.releases.launcher``).

An instance must outlive the leitstand process that started it (a restart of leitstand must not
take the served version down), and leitstand must not be its parent (no zombies, no
"still running" warnings). This launcher starts the command in its own session and exits at
once, so the instance is re-parented to init.

Usage: ``launcher LOGFILE CWD -- COMMAND...`` (CWD may be ``-`` for the current folder).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

__all__ = ["main"]


def main(argv: list[str]) -> int:
    if len(argv) < 4 or argv[2] != "--":
        sys.stderr.write("usage: launcher LOGFILE CWD -- COMMAND...\n")
        return 2
    log_path, cwd, command = argv[0], argv[1], argv[3:]
    with Path(log_path).open("ab", buffering=0) as log:
        try:
            child = subprocess.Popen(  # noqa: S603 - the command comes from the policy
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=None if cwd == "-" else cwd,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            sys.stderr.write(f"cannot start {command[0]}: {exc.strerror or exc}\n")
            return 3
    sys.stdout.write(f"{child.pid}\n")
    sys.stdout.flush()
    # No wait and no finaliser: the child belongs to init from here on.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
