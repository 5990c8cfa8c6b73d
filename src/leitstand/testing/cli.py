"""Named users and an in-process runner for tests of the command line.

Every state-changing CLI command acts as the user of ``--token``/``LEITSTAND_TOKEN`` (the local
operator only for the policy's ``auth.local_admin_actions``), so a CLI test first creates a user
in the store the command will open and passes the token in the environment.

:func:`run_cli` runs ``leitstand ARGS`` in the test's own process, as ``python -m leitstand``
would in a child (the same ``main``, environment, working directory, captured output and exit
code), without a new interpreter: under coverage a child costs about a second before its first
line. Tests of the process itself (signals, start-up time, a server) still start a child.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from leitstand.auth.model import SYSTEM_ACTOR, Role
from leitstand.bootstrap import build
from leitstand.policy.model import Policy
from leitstand.settings import Settings

__all__ = ["cli_env", "cli_token", "run_cli"]

_TOKENS: dict[tuple[str, str | None, str], str] = {}


def cli_token(
    home: Path,
    *,
    role: Role | str = Role.DEVOPS,
    name: str | None = None,
    database_url: str | None = None,
) -> str:
    """A token of a user with ``role`` in the store under ``home`` (created once per store).

    The user is named after the role (``devops-user``) unless ``name`` is given.
    """
    role = Role(role)
    user = name or f"{role.value.replace('_', '-')}-user"
    key = (str(home.resolve()), database_url, user)
    if key in _TOKENS:
        return _TOKENS[key]
    home.mkdir(parents=True, exist_ok=True)
    settings = Settings(home=home, database_url=database_url)
    container = build(settings, policy=Policy())
    try:
        _, token = container.auth.add_user(name=user, role=role, actor=SYSTEM_ACTOR)
    finally:
        container.close()
    _TOKENS[key] = token
    return token


def cli_env(home: Path, *, role: Role | str | None = Role.DEVOPS, **extra: str) -> dict[str, str]:
    """The environment for ``python -m leitstand ...`` on ``home``: no inherited ``LEITSTAND_*``
    variables, ``LEITSTAND_HOME``, and (unless ``role`` is None) a token of a user with ``role``.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEITSTAND_")}
    env["LEITSTAND_HOME"] = str(home)
    env.update(extra)
    if role is not None:
        env["LEITSTAND_TOKEN"] = cli_token(
            home, role=role, database_url=extra.get("LEITSTAND_DATABASE_URL")
        )
    return env


@contextlib.contextmanager
def _process_state(env: Mapping[str, str] | None, cwd: Path | str | None) -> Iterator[None]:
    # What a child process would get fresh and this process must get back afterwards: the
    # environment, the working directory, tempfile's folder (read from TMPDIR once per process),
    # the logging set-up the CLI installs, and Rich's consoles (they read COLUMNS when made).
    import structlog

    from leitstand import cli_support

    saved_env = dict(os.environ)
    saved_cwd = Path.cwd()
    saved_tempdir = tempfile.tempdir
    saved_structlog = structlog.get_config()
    root = logging.getLogger()
    saved_root = (root.handlers[:], root.level)
    touched = ("uvicorn", "uvicorn.error", "uvicorn.access")
    saved_loggers = {
        name: (
            logging.getLogger(name).handlers[:],
            logging.getLogger(name).propagate,
            logging.getLogger(name).disabled,
        )
        for name in touched
    }
    # Commands bind the consoles at import (``from leitstand.cli_support import console``), so
    # the objects stay and only their width follows this call's COLUMNS.
    consoles = [vars(cli_support)[n] for n in ("console", "err_console") if n in vars(cli_support)]
    saved_widths = [made._width for made in consoles]
    if env is not None:
        os.environ.clear()
        os.environ.update(env)
    tempfile.tempdir = None  # the next tempfile call reads TMPDIR of this environment
    columns = os.environ.get("COLUMNS", "")
    for made in consoles:
        made._width = int(columns) if columns.isdigit() else None
    try:
        if cwd is not None:
            os.chdir(cwd)
        yield
    finally:
        os.chdir(saved_cwd)
        tempfile.tempdir = saved_tempdir
        os.environ.clear()
        os.environ.update(saved_env)
        for made, width in zip(consoles, saved_widths, strict=True):
            made._width = width
        structlog.configure(**saved_structlog)
        root.handlers[:], level = saved_root
        root.setLevel(level)
        for name, (handlers, propagate, disabled) in saved_loggers.items():
            logger = logging.getLogger(name)
            logger.handlers[:] = handlers
            logger.propagate = propagate
            logger.disabled = disabled


def run_cli(
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | str | None = None,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``leitstand ARGS`` in this process and return what a child process would have.

    ``env`` replaces the environment for the call (as ``subprocess.run(env=...)`` does), ``cwd``
    is the working directory and ``input`` the text on stdin. An exception that escapes the
    CLI's own handling ends as exit code 1 with its traceback on stderr, as in a child.
    """
    from leitstand.cli import main

    argv = [str(arg) for arg in args]
    out, err = io.StringIO(), io.StringIO()
    code: int
    saved_stdin = sys.stdin
    with _process_state(env, cwd):
        sys.stdin = io.StringIO(input or "")
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    main(argv)
                    code = 0
                except SystemExit as done:
                    if done.code is None:
                        code = 0
                    elif isinstance(done.code, int):
                        code = int(done.code)  # an IntEnum (ExitCode) becomes its number
                    else:
                        print(done.code, file=sys.stderr)
                        code = 1
                except Exception:
                    traceback.print_exc()
                    code = 1
        finally:
            sys.stdin = saved_stdin
    return subprocess.CompletedProcess(["leitstand", *argv], code, out.getvalue(), err.getvalue())
