"""`leitstand.testing.run_cli`: the CLI in the test's own process gives what a child gives, and
leaves the process as it found it (environment, working directory, logging)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import structlog

from leitstand.testing.cli import cli_env, run_cli


def _child(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leitstand", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _env(home: Path) -> dict[str, str]:
    return cli_env(home, role=None, COLUMNS="200")


def test_the_same_output_and_exit_codes_as_a_child_process(tmp_path: Path) -> None:
    env = _env(tmp_path / "home")
    for args in (
        ["--version"],
        ["policy", "show"],
        ["incident", "classify", "--input", "missing.json"],  # bad input: exit 2
        ["no-such-command"],
    ):
        inside = run_cli(args, env=env, cwd=tmp_path)
        child = _child(args, env, tmp_path)
        assert (inside.returncode, inside.stdout) == (child.returncode, child.stdout), args
        assert inside.stderr.strip() == child.stderr.strip(), args
    assert run_cli(["no-such-command"], env=env, cwd=tmp_path).returncode == 2


def test_environment_directory_and_logging_are_restored(tmp_path: Path) -> None:
    before_env = dict(os.environ)
    before_cwd = Path.cwd()
    root = logging.getLogger()
    before_handlers = root.handlers[:]
    before_structlog = structlog.get_config()
    home = tmp_path / "home"
    done = run_cli(
        ["user", "add", "ops", "--role", "devops", "--json"], env=_env(home), cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert '"token"' in done.stdout
    assert dict(os.environ) == before_env
    assert Path.cwd() == before_cwd
    assert root.handlers == before_handlers
    assert structlog.get_config() == before_structlog


def test_the_environment_given_is_the_whole_environment(tmp_path: Path) -> None:
    # As subprocess.run(env=...): a variable of this process not in env is not seen.
    os.environ["LEITSTAND_HOME"] = str(tmp_path / "elsewhere")
    try:
        home = tmp_path / "home"
        done = run_cli(["user", "add", "ops", "--role", "devops"], env=_env(home), cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert home.is_dir()
        assert not (tmp_path / "elsewhere").exists()
    finally:
        del os.environ["LEITSTAND_HOME"]


def test_a_command_closes_every_container_it_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A CLI process used to end with its database and witness connections open; in a test's
    # process (run_cli) or an embedding program they stayed open. Now main() closes them.
    from leitstand import bootstrap
    from leitstand.bootstrap import Container

    home = tmp_path / "home"
    env = cli_env(home, COLUMNS="200")
    opened: list[Container] = []
    closed: list[Container] = []
    real_build, real_close = bootstrap.build, Container.close

    def spy_build(*args: Any, **kwargs: Any) -> Container:
        made = real_build(*args, **kwargs)
        opened.append(made)
        return made

    def spy_close(self: Container) -> None:
        closed.append(self)
        real_close(self)

    monkeypatch.setattr(bootstrap, "build", spy_build)
    monkeypatch.setattr(Container, "close", spy_close)
    listed = run_cli(["incident", "list", "--json"], env=env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    missing = run_cli(["incident", "show", "999"], env=env, cwd=tmp_path)
    assert missing.returncode != 0
    assert len(opened) >= 2
    assert all(any(c is d for d in closed) for c in opened)
