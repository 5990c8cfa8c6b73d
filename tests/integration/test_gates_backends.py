"""Any PEP 517 project builds with its declared backend: Poetry, flit, setup.py only, and a
project in a subdirectory of a repository. Name and version come from the built metadata.

The build runs in the gate's build isolation (``python -m build``), which installs the declared
backend (poetry-core, flit_core, setuptools) from the package index.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from leitstand.auth.model import Actor
from leitstand.bootstrap import Container, build
from leitstand.errors import ValidationError
from leitstand.gates.model import RunResult, Stage, Status
from leitstand.gates.project import LEGACY_BACKEND, load_project, normalise
from leitstand.gates.service import GateRequest
from leitstand.settings import Settings
from leitstand.testing import ManualClock
from support.gates_lab import PYPA_SNAPSHOT, flit_project, poetry_project, setuppy_project

pytestmark = pytest.mark.slow

DEV = Actor(name="dana", role="developer")


@pytest.fixture(scope="module")
def gates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    c = build(
        Settings(home=tmp_path_factory.mktemp("backends") / "home"),
        clock=ManualClock(),
        migrate=True,
    )
    try:
        yield c
    finally:
        c.close()


def _run(container: Container, path: Path, stages: tuple[Stage, ...]) -> RunResult:
    request = GateRequest(
        path=path, stages=stages, out=path.parent / f"{path.name}-report", osv_db=PYPA_SNAPSHOT
    )
    result, _, _ = container.gates.run(request, actor=DEV)
    return result


@pytest.mark.parametrize(
    ("make", "backend", "name", "version"),
    [
        (poetry_project, "poetry.core.masonry.api", "poetry-demo", "2.3.4"),
        (flit_project, "flit_core.buildapi", "flit-demo", "0.7.1"),
        (setuppy_project, LEGACY_BACKEND, "legacy-demo", "1.5"),
    ],
)
def test_a_project_builds_with_its_declared_backend_and_reports_the_built_metadata(
    gates: Container, tmp_path: Path, make: object, backend: str, name: str, version: str
) -> None:
    root = make(tmp_path / name)  # type: ignore[operator]
    assert load_project(root).backend == backend
    result = _run(gates, root, (Stage.BUILD,))
    compile_check = next(c for c in result.checks if c.id == "build.compile")
    assert compile_check.status is Status.PASS, compile_check.findings
    assert normalise(result.project) == name and result.version == version
    assert backend in compile_check.summary and f"{version} from the built metadata" in (
        compile_check.summary
    )
    assert {c.id: c.status for c in result.checks}["build.dependencies"] is Status.PASS


def test_a_project_in_a_subdirectory_of_a_repository_is_gated_there(
    gates: Container, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True, timeout=60)
    (repo / ".gitignore").write_text("*-report/\n")
    (repo / "README.md").write_text("# monorepo\n")
    project = setuppy_project(repo / "packages" / "legacy")
    (project / "ignored.log").write_text("not scanned\n")
    (repo / ".gitignore").write_text("*-report/\n*.log\n")
    result = _run(gates, project, (Stage.BUILD, Stage.SECURITY))
    statuses = {c.id: c.status for c in result.checks}
    assert statuses["build.compile"] is Status.PASS
    assert statuses["security.secrets"] is Status.PASS
    assert (result.project, result.version) == ("legacy-demo", "1.5")
    secrets = next(c for c in result.checks if c.id == "security.secrets")
    # git's view from the subdirectory: setup.py and the package, not the ignored log
    assert secrets.summary.startswith("2 files")
    deps = next(c for c in result.checks if c.id == "security.dependencies")
    assert deps.status is Status.PASS and deps.summary.startswith("1 distributions")


def test_a_pyproject_that_declares_no_way_to_build_is_refused_with_the_reason(
    tmp_path: Path,
) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.ruff]\nline-length = 100\n")
    with pytest.raises(ValidationError) as caught:
        load_project(tmp_path)
    text = str(caught.value) + " ".join(str(i) for i in caught.value.issues)
    assert "[build-system]" in text and "setup.py" in text
