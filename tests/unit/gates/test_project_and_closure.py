"""Which project a path holds (any PEP 517 backend) and which dependencies pip resolved."""

from __future__ import annotations

from pathlib import Path

import pytest

from leitstand.errors import ValidationError
from leitstand.gates.environment import Distribution, Environment, PipOptions
from leitstand.gates.project import LEGACY_BACKEND, load_project, read_wheel_metadata
from support.gates_lab import flit_project, poetry_project, setuppy_project, write_wheel


def test_a_poetry_project_without_a_project_table_is_a_project(tmp_path: Path) -> None:
    project = load_project(poetry_project(tmp_path / "p", name="rich-like", version="13.9.2"))
    assert (project.name, project.version) == ("rich-like", "13.9.2")
    assert project.backend == "poetry.core.masonry.api" and project.buildable


def test_a_flit_project_with_a_dynamic_version_waits_for_the_build(tmp_path: Path) -> None:
    project = load_project(flit_project(tmp_path / "f"))
    assert (project.name, project.version, project.backend) == (
        "flit-demo",
        None,
        "flit_core.buildapi",
    )


def test_a_setup_py_only_project_builds_with_the_legacy_fallback(tmp_path: Path) -> None:
    project = load_project(setuppy_project(tmp_path / "s"))
    assert (project.name, project.version, project.backend) == ("legacy-demo", None, LEGACY_BACKEND)
    assert not project.pyproject and project.buildable


def test_setup_cfg_metadata_names_a_setuptools_project(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
    )
    (tmp_path / "setup.cfg").write_text(
        "[metadata]\nname = cfg-demo\nversion = attr: cfg_demo.__version__\n"
        "[options.extras_require]\nsocks = PySocks\n"
    )
    project = load_project(tmp_path)
    assert (project.name, project.version, project.extras) == ("cfg-demo", None, ("socks",))
    assert project.backend == "setuptools.build_meta"


def test_a_requirements_only_project_has_nothing_to_build(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.ruff]\nline-length = 100\n")
    (tmp_path / "requirements.txt").write_text("httpx\n")
    project = load_project(tmp_path)
    assert not project.buildable and project.requirements


def test_a_pyproject_without_any_way_to_build_is_refused_precisely(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.ruff]\nline-length = 100\n")
    with pytest.raises(ValidationError, match="not a buildable Python project") as caught:
        load_project(tmp_path)
    assert "nothing says how to build it" in str(caught.value)


def test_name_version_and_extras_come_from_the_built_metadata(tmp_path: Path) -> None:
    wheel = write_wheel(
        tmp_path,
        "Flit_Demo",
        "0.7.1",
        metadata=["Provides-Extra: Socks", "Provides-Extra: http2"],
    )
    meta = read_wheel_metadata(wheel)
    assert (meta.name, meta.version, meta.extras) == ("Flit_Demo", "0.7.1", ("http2", "socks"))


def _env(dists: list[Distribution], **markers: str) -> Environment:
    env = Environment(python=Path("/nonexistent/python"), pip_options=PipOptions(), timeout=1)
    env._dists = dists
    env._markers = {"python_version": "3.11", "sys_platform": "linux", **markers}
    return env


def test_the_dependency_closure_follows_markers_and_extras_like_pip() -> None:
    env = _env(
        [
            Distribution("app", "1.0", requires=(
                "httpx[http2]>=0.27",
                "uvloop; sys_platform != 'win32'",
                "colorama; sys_platform == 'win32'",
                "tomli; python_version < '3.11'",
                "pytest; extra == 'test'",
            )),
            Distribution("httpx", "0.27.2", requires=("h2>=3; extra == 'http2'", "idna")),
            Distribution("h2", "4.1.0"),
            Distribution("idna", "3.10"),
            Distribution("uvloop", "0.21.0"),
            Distribution("colorama", "0.4.6"),
            Distribution("tomli", "2.0.2"),
            Distribution("pytest", "8.3.3"),
            Distribution("pip", "23.2.1"),
        ]
    )  # fmt: skip
    closure = env.dependencies("App")
    assert closure is not None
    assert [d.key for d in closure] == ["app", "h2", "httpx", "idna", "uvloop"]
    with_test = env.dependencies("app", extras=["test"])
    assert with_test is not None and "pytest" in {d.key for d in with_test}
    assert env.dependencies("not-installed") is None
