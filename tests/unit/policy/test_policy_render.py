"""Rendering: JSON and YAML are stable and load back; Markdown shows the seed's tables."""

from __future__ import annotations

import json

import pytest

from leitstand.policy import Policy, default_policy, load_policy_text, render_policy

CUSTOM = """
tenants:
  acme: {name: Acme AG, services: [enterprise-api], contact: ops@acme.example}
monitoring:
  metrics:
    cpu: {critical: 95}
deployment: {default_strategy: canary, canary: {steps: [10, 50, 100]}}
evidence: {checkpoint_copy_dir: /srv/witness}
"""


@pytest.fixture(params=["defaults", "custom"])
def policy(request: pytest.FixtureRequest) -> Policy:
    return default_policy() if request.param == "defaults" else load_policy_text(CUSTOM)


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_rendered_policy_loads_back_into_an_equal_policy(policy: Policy, fmt: str) -> None:
    text = render_policy(policy, fmt)  # type: ignore[arg-type]
    assert load_policy_text(text) == policy


def test_json_is_stable_machine_readable_and_uses_compact_durations() -> None:
    first = render_policy(default_policy(), "json")
    assert first == render_policy(default_policy(), "json")
    data = json.loads(first)
    assert data["services"]["enterprise-api"] == {
        "name": "Enterprise API",
        "name_en": None,
        "rto": "2h",
        "rpo": "15m",
        "priority": "critical",
    }
    assert data["logs"]["retention"]["audit"]["period"] == "5y"
    assert data["backups"]["schedule"]["configuration"]["retention"] == "unlimited"
    assert data["incidents"]["severities"]["SEV-4"]["reaction_time"] == "next_business_day"
    assert list(data)[:3] == ["services", "tenants", "monitoring"]
    assert first.startswith('{\n  "services": {\n    "smart-bav-portal": {\n')


def test_markdown_shows_the_seed_tables_in_german_by_default() -> None:
    md = render_policy(default_policy(), "md")
    assert "| Metrik | Warnung | Kritisch | Intervall |" in md
    assert "| CPU | > 70% | > 90% | 30s |" in md
    assert "| Failed Logins | > 10/min pro IP | > 50/min pro IP | 30s |" in md
    assert "| Batch-Jobs | 2× Normalzeit | Nicht gestartet | 5min |" in md
    assert "| smart!bAV Portal | 4h | 1h | Kritisch |" in md
    assert (
        "| Datenbank | Full Backup | Täglich 02:00 | 30 Tage | AES-256 | Sekundäres RZ DE |" in md
    )
    assert "| Audit-Logs (Nutzerzugriff) | 5 Jahre |" in md
    assert "| SEV-4 (Niedrig) | Kosmetisch oder Workaround vorhanden | Nächster Arbeitstag |" in md
    assert "| Uptime | Prometheus Blackbox Exporter | Externe Verfügbarkeitsprüfung |" in md


def test_markdown_can_be_english() -> None:
    md = render_policy(default_policy(), "md", "en")
    assert md.startswith("# Operations policy\n")
    assert "| Metric | Warning | Critical | Interval |" in md
    assert "| Failed logins | > 10/min per IP | > 50/min per IP | 30s |" in md
    assert "| Batch processing | 8h | 4h | High |" in md
    assert "Metrik" not in md


def test_yaml_output_is_commented_and_readable() -> None:
    text = render_policy(default_policy(), "yaml")
    assert text.startswith("# leitstand effective policy")
    assert "    rto: 4h\n" in text
