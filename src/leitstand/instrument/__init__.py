"""Make a customer's Python app export exactly the metrics leitstand's rules and dashboards use.

    from leitstand.instrument import AppMetrics, PrometheusMiddleware
    metrics = AppMetrics(service="enterprise-api")
    app = PrometheusMiddleware(app, metrics)          # ASGI (FastAPI, Starlette)
    app = WSGIMiddleware(app, metrics)                # WSGI (Flask, Django)
    metrics.failed_login(client_ip)                   # pseudonymised, never the raw IP

The metric names and labels are the contract documented in docs/metrics.md.

Traces: both middlewares make an OpenTelemetry server span per request, continuing an incoming
``traceparent``. Give them the tracer provider of the policy's ``telemetry`` section (OTLP
exporter, sampling) and add ``add_trace_ids`` to the service's structlog processors:

    tracing = tracer_provider(policy.telemetry, service_name="enterprise-api")
    app = PrometheusMiddleware(app, metrics, tracer_provider=tracing)
    structlog.configure(processors=[..., add_trace_ids, ..., JSONRenderer()])
    tracing.shutdown()                                # at exit: sends what is queued

Log lines: ``LogPseudonymiser`` turns user names, e-mail and IP addresses into keyed pseudonyms
(``logs.pseudonym_key`` and ``logs.pseudonymise_fields`` of the policy); put it into the
service's structlog processors before the renderer:

    key = load_key("env:LOG_PSEUDONYM_KEY", home=Path("."))
    pseudonymise = LogPseudonymiser(key, policy.logs.pseudonymise_fields)
    structlog.configure(processors=[..., pseudonymise, JSONRenderer()])

Shipping: ``Shipper`` sends each rendered line to rsyslog (RFC 5424 over TCP, MSGID = the log
type, never blocking); hand it every line the renderer makes (docs/logs.md):

    shipper = Shipper("127.0.0.1", 10514)
    render = JSONRenderer()
    def ship(logger, method, event):
        line = render(logger, method, event)
        shipper.offer(line, event)
        return line
    structlog.configure(processors=[..., pseudonymise, ship])
    shipper.close()                                   # at exit: sends what is queued
"""

from __future__ import annotations

from leitstand.instrument.asgi import PrometheusMiddleware
from leitstand.instrument.metrics import AppMetrics, Pseudonymiser
from leitstand.instrument.wsgi import WSGIMiddleware
from leitstand.logs.pseudonym import LogPseudonymiser, load_key, pseudonym_of
from leitstand.logs.shipping import Shipper
from leitstand.telemetry.provider import tracer_provider
from leitstand.telemetry.spans import add_trace_ids

__all__ = [
    "AppMetrics",
    "LogPseudonymiser",
    "PrometheusMiddleware",
    "Pseudonymiser",
    "Shipper",
    "WSGIMiddleware",
    "add_trace_ids",
    "load_key",
    "pseudonym_of",
    "tracer_provider",
]
