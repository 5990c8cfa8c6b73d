"""The seed's "read-only filesystem where possible", decided per workload in the policy."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from leitstand.errors import ValidationError
from leitstand.gates.containers import check_manifest, container_scan
from leitstand.gates.context import GateContext
from leitstand.gates.environment import PipOptions
from leitstand.gates.model import Finding, Severity, Status
from leitstand.gates.project import load_project
from leitstand.policy import load_policy_text
from leitstand.policy.gates import ReadOnlyDecision, read_only_decision

DECIDED = """\
gates:
  containers:
    read_only:
      api: true
      "report-*":
        read_only: false
        reason: renders PDFs into /var/cache/fonts at start; ticket OPS-412 moves it
"""

MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      securityContext: {{runAsNonRoot: true}}
      containers:
        - name: {name}
          image: registry.example/{name}:2.4.0
          resources: {{limits: {{cpu: 500m, memory: 256Mi}}}}
          securityContext: {{readOnlyRootFilesystem: {read_only}}}
"""

COMPOSE = """\
services:
  {name}:
    image: registry.example/{name}:2.4.0
    user: "10001"
    read_only: {read_only}
    deploy: {{resources: {{limits: {{cpus: "0.5", memory: 256M}}}}}}
"""


def _decisions() -> dict[str, ReadOnlyDecision]:
    return dict(load_policy_text(DECIDED).gates.containers.read_only)


def _only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, findings
    return findings[0]


@pytest.mark.parametrize(
    ("template", "file", "rule"),
    [
        (MANIFEST, "k8s/workload.yaml", "LS-K8S-READONLY"),
        (COMPOSE, "docker-compose.yml", "LS-COMPOSE-READONLY"),
    ],
)
def test_a_writable_root_weighs_what_the_policy_decided_for_the_workload(
    template: str, file: str, rule: str
) -> None:
    decisions = _decisions()

    def findings(name: str, read_only: str) -> list[Finding]:
        text = template.format(name=name, read_only=read_only)
        return check_manifest(text, file=file, read_only=decisions)

    # Decided read-only: a writable root filesystem is critical and blocks.
    decided = _only(findings("api", "false"))
    assert (decided.rule, decided.severity, decided.blocking) == (rule, Severity.CRITICAL, True)
    assert "gates.containers.read_only['api'] decides read-only" in decided.message
    assert decided.data == {"decision": "api"}
    assert findings("api", "true") == []
    # Decided writable with a reason: accepted, and the reason stays visible in the report.
    accepted = _only(findings("report-pdf", "false"))
    assert (accepted.severity, accepted.blocking) == (Severity.INFO, False)
    assert "accepted by gates.containers.read_only['report-*']: renders PDFs" in accepted.message
    assert accepted.data["reason"].startswith("renders PDFs into /var/cache/fonts")
    assert findings("report-pdf", "true") == []
    # Undecided: the seed's "where possible" stays a non-blocking warning.
    undecided = _only(findings("worker", "false"))
    assert (undecided.severity, undecided.blocking) == (Severity.MEDIUM, False)
    assert "record the decision in gates.containers.read_only" in undecided.message
    # Without any decisions every workload is undecided.
    text = template.format(name="api", read_only="false")
    assert not _only(check_manifest(text, file=file)).blocking


def test_the_exact_name_wins_then_the_longest_glob() -> None:
    decisions = {
        "*": ReadOnlyDecision(read_only=True),
        "report-*": ReadOnlyDecision(read_only=False, reason="font cache"),
        "report-x*": ReadOnlyDecision(read_only=True),
        "REPORT-LEGACY": ReadOnlyDecision(read_only=False, reason="vendor image"),
    }
    assert read_only_decision(decisions, "report-legacy") == (
        "REPORT-LEGACY", decisions["REPORT-LEGACY"],
    )  # fmt: skip
    assert read_only_decision(decisions, "report-xl") == ("report-x*", decisions["report-x*"])
    assert read_only_decision(decisions, "report-pdf") == ("report-*", decisions["report-*"])
    assert read_only_decision(decisions, "api") == ("*", decisions["*"])
    assert read_only_decision({}, "api") is None


def test_a_writable_decision_needs_a_reason_and_true_is_the_short_form() -> None:
    containers = load_policy_text(DECIDED).gates.containers
    assert containers.read_only["api"] == ReadOnlyDecision(read_only=True)
    with pytest.raises(ValidationError) as err:
        load_policy_text(
            "gates:\n  containers:\n    read_only:\n      legacy: false\n"
            "      batch: {read_only: false, reason: ''}\n      api: yes please\n"
        )
    messages = {i.path: i.message for i in err.value.issues}
    prefix = "gates.containers.read_only"
    assert messages[f"{prefix}.legacy.reason"].startswith(
        "why the root filesystem cannot be read-only, required with read_only: false"
    )
    assert messages[f"{prefix}.batch.reason"] == "a non-empty text (got '')"
    assert messages[f"{prefix}.api"] == (
        "true, or {read_only: false, reason: ...} (got 'yes please')"
    )
    assert load_policy_text("").gates.containers.read_only == {}


def test_the_container_gate_passes_the_policy_decisions_to_the_manifest_check(
    tmp_path: Path,
) -> None:
    (tmp_path / "requirements.txt").write_text("", encoding="utf-8")
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s/api.yaml").write_text(
        MANIFEST.format(name="api", read_only="false"), encoding="utf-8"
    )
    (tmp_path / "docker-compose.yml").write_text(
        COMPOSE.format(name="report-pdf", read_only="false"), encoding="utf-8"
    )
    ctx = GateContext(
        project=load_project(tmp_path),
        policy=load_policy_text(DECIDED),
        out=tmp_path / "gate-report",
        today=date(2026, 12, 7),
        now=datetime(2026, 12, 7, 10, tzinfo=UTC),
        pip_options=PipOptions(),
    )
    result = container_scan(ctx)
    assert result.status is Status.FAIL and result.measured == 1
    by_rule = {f.rule: f for f in result.findings}
    assert by_rule["LS-K8S-READONLY"].blocking
    assert by_rule["LS-COMPOSE-READONLY"].severity is Severity.INFO
    assert "2 manifest(s): 1 critical finding(s)" in result.summary
