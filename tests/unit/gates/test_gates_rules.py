"""Pure gate rules: stages, verdicts, allow-list expiry, licences, OSV ranges, CVSS, Dockerfiles."""

from __future__ import annotations

import json
import zipfile
from datetime import date
from pathlib import Path

import pytest

from leitstand.gates.allow import apply_allowances
from leitstand.gates.compliance import runbook_sections
from leitstand.gates.containers import check_manifest
from leitstand.gates.dockerfile import check_dockerfile
from leitstand.gates.licences import Verdict, declared_licence, judge_expression
from leitstand.gates.model import CheckResult, Finding, Stage, Status, parse_stages
from leitstand.gates.osv import OsvDatabase, affected, score
from leitstand.policy.gates import AcceptedVulnerability
from support.gates_lab import V3_CRITICAL, V4_CRITICAL

FORBIDDEN, REVIEW = ["GPL-*", "AGPL-*"], ["LGPL-*", "MPL-*"]
ALLOWED_IMAGES = ["alpine:*", "*:*-alpine*", "gcr.io/distroless/*", "scratch"]


def test_stages_are_parsed_in_pipeline_order_whatever_the_order_given() -> None:
    assert parse_stages("security,build") == (Stage.BUILD, Stage.SECURITY)
    assert parse_stages(None) == tuple(Stage)
    with pytest.raises(ValueError, match="got 'deploy'"):
        parse_stages("build,deploy")


def test_a_check_fails_only_when_more_findings_block_than_allowed() -> None:
    note = Finding(rule="x", message="m", blocking=False)
    block = Finding(rule="y", message="m")
    assert CheckResult.judge("a.b", [note], summary="").status is Status.PASS
    assert CheckResult.judge("a.b", [note, block], summary="").status is Status.FAIL
    assert CheckResult.judge("a.b", [block], summary="", max_blocking=1).status is Status.PASS


def test_an_expired_allow_list_entry_no_longer_allows_and_is_reported() -> None:
    finding = Finding(rule="GHSA-1", message="vuln", data={"aliases": ["CVE-2026-1"]})
    entry = AcceptedVulnerability(id="CVE-2026-1", reason="no fix yet", expires=date(2026, 11, 30))

    def matches(f: Finding, e: AcceptedVulnerability) -> bool:
        return e.id in {f.rule, *f.data["aliases"]}

    valid = apply_allowances(
        [finding], [entry], matches=matches, today=date(2026, 11, 30), describe=lambda e: e.id
    )
    assert valid.open == [] and valid.allowed[0].reason == "no fix yet"
    stale = apply_allowances(
        [finding], [entry], matches=matches, today=date(2026, 12, 1), describe=lambda e: e.id
    )
    assert stale.allowed == []
    assert stale.open[0].blocking
    assert "allow-list entry expired on 2026-11-30" in stale.open[0].message


def test_an_allow_list_entry_needs_a_reason_and_an_expiry_date() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="reason"):
        AcceptedVulnerability.model_validate(
            {"id": "CVE-1", "reason": " ", "expires": "2027-01-01"}
        )
    with pytest.raises(ValidationError, match="expires"):
        AcceptedVulnerability.model_validate({"id": "CVE-1", "reason": "ok"})


@pytest.mark.parametrize(
    ("expression", "verdict"),
    [
        ("AGPL-3.0-or-later", Verdict.FORBIDDEN),
        ("GPL-2.0+", Verdict.FORBIDDEN),
        ("MIT AND GPL-3.0-only", Verdict.FORBIDDEN),
        ("MIT OR GPL-3.0-only", Verdict.ALLOWED),
        ("LGPL-3.0-only", Verdict.REVIEW),
        ("MPL-2.0 AND (Apache-2.0 OR MIT)", Verdict.REVIEW),
        ("Apache-2.0 OR BSD-3-Clause", Verdict.ALLOWED),
        (None, Verdict.UNKNOWN),
    ],
)
def test_a_licence_expression_is_judged_by_its_unavoidable_branches(
    expression: str | None, verdict: Verdict
) -> None:
    assert judge_expression(expression, forbidden=FORBIDDEN, review=REVIEW)[0] is verdict


def test_licence_metadata_is_read_expression_first_then_classifiers_then_license() -> None:
    gpl = ("License :: OSI Approved :: GNU General Public License v3 (GPLv3)",)
    assert declared_licence("MIT", gpl, "GPL").expression == "MIT"
    assert declared_licence(None, gpl, "MIT").source == "classifier"
    assert declared_licence(None, (), "Apache 2.0").expression == "Apache-2.0"
    assert declared_licence(None, (), "UNKNOWN").expression is None


def test_osv_ranges_follow_introduced_fixed_and_last_affected_events() -> None:
    record = {
        "id": "X",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "Lib_A"},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "1.0"}, {"fixed": "1.4"}]},
                    {
                        "type": "ECOSYSTEM",
                        "events": [{"introduced": "2.0"}, {"last_affected": "2.1"}],
                    },
                ],
                "versions": ["0.9rc1"],
            }
        ],
    }
    hits = {
        v
        for v in ["0.8", "0.9rc1", "1.0", "1.3.9", "1.4", "2.1", "2.1.1"]
        if affected(record, "lib-a", v)
    }
    assert hits == {"0.9rc1", "1.0", "1.3.9", "2.1"}


def test_cvss_base_scores_are_computed_from_v3_and_v4_vectors() -> None:
    v3 = score("CVSS_V3", V3_CRITICAL)
    v4 = score("CVSS_V4", V4_CRITICAL)
    assert v3 is not None and (v3.version, v3.base) == ("3.1", 9.8)
    assert v4 is not None and (v4.version, v4.base) == ("4.0", 9.3)
    assert score("CVSS_V3", "CVSS:3.1/nonsense") is None


def test_an_osv_scanner_all_zip_is_read_and_withdrawn_records_are_ignored(tmp_path: Path) -> None:
    def rec(vid: str, **extra: object) -> dict[str, object]:
        return {
            "id": vid,
            "severity": [{"type": "CVSS_V3", "score": V3_CRITICAL}],
            "affected": [{"package": {"ecosystem": "PyPI", "name": "libx"}, "versions": ["1.0"]}],
            **extra,
        }

    folder = tmp_path / "osv-scanner" / "PyPI"
    folder.mkdir(parents=True)
    with zipfile.ZipFile(folder / "all.zip", "w") as zf:
        zf.writestr("A.json", json.dumps(rec("A")))
        zf.writestr("B.json", json.dumps(rec("B", withdrawn="2026-01-01T00:00:00Z")))
    database = OsvDatabase.load(tmp_path)
    assert database.count == 2
    assert [v.id for v in database.find("LibX", "1.0")] == ["A"]
    assert database.find("libx", "1.1") == []


def test_dockerfile_rules_of_the_seed_container_table() -> None:
    # pragma: allowlist nextline secret
    text = "FROM python:latest AS build\nFROM build\nENV API_TOKEN=abc\nUSER root\n"
    rules = {
        (f.rule, f.line)
        for f in check_dockerfile(text, file="Dockerfile", allowed_images=ALLOWED_IMAGES)
    }
    assert ("LS-IMAGE-TAG", 1) in rules
    assert ("LS-SECRET-IN-IMAGE", 3) in rules
    assert ("LS-ROOT-USER", 4) in rules
    assert ("LS-HEALTHCHECK", 2) in rules
    good = "FROM alpine:3.20\nARG TOKEN\nUSER 10001\nHEALTHCHECK CMD true\n"
    assert check_dockerfile(good, file="Dockerfile", allowed_images=ALLOWED_IMAGES) == []
    untagged = check_dockerfile(
        "FROM ubuntu\nUSER app\nHEALTHCHECK CMD x\n", file="D", allowed_images=ALLOWED_IMAGES
    )
    assert {f.rule for f in untagged} == {"LS-IMAGE-TAG", "LS-BASE-IMAGE"}


def test_kubernetes_workloads_need_limits_and_non_root_and_read_only_is_advised() -> None:
    manifest = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  template:
    spec:
      containers:
        - name: api
          image: registry.example/api:2.4.0
          resources: {limits: {cpu: 500m}}
"""
    findings = check_manifest(manifest, file="k8s/api.yaml")
    by_rule = {f.rule: f for f in findings}
    assert set(by_rule) == {"LS-K8S-LIMITS", "LS-K8S-ROOT", "LS-K8S-READONLY"}
    assert "no memory limit" in by_rule["LS-K8S-LIMITS"].message
    assert by_rule["LS-K8S-LIMITS"].line == 8 and not by_rule["LS-K8S-READONLY"].blocking
    compose = "services:\n  web:\n    image: nginx:latest\n    user: root\n"
    rules = {f.rule for f in check_manifest(compose, file="docker-compose.yml")}
    assert {"LS-COMPOSE-LIMITS", "LS-COMPOSE-ROOT", "LS-IMAGE-TAG"} <= rules


def test_a_runbook_needs_all_eight_sections_of_the_seed_template() -> None:
    titles = {
        "overview": ("Systemübersicht", "System overview"),
        "maintenance": ("Wartung", "Maintenance"),
    }
    assert runbook_sections("## 1. Systemübersicht\n### 7. Maintenance\n", titles) == []
    assert runbook_sections("## 1. Systemübersicht\n", titles) == ["maintenance"]
