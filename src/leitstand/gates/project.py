"""Find out what project a path holds: pyproject or requirements, name, version, packages."""

from __future__ import annotations

import configparser
import email.parser
import os
import re
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leitstand.errors import Issue, ValidationError

__all__ = [
    "LEGACY_BACKEND",
    "Project",
    "WheelMetadata",
    "commit_of",
    "git_root",
    "load_project",
    "normalise",
    "read_wheel_metadata",
]

_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
_SKIP_DIRS = {"tests", "test", "docs", "build", "dist", "bench", "scripts", "examples"}


def normalise(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True, slots=True)
class Project:
    """A Python project on disk."""

    root: Path
    name: str
    version: str | None  # None: dynamic, known after the build
    pyproject: bool
    requirements: tuple[Path, ...]
    extras: tuple[str, ...]
    packages: tuple[Path, ...]  # import packages in the tree (coverage source)
    # The PEP 517 backend that builds it (None: a requirements-only project, nothing to build).
    backend: str | None = None

    @property
    def buildable(self) -> bool:
        return self.backend is not None

    @property
    def import_root(self) -> Path:
        """The folder tests import the packages from (``src`` layout or the root)."""
        return self.packages[0].parent if self.packages else self.root


def load_project(path: Path) -> Project:
    """Read the project at ``path``; raise ValidationError when there is none or it is broken."""
    root = path.expanduser().resolve()
    if not root.exists():
        raise ValidationError([Issue("PATH", f"a project folder (got {path}: does not exist)")])
    if not root.is_dir():
        raise ValidationError([Issue("PATH", f"a project folder (got {path}: not a folder)")])
    pyproject = root / "pyproject.toml"
    requirements = tuple(sorted(root.glob("requirements*.txt")))
    legacy = (root / "setup.py").is_file() or (root / "setup.cfg").is_file()
    if pyproject.is_file():
        data = _read_pyproject(pyproject)
        if isinstance(data.get("project"), dict):
            return _from_pyproject(root, data, requirements)
        backend = _backend(data, legacy)
        if backend is not None:
            return _from_backend(root, data, requirements, backend)
        if not requirements:
            raise ValidationError(
                [
                    Issue(
                        "build-system",
                        "a [build-system] table with build-backend (PEP 517), a [project] table "
                        "(PEP 621) or a setup.py (got none of them: nothing says how to build it)",
                        source=str(pyproject),
                    )
                ],
                summary=f"{pyproject}: not a buildable Python project",
            )
    elif legacy:
        return _from_backend(root, {}, requirements, LEGACY_BACKEND)
    if requirements:
        name = root.name
        return Project(
            root=root,
            name=name,
            version=None,
            pyproject=False,
            requirements=requirements,
            extras=(),
            packages=_packages(root, name),
        )
    raise ValidationError(
        [
            Issue(
                "PATH",
                f"a Python project (got {path}: no pyproject.toml and no requirements.txt)",
            )
        ]
    )


def _read_pyproject(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ValidationError(
            [Issue("", f"UTF-8 text (got a byte that is not UTF-8 at offset {exc.start})")],
            summary=f"{path}: broken pyproject.toml",
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError(
            [Issue("", f"valid TOML ({exc})", source=str(path))],
            summary=f"{path}: broken pyproject.toml",
        ) from None


def _from_pyproject(root: Path, data: dict[str, Any], requirements: tuple[Path, ...]) -> Project:
    source = str(root / "pyproject.toml")
    table = data.get("project")
    if not isinstance(table, dict):
        raise ValidationError(
            [Issue("project", "a [project] table (PEP 621)", source=source)],
            summary=f"{source}: not a buildable Python project",
        )
    name = table.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValidationError(
            [Issue("project.name", f"a distribution name (got {name!r})", source=source)],
            summary=f"{source}: broken pyproject.toml",
        )
    version = table.get("version")
    dynamic = table.get("dynamic", [])
    if version is None and not (isinstance(dynamic, list) and "version" in dynamic):
        raise ValidationError(
            [
                Issue(
                    "project.version",
                    "a version, or 'version' listed in project.dynamic (got neither)",
                    source=source,
                )
            ],
            summary=f"{source}: broken pyproject.toml",
        )
    if version is not None and not isinstance(version, str):
        raise ValidationError(
            [Issue("project.version", f"a string (got {version!r})", source=source)],
            summary=f"{source}: broken pyproject.toml",
        )
    extras_table = table.get("optional-dependencies", {})
    extras = tuple(sorted(extras_table)) if isinstance(extras_table, dict) else ()
    legacy = (root / "setup.py").is_file() or (root / "setup.cfg").is_file()
    return Project(
        root=root,
        name=name,
        version=version,
        pyproject=True,
        requirements=requirements,
        extras=extras,
        packages=_packages(root, name),
        backend=_backend(data, legacy) or LEGACY_BACKEND,
    )


LEGACY_BACKEND = "setuptools.build_meta:__legacy__"  # PEP 517's fallback for setup.py projects


def _backend(data: dict[str, Any], legacy: bool) -> str | None:
    system = data.get("build-system")
    if isinstance(system, dict) and isinstance(system.get("build-backend"), str):
        return str(system["build-backend"])
    if legacy or isinstance(system, dict):
        return LEGACY_BACKEND
    return None


def _from_backend(
    root: Path, data: dict[str, Any], requirements: tuple[Path, ...], backend: str
) -> Project:
    """A project without a [project] table (Poetry, setup.py, setup.cfg): name and version are
    read from the built metadata; until then the tool's own table or setup.cfg gives a guess."""
    name, version, extras = _guess(root, data)
    return Project(
        root=root,
        name=name,
        version=version,
        pyproject=bool(data),
        requirements=requirements,
        extras=extras,
        packages=_packages(root, name),
        backend=backend,
    )


def _guess(root: Path, data: dict[str, Any]) -> tuple[str, str | None, tuple[str, ...]]:
    tool = data.get("tool", {}) if isinstance(data.get("tool"), dict) else {}
    poetry = tool.get("poetry")
    if isinstance(poetry, dict) and isinstance(poetry.get("name"), str):
        version = poetry.get("version")
        extras = poetry.get("extras", {})
        return (
            str(poetry["name"]),
            version if isinstance(version, str) and version not in ("0", "0.0.0") else None,
            tuple(sorted(extras)) if isinstance(extras, dict) else (),
        )
    setup_cfg = root / "setup.cfg"
    if setup_cfg.is_file():
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(setup_cfg, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError):
            parser.clear()
        name = parser.get("metadata", "name", fallback="").strip()
        version = parser.get("metadata", "version", fallback="").strip()
        extras = (
            parser.options("options.extras_require")
            if parser.has_section("options.extras_require")
            else []
        )
        if name and _NAME.match(name):
            static = version if version and not version.startswith(("attr:", "file:")) else None
            return name, static, tuple(sorted(extras))
    setup_py = root / "setup.py"
    if setup_py.is_file():
        try:
            text = setup_py.read_text(encoding="utf-8", errors="replace")
        except OSError:
            text = ""
        match = re.search(r"""\bname\s*=\s*["']([A-Za-z0-9._-]+)["']""", text)
        if match:
            return match.group(1), None, ()
    return root.name, None, ()


def _packages(root: Path, name: str) -> tuple[Path, ...]:
    for base in (root / "src", root):
        if not base.is_dir():
            continue
        found = [
            child
            for child in sorted(base.iterdir())
            if child.is_dir()
            and (child / "__init__.py").is_file()
            and child.name not in _SKIP_DIRS
            and not child.name.startswith((".", "_"))
        ]
        if found:
            wanted = normalise(name).replace("-", "_")
            preferred = [p for p in found if p.name == wanted]
            return tuple(preferred or found)
    return ()


def commit_of(root: Path) -> str | None:
    """The commit being checked: CI variables first, then ``.git/HEAD`` read directly."""
    for var in ("CI_COMMIT_SHA", "GITHUB_SHA"):
        value = os.environ.get(var, "").strip()
        if value:
            return value
    top = git_root(root)
    if top is None:
        return None
    git = top / ".git"
    if git.is_file():  # a worktree or submodule: "gitdir: <path>"
        text = git.read_text(encoding="utf-8", errors="replace").strip()
        if text.startswith("gitdir:"):
            git = (top / text.split(":", 1)[1].strip()).resolve()
    head = git / "HEAD"
    try:
        text = head.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if not text.startswith("ref: "):
        return text or None
    ref = text[5:].strip()
    try:
        return (git / ref).read_text(encoding="utf-8").strip() or None
    except OSError:
        pass
    try:
        for line in (git / "packed-refs").read_text(encoding="utf-8").splitlines():
            sha, _, name = line.partition(" ")
            if name.strip() == ref:
                return sha
    except OSError:
        return None
    return None


def git_root(path: Path) -> Path | None:
    """The work tree holding ``path`` (itself or a parent with ``.git``), or None."""
    for folder in (path, *path.parents):
        if (folder / ".git").exists():
            return folder
    return None


@dataclass(frozen=True, slots=True)
class WheelMetadata:
    """What a built distribution says about itself (core metadata)."""

    name: str
    version: str | None
    extras: tuple[str, ...] = ()


def read_wheel_metadata(wheel: Path) -> WheelMetadata:
    """Name, version and extras from ``*.dist-info/METADATA`` of ``wheel``."""
    parts = wheel.name.split("-")
    try:
        with zipfile.ZipFile(wheel) as zf:
            member = next(
                n for n in zf.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")
            )
            text = zf.read(member).decode("utf-8", errors="replace")
    except (OSError, zipfile.BadZipFile, StopIteration):
        return WheelMetadata(parts[0], parts[1] if len(parts) > 1 else None)
    message = email.parser.HeaderParser().parsestr(text)
    return WheelMetadata(
        name=str(message.get("Name", "")).strip() or parts[0],
        version=str(message.get("Version", "")).strip() or None,
        extras=tuple(sorted({normalise(e) for e in message.get_all("Provides-Extra") or []})),
    )
