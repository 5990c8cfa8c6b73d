"""OpenTelemetry traces of leitstand and of the services using ``leitstand.instrument``.

- ``leitstand.telemetry.spans``: server spans that continue a W3C ``traceparent`` and the structlog
  processor that puts ``trace_id``/``span_id`` into every log line (OpenTelemetry API only).
- ``leitstand.telemetry.provider``: the SDK tracer provider from the policy's ``telemetry``
  section (sampling, OTLP/HTTP exporter).
- ``leitstand.telemetry.render``: the production OpenTelemetry Collector and Jaeger configurations.

Nothing is imported here, so that reading log context does not load the SDK or the exporter.
"""
