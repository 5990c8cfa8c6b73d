"""Test support for the quality gates: wheels and projects built locally, with no network.

* ``write_wheel`` writes a real wheel (METADATA with any licence fields, a module).
* ``repack_installed`` turns an installed distribution back into a wheel (files from its RECORD),
  so tools such as pytest and coverage can be installed offline from a local folder.
* ``write_project`` lays out a project whose ``pyproject.toml`` uses a tiny in-tree PEP 517
  backend (``backend-path``) with no build requirements, so building it needs no index.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata as md
import os
import shutil
import sys
import textwrap
import zipfile
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

if TYPE_CHECKING:
    from leitstand.gates.context import GateContext
    from leitstand.policy.model import Policy

__all__ = [
    "BACKEND",
    "PYPA_SNAPSHOT",
    "V3_CRITICAL",
    "V4_CRITICAL",
    "clean_project",
    "flit_project",
    "gate_context",
    "osv_folder",
    "poetry_project",
    "repack_closure",
    "repack_installed",
    "setuppy_project",
    "variant",
    "wheelhouse",
    "write_osv",
    "write_project",
    "write_wheel",
]


#: The offline PyPA advisory database snapshot in the shared folder beside the clone.
PYPA_SNAPSHOT = Path(
    os.environ.get("LEITSTAND_PYPA_SNAPSHOT")
    or Path(__file__).resolve().parents[2].parent / "shared/data/pypa-advisory-database/vulns"
)


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def write_wheel(
    folder: Path,
    name: str,
    version: str,
    *,
    metadata: Iterable[str] = (),
    requires: Iterable[str] = (),
    files: Mapping[str, str] | None = None,
) -> Path:
    """Write ``name-version-py3-none-any.whl`` into ``folder``; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    meta = "\n".join(
        [
            "Metadata-Version: 2.4",
            f"Name: {name}",
            f"Version: {version}",
            *metadata,
            *(f"Requires-Dist: {r}" for r in requires),
            "",
        ]
    )
    contents: dict[str, bytes] = {
        path: text.encode() for path, text in (files or {f"{dist}/__init__.py": ""}).items()
    }
    contents[f"{info}/METADATA"] = meta.encode()
    contents[f"{info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: leitstand\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    return _zip_wheel(folder / f"{dist}-{version}-py3-none-any.whl", info, contents)


def _zip_wheel(target: Path, info: str, contents: dict[str, bytes]) -> Path:
    record = [_record_line(path, data) for path, data in contents.items()]
    record.append(f"{info}/RECORD,,")
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in contents.items():
            zf.writestr(path, data)
        zf.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return target


def repack_installed(name: str, folder: Path) -> Path:
    """Write a wheel of the installed distribution ``name`` (its files as listed in RECORD)."""
    dist = md.distribution(name)
    files = dist.files or []
    base = Path(str(dist.locate_file("")))
    info_dir = next(str(f).split("/")[0] for f in files if str(f).endswith(".dist-info/METADATA"))
    wheel_meta = (base / info_dir / "WHEEL").read_text(encoding="utf-8")
    tags = [
        line.split(":", 1)[1].strip() for line in wheel_meta.splitlines() if line.startswith("Tag:")
    ]
    contents: dict[str, bytes] = {}
    for item in files:
        rel = str(item)
        if rel.startswith("..") or "__pycache__" in rel or rel.endswith((".pyc", "/RECORD")):
            continue
        if rel.endswith(("/INSTALLER", "/REQUESTED", "/direct_url.json")):
            continue
        path = base / rel
        if path.is_file():
            contents[rel] = path.read_bytes()
    stem = info_dir.removesuffix(".dist-info")
    tag = tags[0] if tags else "py3-none-any"
    folder.mkdir(parents=True, exist_ok=True)
    return _zip_wheel(folder / f"{stem}-{tag}.whl", info_dir, contents)


def repack_closure(names: Iterable[str], folder: Path) -> list[Path]:
    """Repack ``names`` and every installed distribution they require (markers evaluated here)."""
    from packaging.requirements import Requirement

    seen: set[str] = set()
    todo = [n.lower() for n in names]
    wheels: list[Path] = []
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        wheels.append(repack_installed(name, folder))
        for raw in md.requires(name) or []:
            req = Requirement(raw)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name.lower())
    return wheels


BACKEND = textwrap.dedent(
    '''
    """A minimal in-tree PEP 517 backend (no build requirements): wheels and sdists."""
    import base64, hashlib, io, os, tarfile, tomllib, zipfile

    def _meta():
        with open("pyproject.toml", "rb") as fh:
            project = tomllib.load(fh)["project"]
        lines = ["Metadata-Version: 2.4", f"Name: {project['name']}"]
        lines.append(f"Version: {project['version']}")
        if "license" in project and isinstance(project["license"], str):
            lines.append(f"License-Expression: {project['license']}")
        for req in project.get("dependencies", []):
            lines.append(f"Requires-Dist: {req}")
        for extra, reqs in project.get("optional-dependencies", {}).items():
            lines.append(f"Provides-Extra: {extra}")
            for req in reqs:
                lines.append(f'Requires-Dist: {req}; extra == "{extra}"')
        return project, "\\n".join(lines) + "\\n"

    def _files():
        for top in ("src",):
            for folder, dirs, names in os.walk(top):
                dirs[:] = [d for d in dirs if d != "__pycache__"]
                for name in names:
                    if name.endswith(".py"):
                        path = os.path.join(folder, name)
                        yield path, os.path.relpath(path, top)

    def _rec(name, data):
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        return f"{name},sha256={digest},{len(data)}"

    def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
        project, meta = _meta()
        dist = project["name"].replace("-", "_")
        info = f"{dist}-{project['version']}.dist-info"
        contents = {arc: open(path, "rb").read() for path, arc in _files()}
        contents[f"{info}/METADATA"] = meta.encode()
        contents[f"{info}/WHEEL"] = (
            b"Wheel-Version: 1.0\\nGenerator: fixture\\nRoot-Is-Purelib: true\\n"
            b"Tag: py3-none-any\\n"
        )
        record = [_rec(k, v) for k, v in contents.items()] + [f"{info}/RECORD,,"]
        name = f"{dist}-{project['version']}-py3-none-any.whl"
        with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as zf:
            for key, value in contents.items():
                zf.writestr(key, value)
            zf.writestr(f"{info}/RECORD", "\\n".join(record) + "\\n")
        return name

    def build_sdist(sdist_directory, config_settings=None):
        project, meta = _meta()
        base = f"{project['name'].replace('-', '_')}-{project['version']}"
        name = f"{base}.tar.gz"
        with tarfile.open(os.path.join(sdist_directory, name), "w:gz") as tf:
            for folder, dirs, names in os.walk("."):
                skip = ("__pycache__", "dist")
                dirs[:] = [d for d in dirs if not d.startswith(".") and d not in skip]
                for item in names:
                    path = os.path.join(folder, item)
                    tf.add(path, arcname=os.path.join(base, os.path.relpath(path, ".")))
            data = meta.encode()
            info = tarfile.TarInfo(f"{base}/PKG-INFO")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        return name
    '''
).lstrip()


def write_project(
    root: Path,
    *,
    name: str = "demo-app",
    version: str = "1.0.0",
    dependencies: Iterable[str] = (),
    test_requires: Iterable[str] = ("pytest", "coverage"),
    files: Mapping[str, str] | None = None,
) -> Path:
    """Write a buildable project (in-tree backend) with ``files`` relative to ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    deps = ", ".join(f'"{d}"' for d in dependencies)
    tests = ", ".join(f'"{d}"' for d in test_requires)
    (root / "_fixture_backend.py").write_text(BACKEND, encoding="utf-8")
    (root / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""\
            [build-system]
            requires = []
            build-backend = "_fixture_backend"
            backend-path = ["."]

            [project]
            name = "{name}"
            version = "{version}"
            license = "MIT"
            dependencies = [{deps}]

            [project.optional-dependencies]
            test = [{tests}]
            """
        ),
        encoding="utf-8",
    )
    for rel, text in (files or {}).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def write_osv(folder: Path, records: Iterable[Mapping[str, object]]) -> Path:
    """Write OSV records as ``<id>.json`` files (the layout of an OSV export folder)."""
    import json

    folder.mkdir(parents=True, exist_ok=True)
    for record in records:
        (folder / f"{record['id']}.json").write_text(json.dumps(record), encoding="utf-8")
    return folder


# -- fixture projects for the gate tests --------------------------------------------------

V3_CRITICAL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"  # 9.8
V4_CRITICAL = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"  # 9.3

CALC = """\
def used():
    return 1


def unused():
    a = 1
    b = 2
    return a + b
"""
RUNBOOK = "## Betriebshandbuch – demo-app\n\n" + "\n".join(
    f"### {n}. {t}\n\ntext\n"
    for n, t in enumerate(
        [
            "Systemübersicht",
            "Kontakte und Eskalation",
            "Deployment",
            "Monitoring",
            "Backup & Recovery",
            "Incident Response",
            "Wartung",
            "Troubleshooting",
        ],
        start=1,
    )
)
DOCKERFILE = """\
FROM python:3.12-alpine
WORKDIR /app
COPY . /app
USER app
HEALTHCHECK CMD ["python", "-c", "print(1)"]
CMD ["python", "-m", "demo_app"]
"""
PAGE = (
    '<!doctype html><html lang="en"><head><title>Demo</title></head><body><main>'
    '<h1>Demo</h1><img src="logo.png" alt="Demo logo"></main></body></html>\n'
)


def wheelhouse(folder: Path) -> Path:
    """Test tools (pytest, coverage) and the fixture dependencies as local wheels."""
    repack_closure(["pytest", "coverage"], folder)
    write_wheel(folder, "goodlib", "1.0", metadata=["License-Expression: MIT"])
    for version in ("3.0.0", "3.0.1"):  # a real name: the PyPA snapshot has PYSEC-2023-221
        write_wheel(folder, "werkzeug", version, metadata=["License-Expression: BSD-3-Clause"])
    write_wheel(folder, "vulnlib", "1.0", metadata=["License-Expression: MIT"])
    write_wheel(folder, "v4lib", "2.0", metadata=["License-Expression: Apache-2.0"])
    write_wheel(folder, "agpllib", "1.0", metadata=["License-Expression: AGPL-3.0-or-later"])
    write_wheel(
        folder,
        "gpllib",
        "1.0",
        metadata=["Classifier: License :: OSI Approved :: GNU General Public License v3 (GPLv3)"],
    )
    return folder


def osv_folder(folder: Path) -> Path:
    def record(vid: str, name: str, fixed: str, kind: str, vector: str) -> dict[str, object]:
        return {
            "id": vid,
            "aliases": [f"CVE-2026-{vid[-4:]}"],
            "summary": f"remote code execution in {name}",
            "severity": [{"type": kind, "score": vector}],
            "affected": [
                {
                    "package": {"ecosystem": "PyPI", "name": name},
                    "ranges": [
                        {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}
                    ],
                }
            ],
        }

    return write_osv(
        folder,
        [
            record("GHSA-test-0001", "vulnlib", "1.1", "CVSS_V3", V3_CRITICAL),
            record("GHSA-test-0002", "v4lib", "2.1", "CVSS_V4", V4_CRITICAL),
            record("GHSA-test-0003", "goodlib", "0.5", "CVSS_V3", V3_CRITICAL),
        ],
    )


def clean_project(
    root: Path, *, osv: Path, dependencies: tuple[str, ...] = ("goodlib==1.0",)
) -> Path:
    """A project that passes every gate."""
    write_project(
        root,
        dependencies=dependencies,
        files={
            "src/demo_app/__init__.py": "",
            "src/demo_app/calc.py": CALC,
            "tests/test_unit.py": "from demo_app.calc import unused\n\n\ndef test_unused():\n"
            "    assert unused() == 3\n",
            "tests/test_integration.py": "import pytest\n\nfrom demo_app.calc import used\n\n\n"
            "@pytest.mark.integration\ndef test_used():\n    assert used() == 1\n",
            "tests/test_tenants.py": "import pytest\n\n\n@pytest.mark.tenant_isolation\n"
            "def test_tenant_a_never_sees_b():\n    assert {'a'} & {'b'} == set()\n",
            "CHANGELOG.md": "# Changelog\n\n## [1.0.0] - 2026-11-20\n\n- first release\n",
            "docs/betriebshandbuch.md": RUNBOOK,
            "Dockerfile": DOCKERFILE,
            "web/index.html": PAGE,
        },
    )
    with (root / "pyproject.toml").open("a", encoding="utf-8") as fh:
        fh.write(
            '\n[tool.pytest.ini_options]\nmarkers = ["integration: x", "tenant_isolation: y"]\n'
        )
    policy = {
        "gates": {
            "service": "demo-app",
            "osv": {"path": str(osv)},
            "accessibility": {
                "urls": ["/index.html"],
                "serve": {
                    "command": [
                        sys.executable,
                        "-m",
                        "http.server",
                        "{port}",
                        "--bind",
                        "127.0.0.1",
                        "--directory",
                        "web",
                    ],
                },
            },
        }
    }
    (root / "leitstand.yaml").write_text(yaml.safe_dump(policy), encoding="utf-8")
    _image_layout(root / "image", root.parent / f"{root.name}-image-rootfs")
    return root


def _image_layout(out: Path, rootfs: Path) -> None:
    """The project's OCI image (what the image scan checks): goodlib 1.0 (past its advisory's
    fix), a non-root user, a health check, no secret."""
    from leitstand.images.config import Healthcheck, ImageConfig
    from leitstand.images.oci import created_from_epoch, write_layout

    info = rootfs / "usr/lib/python3/dist-packages/goodlib-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: goodlib\nVersion: 1.0\n", encoding="utf-8"
    )
    (rootfs / "app").mkdir()
    (rootfs / "app/VERSION").write_text("demo-app 1.0.0\n", encoding="utf-8")
    write_layout(
        out,
        rootfs_tar=rootfs,
        config=ImageConfig(
            name="demo-app", user="10001", healthcheck=Healthcheck(("CMD", "/app/health"))
        ),
        tag="1.0.0",
        created=created_from_epoch(1_764_547_200),
    )


def variant(clean: Path, target: Path) -> Path:
    """A copy of the clean project to break one thing in."""
    shutil.copytree(clean, target, ignore=shutil.ignore_patterns("gate-report", "__pycache__"))
    return target


# -- projects of other build backends (built with the gate's build isolation) ---------------


def poetry_project(root: Path, *, name: str = "poetry-demo", version: str = "2.3.4") -> Path:
    """A Poetry project: no [project] table, name and version in [tool.poetry]."""
    package = name.replace("-", "_")
    _write_files(
        root,
        {
            "pyproject.toml": f"""\
                [build-system]
                requires = ["poetry-core>=1.0.0"]
                build-backend = "poetry.core.masonry.api"

                [tool.poetry]
                name = "{name}"
                version = "{version}"
                description = "A Poetry fixture"
                authors = ["Demo <demo@example.invalid>"]
                license = "MIT"
                packages = [{{include = "{package}"}}]

                [tool.poetry.dependencies]
                python = ">=3.8"
                """,
            f"{package}/__init__.py": '"""Poetry fixture."""\n',
        },
    )
    return root


def flit_project(root: Path, *, name: str = "flit-demo", version: str = "0.7.1") -> Path:
    """A flit project whose version lives in the module (dynamic, known after the build)."""
    package = name.replace("-", "_")
    _write_files(
        root,
        {
            "pyproject.toml": f"""\
                [build-system]
                requires = ["flit_core>=3.4,<4"]
                build-backend = "flit_core.buildapi"

                [project]
                name = "{name}"
                license = {{text = "MIT"}}
                dynamic = ["version", "description"]
                """,
            f"{package}/__init__.py": f'"""Flit fixture."""\n\n__version__ = "{version}"\n',
        },
    )
    return root


def setuppy_project(root: Path, *, name: str = "legacy-demo") -> Path:
    """A project with only a setup.py; its version is computed when it runs (1.5)."""
    package = name.replace("-", "_")
    _write_files(
        root,
        {
            "setup.py": f"""\
                from setuptools import setup

                setup(
                    name="{name}",
                    version=".".join(["1", "5"]),
                    license="MIT",
                    packages=["{package}"],
                )
                """,
            f"{package}/__init__.py": '"""setup.py fixture."""\n',
        },
    )
    return root


def _write_files(root: Path, files: Mapping[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


def gate_context(project: Path, policy: Policy, *, out: Path | None = None) -> GateContext:
    """A gate run's context for ``project`` on 2026-12-07 10:00 UTC, reports in ``out``
    (default ``project/gate-report``): for tests that call one check directly."""
    from leitstand.gates.context import GateContext
    from leitstand.gates.environment import PipOptions
    from leitstand.gates.project import load_project

    return GateContext(
        project=load_project(project),
        policy=policy,
        out=out or project / "gate-report",
        today=date(2026, 12, 7),
        now=datetime(2026, 12, 7, 10, tzinfo=UTC),
        pip_options=PipOptions(),
    )
