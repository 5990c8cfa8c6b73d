"""Grafana files, rendered only (no Grafana here): checked against Grafana's published structure.

Provisioning (apiVersion 1): the keys Grafana's provisioning reads for a datasource and a
dashboard provider (grafana/grafana pkg/services/provisioning/{datasources,dashboards}), one
default datasource per organisation, uids Grafana accepts. Dashboards: the JSON model's basics
(uid, title, schemaVersion, panels with id, type, gridPos on the 24-column grid, targets).
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import yaml

from leitstand.alerting.dashboards import dashboards, provisioning
from leitstand.alerting.engine_config import Endpoints
from leitstand.alerting.render import build_files
from leitstand.policy.model import Policy
from leitstand.policy.tenants import TenantPolicy

DATASOURCE_KEYS = {
    "orgId", "orgName", "version", "name", "type", "access", "url", "user", "database",
    "basicAuth", "basicAuthUser", "withCredentials", "isDefault", "correlations", "jsonData",
    "secureJsonData", "editable", "uid",
}  # fmt: skip
PROVIDER_KEYS = {
    "name", "type", "orgId", "folder", "folderUid", "editable", "options", "disableDeletion",
    "updateIntervalSeconds", "allowUiUpdates",
}  # fmt: skip
PANEL_TYPES = {"timeseries", "stat", "table", "state-timeline", "gauge", "bargauge", "text"}
UID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
ENDPOINTS = Endpoints(leitstand_url="http://127.0.0.1:8080", credentials_file="/etc/am.token")


def datasource_problems(doc: dict[str, Any]) -> list[str]:
    problems = []
    if doc.get("apiVersion") != 1:
        problems.append("apiVersion must be 1")
    if unknown := set(doc) - {"apiVersion", "datasources", "deleteDatasources"}:
        problems.append(f"unknown top-level keys {sorted(unknown)}")
    sources = doc.get("datasources")
    if not isinstance(sources, list) or not sources:
        return [*problems, "datasources must be a non-empty list"]
    for ds in sources:
        name = ds.get("name")
        if unknown := set(ds) - DATASOURCE_KEYS:
            problems.append(f"{name}: keys Grafana does not read: {sorted(unknown)}")
        if not isinstance(name, str) or not name or not isinstance(ds.get("type"), str):
            problems.append(f"{name}: name and type are required strings")
        if ds.get("access", "proxy") not in ("proxy", "direct"):
            problems.append(f"{name}: access is proxy or direct")
        if not UID.match(str(ds.get("uid", ""))):
            problems.append(f"{name}: uid of 1-40 letters, digits, - and _")
        url = urlsplit(str(ds.get("url", "")))
        if url.scheme not in ("http", "https") or not url.netloc:
            problems.append(f"{name}: url must be an http(s) URL")
        if not isinstance(ds.get("jsonData", {}), dict):
            problems.append(f"{name}: jsonData is a mapping")
        if "secureJsonData" in ds:
            problems.append(f"{name}: no secrets in a rendered file")
    for field in ("name", "uid"):
        values = [ds.get(field) for ds in sources]
        if len(values) != len(set(values)):
            problems.append(f"datasource {field}s must be unique")
    orgs = [ds.get("orgId", 1) for ds in sources if ds.get("isDefault")]
    if len(orgs) != len(set(orgs)):
        problems.append("only one default datasource per organisation")
    return problems


def provider_problems(doc: dict[str, Any]) -> list[str]:
    problems = []
    if doc.get("apiVersion") != 1:
        problems.append("apiVersion must be 1")
    providers = doc.get("providers")
    if not isinstance(providers, list) or not providers:
        return [*problems, "providers must be a non-empty list"]
    for p in providers:
        if unknown := set(p) - PROVIDER_KEYS:
            problems.append(f"{p.get('name')}: keys Grafana does not read: {sorted(unknown)}")
        if p.get("type") != "file" or not str(p.get("options", {}).get("path", "")):
            problems.append(f"{p.get('name')}: a file provider needs options.path")
        if "folderUid" in p and not UID.match(str(p["folderUid"])):
            problems.append(f"{p.get('name')}: folderUid of 1-40 letters, digits, - and _")
        if not isinstance(p.get("updateIntervalSeconds", 10), int):
            problems.append(f"{p.get('name')}: updateIntervalSeconds is an integer")
    return problems


def _overlap(a: dict[str, int], b: dict[str, int]) -> bool:
    return (
        a["x"] < b["x"] + b["w"]
        and b["x"] < a["x"] + a["w"]
        and a["y"] < b["y"] + b["h"]
        and b["y"] < a["y"] + a["h"]
    )


def dashboard_problems(board: dict[str, Any]) -> list[str]:
    problems = []
    if not UID.match(str(board.get("uid", ""))):
        problems.append("uid of 1-40 letters, digits, - and _")
    if not isinstance(board.get("title"), str) or not board["title"]:
        problems.append("title is a non-empty string")
    if not isinstance(board.get("schemaVersion"), int) or board["schemaVersion"] < 36:
        problems.append("schemaVersion is an integer of a current Grafana (>= 36)")
    variables = {v["name"]: v for v in board.get("templating", {}).get("list", [])}
    panels = board.get("panels")
    if not isinstance(panels, list) or not panels:
        return [*problems, "panels is a non-empty list"]
    ids = [p.get("id") for p in panels]
    if len(ids) != len(set(ids)) or not all(isinstance(i, int) for i in ids):
        problems.append("panel ids are unique integers")
    for p in panels:
        where = f"panel {p.get('id')} ({p.get('title')})"
        if p.get("type") not in PANEL_TYPES:
            problems.append(f"{where}: unknown type {p.get('type')}")
        pos = p.get("gridPos", {})
        if not all(isinstance(pos.get(k), int) for k in ("h", "w", "x", "y")):
            problems.append(f"{where}: gridPos needs integer h, w, x, y")
            continue
        if pos["w"] < 1 or pos["h"] < 1 or pos["x"] < 0 or pos["y"] < 0 or pos["x"] + pos["w"] > 24:
            problems.append(f"{where}: gridPos outside the 24-column grid")
        targets = p.get("targets")
        if not isinstance(targets, list) or not targets:
            problems.append(f"{where}: targets is a non-empty list")
            continue
        refs = [t.get("refId") for t in targets]
        if len(refs) != len(set(refs)) or not all(isinstance(r, str) and r for r in refs):
            problems.append(f"{where}: refIds are unique strings")
        if not all(isinstance(t.get("expr"), str) and t["expr"] for t in targets):
            problems.append(f"{where}: every target has a PromQL expr")
        for ds in [p.get("datasource"), *(t.get("datasource") for t in targets)]:
            uid = str((ds or {}).get("uid", ""))
            name = uid.removeprefix("${").removesuffix("}")
            if uid.startswith("${") and variables.get(name, {}).get("type") != "datasource":
                problems.append(f"{where}: datasource {uid} is not a datasource variable")
    positions = [p["gridPos"] for p in panels if "gridPos" in p]
    for i, a in enumerate(positions):
        if any(_overlap(a, b) for b in positions[i + 1 :]):
            problems.append(f"panel {panels[i].get('id')} overlaps another")
    return problems


def _rendered() -> dict[str, str]:
    return build_files(Policy(), ENDPOINTS)


def test_the_rendered_datasources_and_provider_have_grafanas_structure() -> None:
    files = _rendered()
    sources = yaml.safe_load(files["grafana/provisioning/datasources/leitstand.yml"])
    provider = yaml.safe_load(files["grafana/provisioning/dashboards/leitstand.yml"])
    assert datasource_problems(sources) == []
    assert provider_problems(provider) == []
    by_type = {ds["type"]: ds for ds in sources["datasources"]}
    assert by_type["prometheus"]["url"] == ENDPOINTS.prometheus_url
    assert by_type["prometheus"]["isDefault"] is True
    assert by_type["alertmanager"]["jsonData"]["implementation"] == "prometheus"
    # The provider reads the folder the dashboards are rendered into (next to provisioning/).
    path = provider["providers"][0]["options"]["path"]
    boards = {rel for rel in files if rel.startswith(f"grafana/{path}/")}
    assert boards == {f"grafana/{path}/{stem}.json" for stem in Policy().observability.dashboards}


def test_every_rendered_dashboard_has_grafanas_json_model_basics() -> None:
    files = _rendered()
    boards = [json.loads(t) for rel, t in files.items() if rel.startswith("grafana/dashboards/")]
    assert len(boards) == len(Policy().observability.dashboards)
    for board in boards:
        assert dashboard_problems(board) == [], board["uid"]
    assert len({b["uid"] for b in boards}) == len(boards)


def test_the_tenants_dashboard_for_forty_two_houses_keeps_the_grid() -> None:
    houses = {f"haus-{i:02}": TenantPolicy(name=f"Haus {i:02}") for i in range(42)}
    board = dashboards(Policy(tenants=houses))["tenants"]
    assert dashboard_problems(board) == []


def test_the_checks_catch_what_grafana_would_refuse() -> None:
    board = dashboards(Policy())["tenants"]
    broken = json.loads(json.dumps(board))
    broken["uid"] = "x" * 41
    broken["panels"][1]["gridPos"]["y"] = 0  # onto the status panel
    broken["panels"][2]["targets"][0]["refId"] = ""
    problems = dashboard_problems(broken)
    assert any("uid" in p for p in problems)
    assert any("overlaps" in p for p in problems)
    assert any("refIds" in p for p in problems)
    sources = provisioning("http://p:9090", "/d", alertmanager_url="http://a:9093")
    doubled = sources["datasources/leitstand.yml"]
    doubled["datasources"][1]["isDefault"] = True
    doubled["datasources"][1]["password"] = "x"
    problems = datasource_problems(doubled)
    assert "only one default datasource per organisation" in problems
    assert any("password" in p for p in problems)


def test_the_alertmanager_url_and_the_scrape_interval_reach_the_datasources() -> None:
    files = provisioning(
        "https://prom.example:9090",
        "/var/lib/grafana/dashboards/leitstand",
        alertmanager_url="http://127.0.0.1:19093",
        scrape_interval=timedelta(seconds=30),
    )
    sources = {ds["type"]: ds for ds in files["datasources/leitstand.yml"]["datasources"]}
    assert sources["alertmanager"]["url"] == "http://127.0.0.1:19093"
    assert sources["prometheus"]["jsonData"]["timeInterval"] == "30s"
    provider = files["dashboards/leitstand.yml"]["providers"][0]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards/leitstand"
    assert (provider["disableDeletion"], provider["allowUiUpdates"]) == (True, False)
