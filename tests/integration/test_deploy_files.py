"""leitstand's own deployment files (deploy/) pass its own container gate, and each control of
that gate stops the mistake it is for: schema errors in compose and Kubernetes files, unit
files systemd would not load or that leave the service exposed, images that escape the tag
check through a variable. Real engines: systemd-analyze, the published Kubernetes schemas, the
Compose Specification's schema."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import yaml

import leitstand
from leitstand.errors import ValidationError
from leitstand.gates.containers import check_manifest, container_scan, schema_findings
from leitstand.gates.manifest_schemas import compose_problems, kubernetes_schemas
from leitstand.gates.model import Finding, Severity, Status
from leitstand.gates.units import check_units
from leitstand.policy import load_policy_text
from leitstand.policy.loader import load_policy
from leitstand.policy.model import Policy
from support.gates_lab import gate_context

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SELF_GATE = ROOT / ".ci" / "gates.yaml"

needs_systemd = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)


def _scan(project: Path, policy: Policy) -> tuple[Status, list[Finding], str]:
    result = container_scan(gate_context(project, policy))
    return result.status, result.findings, result.summary


def _project_with(tmp_path: Path, files: dict[str, str]) -> Path:
    (tmp_path / "requirements.txt").write_text("", encoding="utf-8")
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


def _critical(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.blocking and f.severity is Severity.CRITICAL]


@needs_systemd
def test_leitstands_deploy_files_pass_its_own_container_gate(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project).mkdir()
    shutil.copytree(DEPLOY, project / "deploy")
    status, findings, summary = _scan(_project_with(project, {}), load_policy(SELF_GATE))
    assert status is Status.PASS, [str(f.message) for f in _critical(findings)]
    assert _critical(findings) == []
    # compose.yaml, kubernetes/leitstand.yaml and kubernetes/kustomization.yaml; one unit.
    assert summary.startswith("0 Dockerfile(s), 1 systemd unit(s), 3 manifest(s): 0 critical")
    assert "systemd exposure of leitstand.service: 1.4" in summary
    rules = sorted(f.rule for f in findings)
    # Five images set where compose runs; the Kustomization has no published schema.
    assert rules == ["LS-IMAGE-VARIABLE"] * 5 + ["LS-K8S-SCHEMA"]
    kustomization = next(f for f in findings if f.rule == "LS-K8S-SCHEMA")
    assert not kustomization.blocking and "not checked" in kustomization.message


def test_every_compose_service_is_hardened_and_takes_its_image_by_variable() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    assert compose_problems(compose) == []
    decided = load_policy(SELF_GATE).gates.containers.read_only
    for name, service in compose["services"].items():
        assert service["read_only"] is True and decided[name].read_only, name
        assert service["cap_drop"] == ["ALL"], name
        assert service["user"].split(":")[0] not in {"0", "root"}, name
        assert set(service["deploy"]["resources"]["limits"]) == {"cpus", "memory"}, name
        assert service["image"].startswith(f"${{{name.upper()}_IMAGE:?"), name
    assert set(compose["services"]) == {
        "leitstand",
        "postgres",
        "prometheus",
        "alertmanager",
        "rsyslog",
    }
    # rsyslog receives on leitstand's 127.0.0.1 (logs.streams.port) and writes into its home.
    rsyslog = compose["services"]["rsyslog"]
    assert rsyslog["network_mode"] == "service:leitstand"
    assert "leitstand-home:/var/lib/leitstand" in rsyslog["volumes"]
    assert rsyslog["user"] == compose["services"]["leitstand"]["user"]
    # Secrets are files, never environment values.
    for service in compose["services"].values():
        for key, value in (service.get("environment") or {}).items():
            assert "PASSWORD" not in key or key.endswith("_FILE"), key
            assert "://" not in str(value), key


def test_the_kubernetes_files_are_valid_for_the_policys_version_and_tag_the_release() -> None:
    schemas = kubernetes_schemas(Policy().gates.containers.kubernetes_version)
    assert not isinstance(schemas, str), schemas
    docs = list(yaml.safe_load_all((DEPLOY / "kubernetes/leitstand.yaml").read_text()))
    assert [d["kind"] for d in docs] == [
        "ServiceAccount",
        "PersistentVolumeClaim",
        "Deployment",
        "Service",
        "NetworkPolicy",
    ]
    assert all(schemas.problems(d) == [] for d in docs)
    deployment = docs[2]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    # The exact version, never latest; the digest is pinned by kustomize where it is applied.
    assert container["image"].endswith(f":{leitstand.__version__}")
    text = (DEPLOY / "kubernetes/leitstand.yaml").read_text(encoding="utf-8")
    assert check_manifest(text, file="deploy/kubernetes/leitstand.yaml") == []


def test_a_misspelt_compose_key_fails_with_its_path_and_line(tmp_path: Path) -> None:
    text = (DEPLOY / "compose.yaml").read_text(encoding="utf-8")
    broken = text.replace('    user: "70:70"', '    usr: "70:70"', 1)
    assert broken != text
    status, findings, _ = _scan(
        _project_with(tmp_path, {"compose.yaml": broken}), load_policy(SELF_GATE)
    )
    assert status is Status.FAIL
    (schema,) = [f for f in findings if f.rule == "LS-COMPOSE-SCHEMA"]
    assert schema.blocking and schema.severity is Severity.CRITICAL
    assert schema.data["path"] == "services.postgres"
    assert "'usr'" in schema.message
    assert schema.line is not None
    assert broken.splitlines()[schema.line - 1].strip() == "postgres:"


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        (
            ("readOnlyRootFilesystem: true", "readOnlyRootFileSystem: true"),
            "spec.template.spec.containers[0].securityContext",
            "'readOnlyRootFileSystem' was unexpected",
        ),
        (("  replicas: 1", "  replicas: one"), "spec.replicas", "'one' is not of type"),
    ],
)
def test_a_kubernetes_object_that_breaks_its_schema_fails_the_gate(
    change: tuple[str, str], path: str, words: str
) -> None:
    text = (DEPLOY / "kubernetes/leitstand.yaml").read_text(encoding="utf-8")
    broken = text.replace(*change)
    assert broken != text
    docs = [d for d in yaml.safe_load_all(broken) if isinstance(d, dict)]
    findings = schema_findings(docs, broken, file="k8s.yaml", kubernetes=kubernetes_schemas("1.31"))
    (problem,) = findings
    assert problem.rule == "LS-K8S-SCHEMA" and problem.blocking
    assert problem.data["path"] == path
    assert words in problem.message and problem.message.startswith("Deployment leitstand: ")


def test_without_kubernetes_schemas_an_object_is_not_checked_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "kubernetes_validate", None)  # import fails
    reason = kubernetes_schemas("1.31")
    assert isinstance(reason, str) and "leitstand[kubernetes]" in reason
    text = (DEPLOY / "kubernetes/leitstand.yaml").read_text(encoding="utf-8")
    docs = [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]
    findings = schema_findings(docs, text, file="k8s.yaml", kubernetes=reason)
    assert len(findings) == 5
    assert all(not f.blocking and "schema not checked" in f.message for f in findings)


def test_a_kubernetes_version_without_schemas_names_the_versions_there_are() -> None:
    reason = kubernetes_schemas("1.12")
    assert isinstance(reason, str)
    assert "no schemas for Kubernetes 1.12" in reason and "1.31" in reason


def test_the_policy_checks_the_kubernetes_version_and_the_exposure_bound() -> None:
    with pytest.raises(ValidationError) as caught:
        load_policy_text(
            "gates:\n  containers:\n    kubernetes_version: v1.31\n    units: {max_exposure: 11}\n"
        )
    text = str(caught.value)
    assert "major.minor such as 1.31 (got 'v1.31')" in text
    assert "gates.containers.units.max_exposure" in text


def test_a_compose_image_hidden_behind_a_variable_default_is_still_checked(
    tmp_path: Path,
) -> None:
    compose = """\
services:
  api:
    image: ${API_IMAGE:-registry.example/api:latest}
    user: "10001"
    read_only: true
    deploy: {resources: {limits: {cpus: "0.5", memory: 256M}}}
  worker:
    image: ${WORKER_IMAGE:?set WORKER_IMAGE}
    user: "10001"
    read_only: true
    deploy: {resources: {limits: {cpus: "0.5", memory: 256M}}}
"""
    findings = check_manifest(compose, file="compose.yaml")
    by_rule = {f.rule: f for f in findings}
    assert by_rule["LS-IMAGE-TAG"].blocking
    assert "service api: image registry.example/api:latest uses the latest tag" in (
        by_rule["LS-IMAGE-TAG"].message
    )
    assert by_rule["LS-IMAGE-VARIABLE"].severity is Severity.INFO
    assert "${WORKER_IMAGE}" in by_rule["LS-IMAGE-VARIABLE"].message


def test_a_yaml_template_is_reported_as_not_checked_not_as_clean(tmp_path: Path) -> None:
    template = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{ .Values.name }}: x\n"
    status, findings, summary = _scan(
        _project_with(tmp_path, {"chart/templates/deployment.yaml": template}), Policy()
    )
    assert status is Status.PASS and "0 manifest(s): 0 critical" in summary
    (finding,) = findings
    assert finding.rule == "LS-YAML" and not finding.blocking and finding.line == 3
    assert finding.message.startswith("chart/templates/deployment.yaml: not checked, not YAML")


UNIT = """\
[Unit]
Description=demo

[Service]
ExecStart=/opt/demo/bin/demo serve
{extra}
[Install]
WantedBy=multi-user.target
"""


@needs_systemd
def test_a_unit_systemd_would_not_load_as_written_fails_at_its_line(tmp_path: Path) -> None:
    unit = UNIT.format(extra="DynamicUser=yes\nMemoryMax=lots\nRestartSecs=5\n")
    (tmp_path / "demo.service").write_text(unit, encoding="utf-8")
    checked = check_units(tmp_path, ["demo.service"], max_exposure=10)
    verify = {f.line: f.message for f in checked.findings if f.rule == "LS-SYSTEMD-VERIFY"}
    assert set(verify) == {7, 8}, checked.findings
    assert "Invalid memory limit 'lots'" in verify[7]
    assert "Unknown key" in verify[8] and "RestartSecs" in verify[8]
    assert all(str(tmp_path) not in m for m in verify.values())
    assert checked.tool.name == "systemd-analyze" and checked.tool.version.isdigit()


@needs_systemd
def test_an_exposed_service_fails_and_the_locked_down_one_passes(tmp_path: Path) -> None:
    (tmp_path / "demo.service").write_text(UNIT.format(extra=""), encoding="utf-8")
    shutil.copy(DEPLOY / "systemd/leitstand.service", tmp_path / "leitstand.service")
    checked = check_units(tmp_path, ["demo.service", "leitstand.service"], max_exposure=4.9)
    assert checked.exposure["leitstand.service"] <= 2.0
    assert checked.exposure["demo.service"] > 9.0  # no sandboxing at all, runs as root
    (exposed,) = [f for f in checked.findings if f.rule == "LS-SYSTEMD-EXPOSURE"]
    assert exposed.file == "demo.service" and exposed.blocking
    assert "gates.containers.units.max_exposure: 4.9" in exposed.message
    assert not [f for f in checked.findings if f.rule == "LS-SYSTEMD-VERIFY"]


@needs_systemd
def test_a_hostile_unit_cannot_make_the_gate_write_outside_its_scratch_root(
    tmp_path: Path,
) -> None:
    target = tmp_path / "outside" / "planted"
    relative = "/../../../../../../../.." + str(target)
    unit = UNIT.replace("/opt/demo/bin/demo serve", relative)
    unit = unit.replace("{extra}", "ExecStartPre=/usr/lib/systemd/system/planted.sh\n")
    (tmp_path / "evil.service").write_text(unit, encoding="utf-8")
    checked = check_units(tmp_path, ["evil.service"], max_exposure=10)
    assert not target.exists()
    assert not Path("/usr/lib/systemd/system/planted.sh").exists()
    assert any(f.rule == "LS-SYSTEMD-VERIFY" for f in checked.findings)


@pytest.mark.parametrize(
    "hostile",
    [
        "apiVersion: apps/v1\nkind: 5\nmetadata: x\n",
        "apiVersion: [apps/v1]\nkind: Deployment\n",
        "apiVersion: v1\nkind: Service\nmetadata: [1, 2]\nspec: {ports: 7}\n",
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n",
    ],
)
def test_hostile_kubernetes_documents_are_findings_not_crashes(hostile: str) -> None:
    docs = [d for d in yaml.safe_load_all(hostile) if isinstance(d, dict)]
    findings = schema_findings(docs, hostile, file="k.yaml", kubernetes=kubernetes_schemas("1.31"))
    assert len(findings) == 1
    (finding,) = findings
    assert finding.rule == "LS-K8S-SCHEMA"
    if "Widget" in hostile:
        assert not finding.blocking and "not checked" in finding.message
    else:
        assert finding.blocking


def test_a_hostile_manifest_gives_findings_and_no_crash_in_the_container_check(
    tmp_path: Path,
) -> None:
    hostile = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: x\nspec: [1]\n---\n"
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec: {jobTemplate: 7}\n---\n"
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
        "spec: {securityContext: 1, containers: [{name: a, resources: 2, securityContext: 3}]}\n"
    )
    status, findings, _ = _scan(_project_with(tmp_path, {"k8s/x.yaml": hostile}), Policy())
    assert status is Status.FAIL
    assert {f.rule for f in findings} >= {"LS-K8S-SCHEMA", "LS-K8S-LIMITS", "LS-K8S-ROOT"}
