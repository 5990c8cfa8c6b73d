"""Find out what project a path holds: pyproject or requirements, name, version, packages."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leitstand.errors import Issue, ValidationError

__all__ = ["Project", "load_project", "normalise"]

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
    if pyproject.is_file():
        data = _read_pyproject(pyproject)
        return _from_pyproject(root, data, requirements)
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
            [Issue("project", "a [project] table with name and version (PEP 621)", source=source)],
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
    return Project(
        root=root,
        name=name,
        version=version,
        pyproject=True,
        requirements=requirements,
        extras=extras,
        packages=_packages(root, name),
    )


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
    git = root / ".git"
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
