"""`service` and `version` at the edges: 422 over HTTP and exit 2 on the command line, naming
the policy's services."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi.testclient import TestClient

from leitstand.auth.model import Role
from leitstand.testing.cli import cli_env, run_cli

BODY = {
    "service": "enterprise-api",
    "version": "2.4.0",
    "category": "normal",
    "what": "new endpoint",
    "why": "broker request",
    "rollback": "redeploy 2.3.9",
    "tests": "unit, e2e",
}


def test_the_api_refuses_unknown_services_and_bad_versions_with_422(
    client: TestClient, headers: dict[Role, dict[str, str]]
) -> None:
    dev = headers[Role.DEVELOPER]
    unknown = client.post("/api/v1/changes", json={**BODY, "service": "billing"}, headers=dev)
    assert unknown.status_code == 422, unknown.text
    assert "unknown service 'billing'" in unknown.text and "enterprise-api" in unknown.text
    bad = client.post("/api/v1/changes", json={**BODY, "version": "=cmd|calc"}, headers=dev)
    assert bad.status_code == 422, bad.text
    assert "PEP 440 or SemVer" in bad.text
    assert client.post("/api/v1/changes", json=BODY, headers=dev).status_code == 201


def test_the_cli_exits_2_naming_the_known_services(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "home", role=Role.DEVELOPER)
    args = ["change", "open", "--service", "billing", "--version", "two", "--category", "normal"]
    done = run_cli(
        [*args, "--what", "a", "--why", "b", "--rollback", "c", "--tests", "d"],
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr
    assert "unknown service 'billing'" in done.stderr and "smart-bav-portal" in done.stderr
    assert "version: a PEP 440 or SemVer version" in done.stderr
    assert "Traceback" not in done.stderr


def test_gate_run_refuses_a_version_that_is_neither_pep440_nor_semver(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEITSTAND_")}
    env["LEITSTAND_HOME"] = str(tmp_path / "home")
    done = run_cli(["gate", "run", str(tmp_path), "--version", "../1"], env=env, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "--version: a PEP 440 or SemVer version" in done.stderr
    assert not (tmp_path / "gate-report").exists()
