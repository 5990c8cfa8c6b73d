"""The policy's `telemetry` section: defaults, overrides in leitstand.yaml, clear errors."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from textwrap import dedent

from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from leitstand.errors import Issue
from leitstand.policy import default_policy, load_policy, validate_policy_file
from leitstand.policy.telemetry import TelemetryPolicy
from leitstand.telemetry.provider import tracer_provider


def issues_in(tmp_path: Path, text: str) -> list[Issue]:
    path = tmp_path / "leitstand.yaml"
    path.write_text(dedent(text).lstrip("\n"), encoding="utf-8")
    return validate_policy_file(path)


def test_defaults_make_spans_but_export_nothing() -> None:
    telemetry = default_policy().telemetry
    assert telemetry.traces is True
    assert telemetry.endpoint is None and telemetry.exports is False
    assert telemetry.service_name == "leitstand"
    assert telemetry.sampling_ratio == 1.0
    assert telemetry.collector.jaeger_otlp_endpoint == "jaeger:4317"
    assert telemetry.collector.retention == timedelta(days=7)


def test_every_value_can_be_overridden_in_leitstand_yaml(tmp_path: Path) -> None:
    path = tmp_path / "leitstand.yaml"
    path.write_text(
        dedent(
            """
            telemetry:
              endpoint: https://otel.example.internal:4318
              service_name: leitstand-prod
              sampling_ratio: 0.25
              export_timeout: 5s
              collector:
                jaeger_otlp_endpoint: traces.example.internal:4317
                retention: 30d
            """
        ).lstrip("\n"),
        encoding="utf-8",
    )
    telemetry = load_policy(path).telemetry
    # A base URL gets OTLP/HTTP's standard traces path.
    assert telemetry.endpoint == "https://otel.example.internal:4318/v1/traces"
    assert telemetry.exports is True
    assert telemetry.service_name == "leitstand-prod"
    assert telemetry.sampling_ratio == 0.25
    assert telemetry.export_timeout == timedelta(seconds=5)
    assert telemetry.collector.jaeger_otlp_endpoint == "traces.example.internal:4317"
    assert telemetry.collector.retention == timedelta(days=30)
    assert telemetry.collector.otlp_http_listen == "0.0.0.0:4318"  # the rest keeps its default


def test_a_full_traces_url_is_kept_as_written() -> None:
    telemetry = TelemetryPolicy.model_validate(
        {"endpoint": "http://collector:4318/otlp/v1/traces/"}
    )
    assert telemetry.endpoint == "http://collector:4318/otlp/v1/traces"


def test_mistakes_are_reported_with_path_line_and_what_was_expected(tmp_path: Path) -> None:
    issues = issues_in(
        tmp_path,
        """
        telemetry:
          traces: "yes"
          endpoint: collector:4318
          service_name: leitstand prod
          sampling_ratio: 1.5
          collector:
            jaeger_otlp_endpoint: jaeger
            jaeger_data_dir: var/lib/jaeger
            retention: 0s
        """,
    )
    found = {issue.path: (issue.line, issue.message) for issue in issues}
    assert set(found) == {
        "telemetry.traces",
        "telemetry.endpoint",
        "telemetry.service_name",
        "telemetry.sampling_ratio",
        "telemetry.collector.jaeger_otlp_endpoint",
        "telemetry.collector.jaeger_data_dir",
        "telemetry.collector.retention",
    }, issues
    assert found["telemetry.endpoint"] == (
        3,
        "an http:// or https:// URL of an OTLP/HTTP receiver, like http://collector:4318 "
        "(got 'collector:4318')",
    )
    assert found["telemetry.sampling_ratio"] == (
        5,
        "a ratio between 0 and 1, like 0.25 for a quarter (got 1.5)",
    )
    assert "letters, digits" in found["telemetry.service_name"][1]
    assert "(got 'leitstand prod')" in found["telemetry.service_name"][1]
    assert found["telemetry.collector.jaeger_otlp_endpoint"][1] == (
        "host:port, like 0.0.0.0:4318 or jaeger:4317 (got 'jaeger')"
    )
    assert "absolute directory" in found["telemetry.collector.jaeger_data_dir"][1]


def test_urls_with_credentials_or_bad_ports_are_refused(tmp_path: Path) -> None:
    (cred,) = issues_in(tmp_path, "telemetry:\n  endpoint: http://u:pw@collector:4318\n")
    assert cred.path == "telemetry.endpoint" and "without credentials" in cred.message
    (port,) = issues_in(tmp_path, "telemetry:\n  endpoint: http://collector:99999\n")
    assert "port between 1 and 65535" in port.message
    (ratio,) = issues_in(tmp_path, "telemetry:\n  sampling_ratio: half\n")
    assert ratio.message == "a number between 0 and 1 (got 'half')"


def test_a_misspelt_key_gets_a_suggestion(tmp_path: Path) -> None:
    (issue,) = issues_in(tmp_path, "telemetry:\n  sampling_rate: 0.5\n")
    assert issue.path == "telemetry.sampling_rate"
    assert "did you mean 'sampling_ratio'?" in issue.message


def test_the_tracer_provider_follows_the_policy() -> None:
    assert tracer_provider(TelemetryPolicy(traces=False)) is None

    local = tracer_provider(TelemetryPolicy(), service_version="1.2.3")
    assert local is not None
    assert local.resource.attributes[SERVICE_NAME] == "leitstand"
    assert local.resource.attributes[SERVICE_VERSION] == "1.2.3"
    # No endpoint: spans are made (their ids reach the logs) but nothing is exported.
    assert local._active_span_processor._span_processors == ()
    local.shutdown()

    exporting = tracer_provider(
        TelemetryPolicy(endpoint="http://127.0.0.1:9/v1/traces", sampling_ratio=0.5),
        service_name="shop",
    )
    assert exporting is not None
    assert exporting.resource.attributes[SERVICE_NAME] == "shop"
    (processor,) = exporting._active_span_processor._span_processors
    assert isinstance(processor, BatchSpanProcessor)
    assert "TraceIdRatioBased{0.5}" in exporting.sampler.get_description()
    exporting.shutdown()
