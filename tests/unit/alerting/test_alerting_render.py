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
from leitstand.policy.monitoring import MonitoringPolicy

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
    # One group per alert and service across tenants: one incident for every broker house.
    assert am["route"]["group_by"] == ["alertname", "severity", "service"]
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


def test_the_certificate_rule_fires_critical_at_the_minute_it_drops_below_7_days(
    tmp_path: Path,
) -> None:
    files = build_files(Policy(), ENDPOINTS)
    rules = yaml.safe_load(files["prometheus/rules/certificate_expiry.rules.yml"])
    alerts = {r["labels"]["severity"]: r for r in rules["groups"][0]["rules"] if "alert" in r}
    # The seed's "1 day" is how often to look, not a day's delay: no `for:` holding it back.
    assert (alerts["critical"]["expr"], alerts["critical"]["for"]) == (
        "leitstand:certificate_expiry:days < 7",
        "0s",
    )
    tests = yaml.safe_load(files["prometheus/tests/certificate_expiry.test.yml"])
    [critical] = [t for t in tests["tests"] if t["name"].startswith("certificate_expiry critical")]
    # 7 days and 45 minutes left at time zero: still quiet at minute 45, critical at minute 46.
    assert critical["input_series"][1]["values"] == "607500x50"
    fired = {
        c["eval_time"]: sorted(e["exp_labels"]["severity"] for e in c["exp_alerts"])
        for c in critical["alert_rule_test"]
    }
    assert fired == {"45m": ["warning", "warning"], "46m": ["critical", "warning", "warning"]}
    folder = tmp_path / "cert"
    for rel in ("prometheus/rules/certificate_expiry.rules.yml",):
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(files[rel])
    test = dict(tests, rule_files=["../rules/certificate_expiry.rules.yml"])
    (folder / "prometheus/tests").mkdir(parents=True)
    (folder / "prometheus/tests/cert.test.yml").write_text(yaml.safe_dump(test))
    find_engines().test_rules(["prometheus/tests/cert.test.yml"], folder)  # promtool agrees
    late = yaml.safe_dump(test).replace("eval_time: 46m", "eval_time: 45m")
    (folder / "prometheus/tests/late.test.yml").write_text(late)
    with pytest.raises(CheckFailed, match="FAILED"):
        find_engines().test_rules(["prometheus/tests/late.test.yml"], folder)


def test_pending_is_the_for_of_a_metric_apart_from_its_interval() -> None:
    data = Policy().monitoring.model_dump(mode="json")
    data["metrics"]["cpu"]["pending"] = "2m"
    data["max_pending"] = "10s"
    policy = Policy(monitoring=MonitoringPolicy.model_validate(data))
    files = build_files(policy, ENDPOINTS)
    cpu = yaml.safe_load(files["prometheus/rules/cpu.rules.yml"])["groups"][0]["rules"]
    assert {r["for"] for r in cpu if "alert" in r} == {"2m"}
    memory = yaml.safe_load(files["prometheus/rules/memory.rules.yml"])["groups"][0]["rules"]
    assert {r["for"] for r in memory if "alert" in r} == {"0s"}  # 30s interval > max_pending
