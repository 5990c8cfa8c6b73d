"""Fixture projects built locally: a clean one passes every gate; each broken one fails exactly
its gate with the precise finding. Real tools throughout (build, pip, pytest, coverage,
cyclonedx-py, detect-secrets, hadolint, axe-core in Debian's chromium)."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
import yaml

from leitstand.auth.model import Actor
from leitstand.bootstrap import Container, build
from leitstand.gates.environment import PipOptions
from leitstand.gates.model import STAGES, RunResult, Stage, Status
from leitstand.gates.service import GateRequest, GateService
from leitstand.policy.model import Policy
from leitstand.settings import Settings
from leitstand.testing import ManualClock
from support.gates_lab import (
    PYPA_SNAPSHOT,
    RUNBOOK,
    clean_project,
    osv_folder,
    variant,
    wheelhouse,
    write_project,
)

pytestmark = pytest.mark.slow

DEV = Actor(name="dana", role="developer")
OFFICER = Actor(name="clara", role="compliance_officer")
OPS = Actor(name="olga", role="devops")


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("gates")
    wheels = wheelhouse(base / "wheels")
    osv = osv_folder(base / "osv")
    clean = clean_project(base / "clean", osv=osv)
    return {"base": base, "wheels": wheels, "osv": osv, "clean": clean}


@pytest.fixture(scope="module")
def gate_container(shared: dict[str, Path]) -> Iterator[Container]:
    # Change records name a service of the policy: the fixture project is one.
    policy = Policy()
    demo = policy.services["internal-tools"].model_copy(update={"name": "Demo-App"})
    policy = policy.model_copy(update={"services": {**policy.services, "demo-app": demo}})
    c = build(
        Settings(home=shared["base"] / "home"), clock=ManualClock(), migrate=True, policy=policy
    )
    try:
        yield c
    finally:
        c.close()


def _run(
    container: Container,
    shared: dict[str, Path],
    path: Path,
    stages: tuple[Stage, ...],
    *,
    python: Path | None = None,
    keep_going: bool = True,
) -> RunResult:
    request = GateRequest(
        path=path,
        stages=stages,
        out=path / "gate-report",
        keep_going=keep_going,
        python=python,
        pip=PipOptions(find_links=(str(shared["wheels"]),), no_index=True),
    )
    result, _, _ = container.gates.run(request, actor=DEV)
    return result


def _failed(result: RunResult) -> dict[str, list[str]]:
    return {
        c.id: [f.rule for f in c.findings if f.blocking]
        for c in result.checks
        if c.status is Status.FAIL
    }


@pytest.fixture(scope="module")
def clean_run(shared: dict[str, Path], gate_container: Container) -> RunResult:
    change = gate_container.changes.open(
        service="demo-app",
        version="1.0.0",
        category="normal",
        fields={
            "what": "first release",
            "why": "launch",
            "rollback": "redeploy 0.9",
            "tests": "all",
        },
        actor=DEV,
    )
    gate_container.changes.decide(change_id=change.id, actor=OFFICER, approve=True)
    return _run(gate_container, shared, shared["clean"], STAGES, keep_going=False)


@pytest.fixture(scope="module")
def clean_python(clean_run: RunResult, shared: dict[str, Path]) -> Path:
    return shared["clean"] / "gate-report" / "venv" / "bin" / "python"


def test_clean_project_passes_every_gate_and_writes_every_report(
    clean_run: RunResult, shared: dict[str, Path], gate_container: Container
) -> None:
    assert _failed(clean_run) == {}
    assert clean_run.status is Status.PASS
    assert [s.stage for s in clean_run.stages] == list(STAGES)
    statuses = {c.id: c.status for c in clean_run.checks}
    assert all(s is Status.PASS for s in statuses.values()), statuses
    coverage = next(c for c in clean_run.checks if c.id == "test.coverage")
    assert coverage.measured == 100.0 and coverage.threshold == 80
    out = shared["clean"] / "gate-report"
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "pass" and report["version"] == "1.0.0"
    assert {"pytest", "coverage", "detect-secrets", "hadolint", "axe-core"} <= set(report["tools"])
    sbom = json.loads((out / "sbom.cdx.json").read_text())
    assert sbom["bomFormat"] == "CycloneDX"
    assert {"demo-app", "goodlib"} <= {c["name"] for c in sbom["components"]}
    junit = ET.parse(out / "junit.xml").getroot()  # noqa: S314 - our own report file
    assert len(junit.findall(".//testcase")) == len(clean_run.checks)
    sarif = json.loads((out / "findings.sarif").read_text())
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["tool"]["driver"]["name"]
    assert "Alle Gates bestanden." in (out / "summary.md").read_text()
    for name in (
        "gl-secret-detection-report.json",
        "gl-dependency-scanning-report.json",
        "gl-container-scanning-report.json",
    ):
        assert json.loads((out / name).read_text())["version"].startswith("15.")
    containers = json.loads((out / "gl-container-scanning-report.json").read_text())
    assert containers["scan"]["type"] == "container_scanning"
    assert containers["scan"]["status"] == "success"
    with gate_container.db.reader() as session:
        entries = gate_container.ledger.entries(session)
    run = next(e for e in entries if e.action == "gate.run")
    assert run.payload["status"] == "pass" and run.payload["change_id"] is not None
    assert run.payload["stages"] == {s.value: "pass" for s in STAGES}
    # The gate's own run record (what release admission reads), bound to the built artifacts.
    built = sorted((out / "dist").iterdir())
    digests = sorted(f"sha256:{hashlib.sha256(p.read_bytes()).hexdigest()}" for p in built)
    (record,) = [
        r for r in gate_container.gates.recorded(version="1.0.0") if r.ledger_index == run.index
    ]
    assert record.status == "pass" and record.change_id == run.payload["change_id"]
    assert record.stages == {s.value: "pass" for s in STAGES}
    # The wheel and the sdist it built, and the manifest digest of the image it scanned.
    image = json.loads((shared["clean"] / "image" / "index.json").read_text())
    scanned = image["manifests"][0]["digest"]
    assert record.artifact_digests == sorted([*digests, scanned]) and len(digests) == 2
    wheel = next(p for p in built if p.suffix == ".whl")
    wheel_digest = f"sha256:{hashlib.sha256(wheel.read_bytes()).hexdigest()}"
    assert (out / "artifact.env").read_text() == f"ARTIFACT_DIGEST={wheel_digest}\n"


def test_coverage_of_50_percent_fails_only_the_coverage_gate(
    shared: dict[str, Path], gate_container: Container, clean_python: Path
) -> None:
    project = variant(shared["clean"], shared["base"] / "cov50")
    (project / "tests" / "test_unit.py").unlink()
    result = _run(gate_container, shared, project, (Stage.TEST,), python=clean_python)
    assert _failed(result) == {"test.coverage": ["coverage-below-minimum"]}
    coverage = next(c for c in result.checks if c.id == "test.coverage")
    assert coverage.measured == 50.0
    assert "line coverage 50.0% is below the minimum of 80%" in coverage.findings[0].message


def test_a_test_run_stopped_on_its_timeout_keeps_its_output_and_names_what_failed(
    shared: dict[str, Path], gate_container: Container, clean_python: Path
) -> None:
    # A failing test, then one that never ends: the gate stops pytest at test.timeout. The
    # progress printed so far is kept, and the failure seen before the stop is named.
    project = variant(shared["clean"], shared["base"] / "hangs")
    (project / "tests" / "test_zz_hang.py").write_text(
        "import threading\n\n\ndef test_a_fails():\n    assert 1 == 2\n\n\n"
        "def test_b_hangs():\n    threading.Event().wait()\n"
    )
    config = yaml.safe_load((project / "leitstand.yaml").read_text(encoding="utf-8"))
    config["gates"]["test"] = {"timeout": "20s"}
    (project / "leitstand.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    result = _run(gate_container, shared, project, (Stage.TEST,), python=clean_python)
    unit = next(c for c in result.checks if c.id == "test.unit")
    assert unit.status is Status.FAIL
    message = unit.findings[0].message
    assert "did not finish within 20s" in message
    assert "tests/test_zz_hang.py::test_a_fails (call)" in message
    assert "test_b_hangs" not in message
    kept = (project / "gate-report" / "test" / "pytest-output.txt").read_text(encoding="utf-8")
    assert "test session starts" in kept or "collected" in kept


def test_a_project_without_integration_tests_fails_the_integration_gate(
    shared: dict[str, Path], gate_container: Container, clean_python: Path
) -> None:
    project = variant(shared["clean"], shared["base"] / "noint")
    (project / "tests" / "test_integration.py").unlink()
    (project / "tests" / "test_unit.py").write_text(
        "from demo_app.calc import unused, used\n\n\ndef test_both():\n"
        "    assert used() + unused() == 4\n"
    )
    result = _run(gate_container, shared, project, (Stage.TEST,), python=clean_python)
    assert _failed(result) == {"test.integration": ["no-integration-tests"]}
    check = next(c for c in result.checks if c.id == "test.integration")
    assert "no integration tests were collected" in check.findings[0].message


def test_a_page_with_a_missing_alt_text_fails_the_accessibility_gate(
    shared: dict[str, Path], gate_container: Container, clean_python: Path
) -> None:
    project = variant(shared["clean"], shared["base"] / "alt")
    (project / "web" / "index.html").write_text(
        (project / "web" / "index.html").read_text().replace(' alt="Demo logo"', "")
    )
    result = _run(gate_container, shared, project, (Stage.TEST,), python=clean_python)
    assert _failed(result) == {"test.accessibility": ["image-alt"]}
    finding = next(c for c in result.checks if c.id == "test.accessibility").findings[0]
    assert finding.data["selector"] == "img" and finding.file == "/index.html"


@pytest.mark.parametrize(
    ("dependency", "vuln", "score"),
    [
        ("vulnlib==1.0", "GHSA-test-0001", "CVSS 3.1 9.8"),
        ("v4lib==2.0", "GHSA-test-0002", "CVSS 4.0 9.3"),
    ],
)
def test_a_pinned_vulnerable_dependency_fails_the_dependency_gate(
    shared: dict[str, Path], gate_container: Container, dependency: str, vuln: str, score: str
) -> None:
    project = shared["base"] / f"vuln-{vuln}"
    clean_project(project, osv=shared["osv"], dependencies=("goodlib==1.0", dependency))
    result = _run(gate_container, shared, project, (Stage.SECURITY,))
    assert _failed(result) == {"security.dependencies": [vuln]}
    finding = next(c for c in result.checks if c.id == "security.dependencies").findings[0]
    assert score in finding.message and finding.package == dependency


@pytest.mark.parametrize(
    ("dependency", "expected"),
    [
        (
            "agpllib==1.0",
            "forbidden licence AGPL-3.0-or-later "
            "(declared AGPL-3.0-or-later in License-Expression)",
        ),
        ("gpllib==1.0", "forbidden licence GPL-3.0-only (declared GPL-3.0-only in classifier)"),
    ],
)
def test_a_copyleft_dependency_fails_the_licence_gate(
    shared: dict[str, Path], gate_container: Container, dependency: str, expected: str
) -> None:
    project = shared["base"] / f"lic-{dependency.split('=')[0]}"
    clean_project(project, osv=shared["osv"], dependencies=("goodlib==1.0", dependency))
    result = _run(gate_container, shared, project, (Stage.SECURITY,))
    assert _failed(result) == {"security.licences": ["licence-forbidden"]}
    finding = next(c for c in result.checks if c.id == "security.licences").findings[0]
    assert expected in finding.message


def test_an_aws_key_and_a_private_key_fail_the_secret_gate(
    shared: dict[str, Path], gate_container: Container, clean_python: Path
) -> None:
    project = variant(shared["clean"], shared["base"] / "secrets")
    aws = "AKIA" + "Q3ZT7WJ2M4XK9PLD"
    body = base64.b64encode(hashlib.sha512(b"not a real key").digest() * 4).decode()
    key = "-----BEGIN " + f"RSA PRIVATE KEY-----\n{body}\n-----END " + "RSA PRIVATE KEY-----\n"
    (project / "src" / "demo_app" / "settings.py").write_text(f'AWS_ACCESS_KEY_ID = "{aws}"\n')
    (project / "deploy.pem").write_text(key)
    (project / "tests" / "test_keys.py").write_text(f'KEY = "{aws}"\n')
    (project / "README.md").write_text("Call https://user:s3cret@api.example.com/v1 as shown.\n")
    result = _run(gate_container, shared, project, (Stage.SECURITY,), python=clean_python)
    assert set(_failed(result)) == {"security.secrets"}
    findings = next(c for c in result.checks if c.id == "security.secrets").findings
    located = {(f.rule, f.file, f.line, f.blocking) for f in findings}
    assert ("AWS Access Key", "src/demo_app/settings.py", 1, True) in located
    assert ("Private Key", "deploy.pem", 1, True) in located
    assert ("AWS Access Key", "tests/test_keys.py", 1, False) in located  # for review
    assert not any(f.file == "README.md" for f in findings)  # a documentation host
    out = project / "gate-report"
    assert aws not in (out / "report.json").read_text()
    assert "zur Prüfung" in (out / "summary.md").read_text()
    levels = {
        (r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], r["level"])
        for r in json.loads((out / "findings.sarif").read_text())["runs"][0]["results"]
        if r["ruleId"].startswith("security.secrets/")
    }
    assert {("src/demo_app/settings.py", "error"), ("tests/test_keys.py", "warning")} <= levels


@pytest.mark.parametrize(("version", "blocked"), [("3.0.0", True), ("3.0.1", False)])
def test_a_dependency_with_a_high_advisory_in_the_pypa_snapshot_fails_and_its_fix_passes(
    shared: dict[str, Path], gate_container: Container, version: str, blocked: bool
) -> None:
    project = shared["base"] / f"werkzeug-{version}"
    clean_project(project, osv=PYPA_SNAPSHOT, dependencies=("goodlib==1.0", f"werkzeug=={version}"))
    result = _run(gate_container, shared, project, (Stage.SECURITY,))
    deps = next(c for c in result.checks if c.id == "security.dependencies")
    if blocked:
        assert _failed(result) == {"security.dependencies": ["PYSEC-2023-221"]}
        [finding] = deps.findings
        for part in ("CVE-2023-46136", "CVSS 3.1 7.5", "/AV:N/AC:L/", "fixed in 3.0.1"):
            assert part in finding.message
        assert finding.package == f"werkzeug=={version}"
    else:
        assert _failed(result) == {} and deps.findings == ()
    assert "pypa-advisory-database" in deps.summary and "3 distributions" in deps.summary


def test_a_latest_root_dockerfile_with_a_password_fails_the_container_gate(
    shared: dict[str, Path], gate_container: Container, clean_python: Path
) -> None:
    project = variant(shared["clean"], shared["base"] / "docker")
    (project / "Dockerfile").write_text(
        'FROM python:latest\nENV DB_PASSWORD=hunter2\nCMD ["python"]\n'  # pragma: allowlist secret
    )
    result = _run(gate_container, shared, project, (Stage.SECURITY,), python=clean_python)
    failed = _failed(result)
    assert set(failed) == {"security.containers"}
    assert {"LS-IMAGE-TAG", "LS-ROOT-USER", "LS-SECRET-IN-IMAGE"} <= set(
        failed["security.containers"]
    )
    findings = next(c for c in result.checks if c.id == "security.containers").findings
    assert any(f.rule == "DL3007" for f in findings)  # hadolint's own "latest" rule
    assert any(f.rule == "LS-SECRET-IN-IMAGE" and f.line == 2 for f in findings)


def test_a_missing_change_approval_fails_the_compliance_gate(
    shared: dict[str, Path], gate_container: Container
) -> None:
    project = variant(shared["clean"], shared["base"] / "unapproved")
    text = (
        (project / "pyproject.toml").read_text().replace('version = "1.0.0"', 'version = "1.1.0"')
    )
    (project / "pyproject.toml").write_text(text)
    (project / "CHANGELOG.md").write_text("# Changelog\n\n## 1.1.0\n\n- more\n")
    gate_container.changes.open(
        service="demo-app",
        version="1.1.0",
        category="normal",
        fields={"what": "more", "why": "users", "rollback": "1.0.0", "tests": "all"},
        actor=DEV,
    )
    result = _run(gate_container, shared, project, (Stage.COMPLIANCE,))
    assert _failed(result) == {"compliance.approval": ["change-not-approved"]}
    message = next(c for c in result.checks if c.id == "compliance.approval").findings[0].message
    assert "is pending: waiting for approval by compliance_officer (not dana)" in message


def test_a_failed_stage_stops_the_run_unless_keep_going(
    shared: dict[str, Path], gate_container: Container, clean_python: Path
) -> None:
    project = variant(shared["clean"], shared["base"] / "stop")
    (project / "tests" / "test_unit.py").unlink()
    result = _run(
        gate_container,
        shared,
        project,
        (Stage.TEST, Stage.SECURITY),
        python=clean_python,
        keep_going=False,
    )
    assert [s.stage for s in result.stages] == [Stage.TEST]
    assert result.not_run == (Stage.SECURITY,)
    shutil.rmtree(project / "gate-report")


# -- compliance.flags: stale feature flags, judged by the project's policy ----------------------


def _flags_project(root: Path, *, stale_gate: str | None = None) -> Path:
    """A project whose other compliance checks pass (approval switched off by its policy)."""
    write_project(
        root,
        files={"CHANGELOG.md": "# Changelog\n\n## 1.0.0\n", "docs/betriebshandbuch.md": RUNBOOK},
    )
    policy: dict[str, Any] = {"pipeline": {"compliance": {"approval_required": False}}}
    if stale_gate is not None:
        policy["deployment"] = {"feature_flags": {"stale_gate": stale_gate}}
    (root / "leitstand.yaml").write_text(yaml.safe_dump(policy), encoding="utf-8")
    return root


def _compliance(gates: GateService, project: Path, *, lang: str = "de") -> RunResult:
    request = GateRequest(path=project, stages=(Stage.COMPLIANCE,), out=project / "out", lang=lang)
    result, _, _ = gates.run(request, actor=OPS)
    return result


def _flags_check(result: RunResult) -> Any:
    return next(c for c in result.checks if c.id == "compliance.flags")


def _reported(project: Path) -> tuple[dict[str, Any], str, ET.Element]:
    out = project / "out"
    report = json.loads((out / "report.json").read_text())
    [check] = [c for s in report["stages"] for c in s["checks"] if c["id"] == "compliance.flags"]
    junit = ET.parse(out / "junit.xml").getroot()  # noqa: S314 - our own report file
    [case] = [c for c in junit.iter("testcase") if c.get("name") == "compliance.flags"]
    return check, (out / "summary.md").read_text(), case


def test_an_empty_flag_store_passes_the_stale_flags_check(
    sqlite_container: Container, tmp_path: Path
) -> None:
    project = _flags_project(tmp_path / "no-flags")
    result = _compliance(sqlite_container.gates, project)
    assert result.status is Status.PASS
    check = _flags_check(result)
    assert (check.status, check.summary, check.findings) == (Status.PASS, "no feature flags", ())
    reported, summary, case = _reported(project)
    assert (reported["status"], reported["summary"]) == ("pass", "no feature flags")
    assert "| Veraltete Feature Flags | bestanden |" in summary
    assert case.find("failure") is None and case.find("skipped") is None


@pytest.mark.parametrize(
    ("stale_gate", "status", "blocking"),
    [("warn", Status.PASS, False), ("fail", Status.FAIL, True)],
)
def test_a_flag_fully_rolled_out_past_its_lifetime_warns_or_fails_as_the_policy_says(
    sqlite_container: Container,
    clock: ManualClock,
    tmp_path: Path,
    stale_gate: str,
    status: Status,
    blocking: bool,
) -> None:
    flags = sqlite_container.flags
    flags.create(key="new-billing", kind="release", actor=OPS, owner="anna")
    flags.rollout("new-billing", "production", percentage=100, actor=OPS, reason="ga")
    flags.create(key="young-search", kind="release", actor=OPS)
    lifetime = sqlite_container.policy.deployment.feature_flags.lifetimes["release"]
    assert isinstance(lifetime, timedelta)
    clock.advance(lifetime + timedelta(days=1))
    flags.create(key="young-search-2", kind="release", actor=OPS)
    project = _flags_project(tmp_path / stale_gate, stale_gate=stale_gate)
    result = _compliance(sqlite_container.gates, project, lang="en")
    check = _flags_check(result)
    [stale, _other] = check.findings
    assert check.status is status and result.status is status
    assert (stale.rule, stale.blocking) == ("stale-flag", blocking)
    assert "new-billing" in stale.message and "to everyone in production" in stale.message
    assert stale.data["key"] == "new-billing" and stale.data["type"] == "release"
    assert stale.data["reason"] == "fully_rolled_out" and stale.data["age"] == "41d"
    assert stale.data["lifetime"] == stale.data["limit"] == "40d"
    assert check.measured == 2 and "young-search-2" not in check.summary
    reported, summary, case = _reported(project)
    assert reported["status"] == status.value
    assert reported["findings"][0]["data"]["key"] == "new-billing"
    assert f"| Stale feature flags | {'failed' if blocking else 'passed'} |" in summary
    assert "`stale-flag`" in summary and "new-billing" in summary
    failure = case.find("failure")
    if blocking:
        assert failure is not None and "new-billing" in (failure.text or "")
    else:
        assert failure is None and "new-billing" in (case.findtext("system-out") or "")


def test_an_archived_flag_is_never_reported_stale(
    sqlite_container: Container, clock: ManualClock, tmp_path: Path
) -> None:
    flags = sqlite_container.flags
    flags.create(key="old-checkout", kind="release", actor=OPS)
    flags.rollout("old-checkout", "production", percentage=100, actor=OPS, reason="ga")
    flags.archive("old-checkout", actor=OPS, reason="removed from the code")
    clock.advance(timedelta(days=400))
    flags.create(key="fresh", kind="release", actor=OPS)
    project = _flags_project(tmp_path / "archived", stale_gate="fail")
    check = _flags_check(_compliance(sqlite_container.gates, project))
    assert check.status is Status.PASS and check.findings == ()
    assert check.summary == "1 active flag, none stale (1 archived)"
    assert "old-checkout" not in json.dumps(_reported(project)[0])


def test_without_a_flag_store_the_stale_flags_check_is_skipped_with_the_reason(
    sqlite_container: Container, tmp_path: Path
) -> None:
    c = sqlite_container
    gates = GateService(db=c.db, ledger=c.ledger, clock=c.clock, policy=c.policy)
    project = _flags_project(tmp_path / "no-store")
    check = _flags_check(_compliance(gates, project))
    assert check.status is Status.SKIP and "no flag store" in check.summary
    _reported_check, _summary, case = _reported(project)
    assert case.find("skipped") is not None
