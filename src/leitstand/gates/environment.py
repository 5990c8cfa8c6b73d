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

from packaging.requirements import InvalidRequirement, Requirement

from leitstand.errors import ConfigError
from leitstand.gates.project import normalise
from leitstand.gates.tools import ToolFailure, run_tool, tail

__all__ = ["Distribution", "Environment", "PipOptions", "create_environment"]

_LIST_SCRIPT = """
import importlib.metadata as m, json, os, platform, sys
out = []
for d in m.distributions():
    md = d.metadata
    if md is None or not md.get("Name"):
        continue
    out.append({
        "name": md["Name"], "version": d.version,
        "license_expression": md.get("License-Expression"), "license": md.get("License"),
        "classifiers": [c for c in (md.get_all("Classifier") or []) if c.startswith("License ::")],
        "requires": md.get_all("Requires-Dist") or [],
    })
i = sys.implementation.version
impl = f"{i.major}.{i.minor}.{i.micro}"
if i.releaselevel != "final":
    impl += i.releaselevel[0] + str(i.serial)
markers = {
    "implementation_name": sys.implementation.name, "implementation_version": impl,
    "os_name": os.name, "platform_machine": platform.machine(),
    "platform_release": platform.release(), "platform_system": platform.system(),
    "platform_version": platform.version(), "python_full_version": platform.python_version(),
    "platform_python_implementation": platform.python_implementation(),
    "python_version": ".".join(platform.python_version_tuple()[:2]), "sys_platform": sys.platform,
}
json.dump({"dists": out, "markers": markers}, sys.stdout)
"""


@dataclass(frozen=True, slots=True)
class Distribution:
    """An installed distribution with its licence metadata."""

    name: str
    version: str
    license_expression: str | None = None
    license: str | None = None
    classifiers: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()  # Requires-Dist, markers included

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
    _markers: dict[str, str] = field(default_factory=dict, repr=False)

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
            listed = json.loads(done.stdout)
            for item in listed["dists"]:
                dist = Distribution(
                    name=item["name"],
                    version=item["version"],
                    license_expression=item.get("license_expression"),
                    license=item.get("license"),
                    classifiers=tuple(item.get("classifiers") or ()),
                    requires=tuple(item.get("requires") or ()),
                )
                seen.setdefault(dist.key, dist)
            self._markers = {str(k): str(v) for k, v in listed["markers"].items()}
            self._dists = sorted(seen.values(), key=lambda d: d.key)
        return list(self._dists)

    def dependencies(self, root: str, extras: Sequence[str] = ()) -> list[Distribution] | None:
        """``root`` and what it requires here, the way pip resolves it (markers, extras).

        None when ``root`` is not installed in this environment (then every distribution
        counts). Markers are evaluated for this environment's interpreter and platform.
        """
        dists = {d.key: d for d in self.distributions()}
        start = normalise(root)
        if start not in dists:
            return None
        wanted: list[tuple[str, str]] = [(start, "")] + [(start, normalise(e)) for e in extras]
        done: set[tuple[str, str]] = set()
        found: set[str] = set()
        while wanted:
            key, extra = wanted.pop()
            if (key, extra) in done or key not in dists:
                continue
            done.add((key, extra))
            found.add(key)
            for raw in dists[key].requires:
                try:
                    req = Requirement(raw)
                except InvalidRequirement:
                    continue
                if req.marker is not None and not req.marker.evaluate(
                    {**self._markers, "extra": extra}
                ):
                    continue
                if req.marker is None and extra:
                    continue  # an unconditional requirement was followed with extra ""
                name = normalise(req.name)
                wanted.append((name, ""))
                wanted.extend((name, normalise(e)) for e in req.extras)
        return [dists[k] for k in sorted(found)]

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
