"""The rendered OpenTelemetry Collector and Jaeger configurations (rendered only: no engine here).

Neither engine runs on these machines, so the files are checked against the structure their
documentation gives: a Collector configuration has the top-level sections receivers, processors,
exporters, connectors, extensions and service; component ids are ``type[/name]``; every pipeline
(traces, metrics, logs) names at least one receiver and one exporter, and everything it names is
defined; the extensions the service enables are defined; ``memory_limiter`` comes first among the
processors. Jaeger v2 reads the same format: its ``jaeger_storage`` extension defines the
backends that ``jaeger_query`` and ``jaeger_storage_exporter`` name, and Badger's ``ttl.spans``
and the batch timeout are Go durations.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
import yaml

from leitstand.policy import default_policy
from leitstand.policy.telemetry import CollectorPolicy, TelemetryPolicy
from leitstand.telemetry.render import COLLECTOR_FILE, JAEGER_FILE, render_files

_SECTIONS = {"receivers", "processors", "exporters", "connectors", "extensions", "service"}
_SERVICE_KEYS = {"extensions", "pipelines", "telemetry"}
_PIPELINE_KEYS = {"receivers", "processors", "exporters"}
_COMPONENT_ID = re.compile(r"^[a-z][a-z0-9_]*(/[^/\s]+)?$")
_PIPELINE_ID = re.compile(r"^(traces|metrics|logs)(/[^/\s]+)?$")
_GO_DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$")
_HOST_PORT = re.compile(r"^[A-Za-z0-9.-]+:\d{1,5}$")


def collector_problems(config: Any) -> list[str]:
    """Structural rules of an OpenTelemetry Collector configuration (from its documentation)."""
    problems: list[str] = []
    if not isinstance(config, dict):
        return ["the configuration is not a mapping"]
    problems += [f"unknown top-level section {key!r}" for key in set(config) - _SECTIONS]
    for section in _SECTIONS - {"service"}:
        for component_id, settings in (config.get(section) or {}).items():
            if not _COMPONENT_ID.match(component_id):
                problems.append(f"{section}: {component_id!r} is not a component id type[/name]")
            if settings is not None and not isinstance(settings, dict):
                problems.append(f"{section}.{component_id}: settings must be a mapping")
    service = config.get("service")
    if not isinstance(service, dict):
        return [*problems, "no service section"]
    problems += [f"service: unknown key {key!r}" for key in set(service) - _SERVICE_KEYS]
    for name in service.get("extensions", []):
        if name not in (config.get("extensions") or {}):
            problems.append(f"service.extensions: {name!r} is not defined under extensions")
    pipelines = service.get("pipelines") or {}
    if not pipelines:
        problems.append("service.pipelines: at least one pipeline")
    for pipeline_id, pipeline in pipelines.items():
        if not _PIPELINE_ID.match(pipeline_id):
            problems.append(f"service.pipelines: {pipeline_id!r} is not traces, metrics or logs")
        problems += [
            f"service.pipelines.{pipeline_id}: unknown key {key!r}"
            for key in set(pipeline) - _PIPELINE_KEYS
        ]
        for kind in ("receivers", "exporters"):
            if not pipeline.get(kind):
                problems.append(f"service.pipelines.{pipeline_id}: at least one of {kind}")
        for kind in _PIPELINE_KEYS:
            for name in pipeline.get(kind, []):
                if name not in (config.get(kind) or {}):
                    problems.append(
                        f"service.pipelines.{pipeline_id}.{kind}: {name!r} is not defined"
                    )
        processors = pipeline.get("processors", [])
        if "memory_limiter" in processors and processors[0] != "memory_limiter":
            problems.append(f"service.pipelines.{pipeline_id}: memory_limiter must come first")
    for receiver in (config.get("receivers") or {}).values():
        for protocol in ((receiver or {}).get("protocols") or {}).values():
            endpoint = (protocol or {}).get("endpoint")
            if endpoint is not None and not _HOST_PORT.match(endpoint):
                problems.append(f"receiver endpoint {endpoint!r} is not host:port")
    return problems


def jaeger_problems(config: dict[str, Any]) -> list[str]:
    """Jaeger v2's own rules on top of the Collector's."""
    problems = collector_problems(config)
    extensions = config.get("extensions") or {}
    backends = (extensions.get("jaeger_storage") or {}).get("backends") or {}
    if not backends:
        problems.append("jaeger_storage: at least one backend")
    query_store = ((extensions.get("jaeger_query") or {}).get("storage") or {}).get("traces")
    if query_store not in backends:
        problems.append(f"jaeger_query.storage.traces: {query_store!r} is not a backend")
    for exporter in (config.get("exporters") or {}).values():
        if "trace_storage" in (exporter or {}) and exporter["trace_storage"] not in backends:
            problems.append(f"trace_storage {exporter['trace_storage']!r} is not a backend")
    for name, backend in backends.items():
        badger = backend.get("badger")
        if badger is None:
            continue
        ttl = (badger.get("ttl") or {}).get("spans", "72h")
        if not _GO_DURATION.match(str(ttl)):
            problems.append(f"{name}: ttl.spans {ttl!r} is not a Go duration")
        for key, path in (badger.get("directories") or {}).items():
            if not str(path).startswith("/"):
                problems.append(f"{name}: directories.{key} is not absolute")
    return problems


def _parsed(policy: TelemetryPolicy) -> tuple[dict[str, Any], dict[str, Any]]:
    files = render_files(policy)
    assert set(files) == {COLLECTOR_FILE, JAEGER_FILE}
    for text in files.values():
        assert text.startswith("# Generated by leitstand from the policy (telemetry)")
        assert "# Rendered only" in text
    return yaml.safe_load(files[COLLECTOR_FILE]), yaml.safe_load(files[JAEGER_FILE])


def test_the_default_configurations_follow_the_documented_structure() -> None:
    collector, jaeger = _parsed(default_policy().telemetry)
    assert collector_problems(collector) == []
    assert jaeger_problems(jaeger) == []


def test_the_collector_receives_otlp_batches_and_exports_to_jaeger() -> None:
    collector, _ = _parsed(TelemetryPolicy())
    assert collector["receivers"]["otlp"]["protocols"] == {
        "grpc": {"endpoint": "0.0.0.0:4317"},
        "http": {"endpoint": "0.0.0.0:4318"},
    }
    assert collector["service"]["pipelines"] == {
        "traces": {
            "receivers": ["otlp"],
            "processors": ["memory_limiter", "batch"],
            "exporters": ["otlp/jaeger"],
        }
    }
    assert collector["exporters"]["otlp/jaeger"]["endpoint"] == "jaeger:4317"
    assert _GO_DURATION.match(collector["processors"]["batch"]["timeout"])


def test_jaeger_keeps_spans_on_disk_for_the_policys_retention() -> None:
    policy = TelemetryPolicy(
        collector=CollectorPolicy(
            jaeger_otlp_endpoint="traces.internal:4317",
            jaeger_data_dir="/srv/jaeger/",
            retention=timedelta(days=30),
        )
    )
    collector, jaeger = _parsed(policy)
    assert collector["exporters"]["otlp/jaeger"]["endpoint"] == "traces.internal:4317"
    (backend,) = jaeger["extensions"]["jaeger_storage"]["backends"].values()
    assert backend["badger"] == {
        "directories": {"keys": "/srv/jaeger/keys", "values": "/srv/jaeger/values"},
        "ephemeral": False,
        "ttl": {"spans": "720h"},
    }
    assert jaeger["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"] == "0.0.0.0:4317"
    assert jaeger["extensions"]["jaeger_query"]["http"]["endpoint"] == "0.0.0.0:16686"
    assert jaeger_problems(jaeger) == []


@pytest.mark.parametrize(
    ("broken", "problem"),
    [
        (
            {"service": {"pipelines": {"traces": {"receivers": ["otlp"]}}}},
            "at least one of exporters",
        ),
        (
            {"service": {"pipelines": {"traces": {"receivers": ["zipkin"], "exporters": ["x"]}}}},
            "'zipkin' is not defined",
        ),
        ({"service": {"pipelines": {"spans": {}}}}, "is not traces, metrics or logs"),
        ({"pipelines": {}}, "unknown top-level section 'pipelines'"),
        ({"service": {"extensions": ["pprof"], "pipelines": {}}}, "'pprof' is not defined"),
    ],
)
def test_the_structural_rules_catch_broken_configurations(
    broken: dict[str, Any], problem: str
) -> None:
    # The rules themselves are tested, so that a passing render means something.
    assert any(problem in found for found in collector_problems(broken)), collector_problems(broken)


def test_a_jaeger_query_on_an_undefined_store_is_caught() -> None:
    _, jaeger = _parsed(TelemetryPolicy())
    jaeger["extensions"]["jaeger_query"]["storage"]["traces"] = "elsewhere"
    assert "jaeger_query.storage.traces: 'elsewhere' is not a backend" in jaeger_problems(jaeger)
