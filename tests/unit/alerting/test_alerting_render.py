"""Generated configuration: checked by promtool and amtool; a failing check writes nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from leitstand.alerting.engine_config import Endpoints
from leitstand.alerting.engines import CheckFailed, find_engines
from leitstand.alerting.render import build_files, render
from leitstand.policy.model import Policy

pytestmark = pytest.mark.skipif(shutil.which("promtool") is None, reason="needs promtool")
ENDPOINTS = Endpoints(
    leitstand_url="http://127.0.0.1:8080", credentials_file="/etc/leitstand/am.token"
)


def test_render_writes_rules_tests_alertmanager_and_dashboards_that_pass_the_engine_checks(
    tmp_path: Path,
) -> None:
    report = render(Policy(), out=tmp_path / "out", endpoints=ENDPOINTS, engines=find_engines())
    assert (report.alerts, report.rules - report.alerts) == (34, 18)
    assert any("promtool test rules" in c for c in report.checks)
    rules = yaml.safe_load((tmp_path / "out/prometheus/rules/cpu.rules.yml").read_text())
    alerts = [r for r in rules["groups"][0]["rules"] if "alert" in r]
    assert [(a["expr"], a["for"], a["labels"]["severity"]) for a in alerts] == [
        ("leitstand:cpu:percent > 70", "30s", "warning"),
        ("leitstand:cpu:percent > 90", "30s", "critical"),
    ]
    am = yaml.safe_load((tmp_path / "out/alertmanager/alertmanager.yml").read_text())
    assert am["route"]["group_interval"] == "5m"
    hook = am["receivers"][0]["webhook_configs"][0]
    assert hook["http_config"]["authorization"]["credentials_file"] == "/etc/leitstand/am.token"
    assert "credentials" not in hook["http_config"]["authorization"]
    assert am["inhibit_rules"][0]["source_matchers"] == ['severity="critical"']
    boards = sorted(p.stem for p in (tmp_path / "out/grafana/dashboards").glob("*.json"))
    assert boards == sorted(Policy().observability.dashboards)
    tenants = json.loads((tmp_path / "out/grafana/dashboards/tenants.json").read_text())
    assert [v["name"] for v in tenants["templating"]["list"]] == ["datasource", "tenant"]


def test_every_rule_has_a_quiet_and_a_firing_test_and_a_wrong_threshold_fails(
    tmp_path: Path,
) -> None:
    files = build_files(Policy(), ENDPOINTS)
    for path, text in files.items():
        if path.startswith("prometheus/tests/"):
            for group in yaml.safe_load(text)["tests"]:
                checks = group["alert_rule_test"]
                assert checks[0]["exp_alerts"] != checks[-1]["exp_alerts"], path
    folder = tmp_path / "tampered"
    for rel, text in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text.replace("> 5\n", "> 6\n"))
    engines = find_engines()
    with pytest.raises(CheckFailed, match="FAILED"):
        engines.test_rules(["prometheus/tests/http_5xx_rate.test.yml"], folder)


def test_a_failing_check_writes_nothing_and_shows_the_checker_message(tmp_path: Path) -> None:
    out = tmp_path / "out"
    bad = Endpoints(leitstand_url="ftp://127.0.0.1:8080", credentials_file="/etc/am.token")
    with pytest.raises(CheckFailed, match="amtool check-config") as caught:
        render(Policy(), out=out, endpoints=bad, engines=find_engines())
    assert "ftp" in caught.value.message
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["cwd"]  # no staging folder left
