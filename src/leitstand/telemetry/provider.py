"""The OpenTelemetry SDK tracer provider from the policy's ``telemetry`` section.

Sampling is parent-based: a continued trace keeps its caller's decision, a new one is recorded
with ``sampling_ratio``. Spans are exported in batches over OTLP/HTTP (protobuf) to ``endpoint``;
without an endpoint spans are still made (their ids reach the logs) but never leave the process.
The provider is not made global: leitstand passes it to its middleware, a service passes it to
``leitstand.instrument``'s middleware (or sets it global itself). Call ``shutdown()`` on the way
out to send what is still queued.
"""

from __future__ import annotations

from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from leitstand.policy.telemetry import TelemetryPolicy

__all__ = ["tracer_provider"]


def tracer_provider(
    policy: TelemetryPolicy,
    *,
    service_name: str | None = None,
    service_version: str | None = None,
) -> TracerProvider | None:
    """The SDK tracer provider the policy asks for, or None when traces are off.

    ``service_name`` overrides the policy's (a service using ``leitstand.instrument`` names
    itself; leitstand uses the policy's, ``leitstand`` by default).
    """
    if not policy.traces:
        return None
    attributes: dict[str, str] = {SERVICE_NAME: service_name or policy.service_name}
    if service_version:
        attributes[SERVICE_VERSION] = service_version
    provider = TracerProvider(
        resource=Resource.create(attributes),
        sampler=ParentBased(TraceIdRatioBased(policy.sampling_ratio)),
        shutdown_on_exit=False,
    )
    if policy.endpoint is not None:
        # Imported only when spans are exported: the exporter brings protobuf and requests.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(
            endpoint=policy.endpoint, timeout=policy.export_timeout.total_seconds()
        )
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider
