"""The "Mandanten" dashboard: one health status per broker house, evaluated by promtool."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from leitstand.alerting.dashboards import NO_DATA, dashboards, panel_queries, tenant_health
from leitstand.alerting.engines import find_engines
from leitstand.policy.model import Policy
from leitstand.policy.tenants import TenantPolicy

_REQ = "http_server_request_duration_seconds"

# One house per reason to be unhealthy, and two that are not (one healthy, one without data).
HOUSES = {
    "nord": TenantPolicy(name="Nord", services=["enterprise-api"], critical=True),
    "sued": TenantPolicy(name="Süd", services=["smart-bav-portal"]),
    "west": TenantPolicy(name="West", services=["batch-processing"]),
    "mitte": TenantPolicy(name="Mitte", services=["enterprise-api"]),
    "langsam": TenantPolicy(name="Langsam"),
    "ost": TenantPolicy(name="Ost"),
    "probe": TenantPolicy(name="Probe"),
    "leer": TenantPolicy(name="Leer", services=["internal-tools"]),
}

# Input series (15 s steps, 10 minutes) and the level each house must show after 5 minutes.
SERIES = {
    # Nord: 3 % of its requests fail (warning above 1 %, critical above 5 %).
    f'{_REQ}_count{{tenant="nord",service="enterprise-api",http_response_status_code="200"}}': (
        "0+97x40"
    ),
    f'{_REQ}_count{{tenant="nord",service="enterprise-api",http_response_status_code="500"}}': (
        "0+3x40"
    ),
    # Langsam: P95 near 975 ms (warning above 500 ms).
    f'{_REQ}_bucket{{tenant="langsam",le="0.5"}}': "0+0x40",
    f'{_REQ}_bucket{{tenant="langsam",le="1"}}': "0+10x40",
    f'{_REQ}_bucket{{tenant="langsam",le="+Inf"}}': "0+10x40",
    # Süd: its portal is not scraped any more (critical).
    'up{job="portal",instance="a",service="smart-bav-portal"}': "0x40",
    # West: an outage alert fires on its batch service, which itself is up.
    'up{job="batch",instance="b",service="batch-processing"}': "1x40",
    'ALERTS{alertname="ServiceDown",alertstate="firing",severity="outage",'
    'service="batch-processing"}': "1x40",
    # Mitte shares the API with Nord: a target and an alert of another house don't count.
    'up{job="api",instance="c",service="enterprise-api"}': "1x40",
    'up{job="api",instance="d",service="enterprise-api",tenant="nord"}': "0x40",
    'ALERTS{alertname="Slow",alertstate="firing",severity="warning",service="enterprise-api",'
    'tenant="nord"}': "1x40",
    # Ost: API sync errors with the house (warning).
    'app_broker_sync_errors_total{tenant="ost",service="enterprise-api"}': "0+1x40",
    # Probe: its own HTTP probe fails (critical).
    'probe_success{job="blackbox-http",instance="https://probe.example",service="probe",'
    'tenant="probe"}': "0x40",
}
EXPECTED = {
    "nord": 2,  # own target down (critical) beats the 5xx warning
    "sued": 2,
    "west": 3,
    "mitte": 0,
    "langsam": 1,
    "ost": 1,
    "probe": 2,
    "leer": NO_DATA,
}


def _policy() -> Policy:
    return Policy(tenants=HOUSES)


@pytest.mark.skipif(shutil.which("promtool") is None, reason="needs promtool")
def test_each_house_shows_the_highest_level_that_applies_to_it(tmp_path: Path) -> None:
    policy = _policy()
    cases = [
        {
            "expr": tenant_health(policy, tenant_id),
            "eval_time": "5m",
            "exp_samples": [{"labels": "{}", "value": EXPECTED[tenant_id]}],
        }
        for tenant_id in HOUSES
    ]
    test = {
        "rule_files": [],
        "evaluation_interval": "15s",
        "tests": [
            {
                "interval": "15s",
                "input_series": [{"series": s, "values": v} for s, v in SERIES.items()],
                "promql_expr_test": cases,
            }
        ],
    }
    (tmp_path / "health.test.yml").write_text(yaml.safe_dump(test, allow_unicode=True))
    output = find_engines().test_rules(["health.test.yml"], tmp_path)
    assert "SUCCESS" in output


@pytest.mark.skipif(shutil.which("promtool") is None, reason="needs promtool")
def test_without_the_nord_5xx_errors_the_house_is_critical_only_through_its_own_target(
    tmp_path: Path,
) -> None:
    # The same series without Nord's own target: the 5xx rate alone gives a warning.
    series = {k: v for k, v in SERIES.items() if 'tenant="nord"}' not in k}
    test = {
        "rule_files": [],
        "tests": [
            {
                "interval": "15s",
                "input_series": [{"series": s, "values": v} for s, v in series.items()],
                "promql_expr_test": [
                    {
                        "expr": tenant_health(_policy(), "nord"),
                        "eval_time": "5m",
                        "exp_samples": [{"labels": "{}", "value": 1}],
                    }
                ],
            }
        ],
    }
    (tmp_path / "nord.test.yml").write_text(yaml.safe_dump(test))
    assert "SUCCESS" in find_engines().test_rules(["nord.test.yml"], tmp_path)


def test_the_status_panel_lists_every_house_of_the_policy_critical_ones_first() -> None:
    board = dashboards(_policy())["tenants"]
    status = board["panels"][0]
    assert status["type"] == "stat"
    legends = [t["legendFormat"] for t in status["targets"]]
    assert legends == ["Nord", "Langsam", "Leer", "Mitte", "Ost", "Probe", "Süd", "West"]
    assert all(t["instant"] for t in status["targets"])
    mapping = status["fieldConfig"]["defaults"]["mappings"][0]["options"]
    texts = {value: m["text"] for value, m in mapping.items()}
    assert texts == {
        "-1": "Keine Daten",
        "0": "OK",
        "1": "Warnung",
        "2": "Kritisch",
        "3": "Ausfall",
    }
    # The time series start below the status panel.
    below = status["gridPos"]["h"]
    assert min(p["gridPos"]["y"] for p in board["panels"][1:]) == below


def test_forty_two_houses_get_forty_two_statuses_and_the_panel_grows_with_them() -> None:
    houses = {f"haus-{i:02}": TenantPolicy(name=f"Haus {i:02}") for i in range(42)}
    board = dashboards(Policy(tenants=houses))["tenants"]
    status = board["panels"][0]
    assert len(status["targets"]) == 42
    assert len({t["refId"] for t in status["targets"]}) == 42
    assert status["gridPos"]["h"] >= 42 // 6 * 3
    assert len(panel_queries(board)) == 42 + 4


def test_a_policy_without_tenants_has_no_status_panel_but_keeps_the_time_series() -> None:
    board = dashboards(Policy(tenants={}))["tenants"]
    assert [p["type"] for p in board["panels"]] == ["timeseries"] * 4
    assert board["panels"][0]["gridPos"]["y"] == 0


def test_tenant_ids_and_services_are_quoted_and_matched_literally() -> None:
    houses = {'a"b.c': TenantPolicy(name="Quote", services=["enterprise-api"])}
    expr = tenant_health(Policy(tenants=houses), 'a"b.c')
    assert 'tenant="a\\"b.c"' in expr
    assert 'tenant=~"|a\\"b\\\\.c"' in expr
