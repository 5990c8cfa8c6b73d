"""The project's isolated virtual environment: create, install, list what is installed.

leitstand's own pip drives the target environment (``pip --python``), so the environment
needs no pip of its own and is created in well under a second.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from leitstand.errors import ConfigError
from leitstand.gates.project import normalise
from leitstand.gates.tools import ToolFailure, run_tool, tail

__all__ = ["Distribution", "Environment", "PipOptions", "create_environment"]

_LIST_SCRIPT = """
import importlib.metadata as m, json, sys
out = []
for d in m.distributions():
    md = d.metadata
    if md is None or not md.get("Name"):
        continue
    out.append({
        "name": md["Name"], "version": d.version,
        "license_expression": md.get("License-Expression"), "license": md.get("License"),
        "classifiers": [c for c in (md.get_all("Classifier") or []) if c.startswith("License ::")],
    })
json.dump(out, sys.stdout)
"""


@dataclass(frozen=True, slots=True)
class Distribution:
    """An installed distribution with its licence metadata."""

    name: str
    version: str
    license_expression: str | None = None
    license: str | None = None
    classifiers: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return normalise(self.name)


@dataclass(frozen=True, slots=True)
class PipOptions:
    """Index options passed through to pip and to the isolated build (offline use)."""

    find_links: tuple[str, ...] = ()
    index_url: str | None = None
    no_index: bool = False

    def args(self) -> list[str]:
        out: list[str] = []
        for link in self.find_links:
            out += ["--find-links", link]
        if self.index_url:
            out += ["--index-url", self.index_url]
        if self.no_index:
            out.append("--no-index")
        return out

    def env(self) -> dict[str, str]:
        """The same options as pip environment variables (for ``python -m build``)."""
        out: dict[str, str] = {}
        if self.find_links:
            out["PIP_FIND_LINKS"] = " ".join(self.find_links)
        if self.index_url:
            out["PIP_INDEX_URL"] = self.index_url
        if self.no_index:
            out["PIP_NO_INDEX"] = "1"
        return out


@dataclass
class Environment:
    """A Python environment the project is installed into."""

    python: Path
    pip_options: PipOptions
    timeout: float
    given: bool = False  # passed with --python: used as it is, never changed
    _dists: list[Distribution] | None = field(default=None, repr=False)

    def pip(self, *args: str, timeout: float | None = None) -> str:
        """Run pip on this environment; raise ToolFailure with pip's last lines on failure."""
        command = [*_pip_command(), "--python", str(self.python), *args]
        done = run_tool(command, timeout=timeout or self.timeout, env=_quiet_env())
        if done.returncode != 0:
            raise ToolFailure(f"pip {args[0]} failed:\n{tail(done.stdout + done.stderr)}")
        self._dists = None
        return done.stdout

    def install(self, requirements: Sequence[str]) -> None:
        self.pip("install", "--disable-pip-version-check", *self.pip_options.args(), *requirements)

    def check(self) -> tuple[bool, str]:
        """``pip check``: (True, message) when no installed requirement conflicts."""
        command = [*_pip_command(), "--python", str(self.python), "check"]
        done = run_tool(command, timeout=self.timeout, env=_quiet_env())
        return done.returncode == 0, (done.stdout + done.stderr).strip()

    def distributions(self) -> list[Distribution]:
        """Every installed distribution (first on sys.path wins), read inside the environment."""
        if self._dists is None:
            done = run_tool(
                [str(self.python), "-c", _LIST_SCRIPT], timeout=self.timeout, env=_quiet_env()
            )
            if done.returncode != 0:
                raise ToolFailure(f"cannot list the environment:\n{tail(done.stderr)}")
            seen: dict[str, Distribution] = {}
            for item in json.loads(done.stdout):
                dist = Distribution(
                    name=item["name"],
                    version=item["version"],
                    license_expression=item.get("license_expression"),
                    license=item.get("license"),
                    classifiers=tuple(item.get("classifiers") or ()),
                )
                seen.setdefault(dist.key, dist)
            self._dists = sorted(seen.values(), key=lambda d: d.key)
        return list(self._dists)

    def has_module(self, module: str) -> bool:
        done = run_tool(
            [
                str(self.python),
                "-c",
                "import importlib.util, sys; "
                f"sys.exit(importlib.util.find_spec({module!r}) is None)",
            ],
            timeout=60,
            env=_quiet_env(),
        )
        return done.returncode == 0


def _pip_command() -> list[str]:
    if importlib.util.find_spec("pip") is None:
        raise ConfigError("pip is not available to leitstand: install it (python -m ensurepip)")
    return [sys.executable, "-m", "pip"]


def _quiet_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def create_environment(folder: Path, *, pip_options: PipOptions, timeout: float) -> Environment:
    """Create a fresh virtual environment (without pip; leitstand's pip installs into it)."""
    if folder.exists():
        shutil.rmtree(folder)
    done = run_tool([sys.executable, "-m", "venv", "--without-pip", str(folder)], timeout=timeout)
    if done.returncode != 0:
        raise ToolFailure(f"cannot create a virtual environment:\n{tail(done.stderr)}")
    return Environment(python=folder / "bin" / "python", pip_options=pip_options, timeout=timeout)
