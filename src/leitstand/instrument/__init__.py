"""Make a customer's Python app export exactly the metrics leitstand's rules and dashboards use.

    from leitstand.instrument import AppMetrics, PrometheusMiddleware
    metrics = AppMetrics(service="enterprise-api")
    app = PrometheusMiddleware(app, metrics)          # ASGI (FastAPI, Starlette)
    app = WSGIMiddleware(app, metrics)                # WSGI (Flask, Django)
    metrics.failed_login(client_ip)                   # pseudonymised, never the raw IP

The metric names and labels are the contract documented in docs/metrics.md.
"""

from __future__ import annotations

from leitstand.instrument.asgi import PrometheusMiddleware
from leitstand.instrument.metrics import AppMetrics, Pseudonymiser
from leitstand.instrument.wsgi import WSGIMiddleware

__all__ = ["AppMetrics", "PrometheusMiddleware", "Pseudonymiser", "WSGIMiddleware"]
