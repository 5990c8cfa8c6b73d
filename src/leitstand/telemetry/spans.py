"""Server spans per HTTP request and trace ids in log lines (OpenTelemetry API, no SDK).

A span is named and labelled with the route template (``GET /api/v1/incidents/{incident_id}``),
never with the raw path: paths carry user names and ids. A request without a matched route is
named by its method alone.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

__all__ = ["PROPAGATED_HEADERS", "add_trace_ids", "finish_server_span", "server_span"]

# W3C Trace Context only: the headers a continued trace arrives with.
_PROPAGATOR = TraceContextTextMapPropagator()
PROPAGATED_HEADERS = frozenset(_PROPAGATOR.fields)


def add_trace_ids(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> Any:
    """structlog processor: ``trace_id`` (32 hex) and ``span_id`` (16 hex) of the current span."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event.setdefault("trace_id", trace.format_trace_id(context.trace_id))
        event.setdefault("span_id", trace.format_span_id(context.span_id))
    return event


@contextmanager
def server_span(tracer: Tracer, method: str, headers: Mapping[str, str]) -> Iterator[Span]:
    """A current SERVER span for one request, child of the ``traceparent`` in ``headers``.

    ``headers`` maps lower-case header names to values (only the trace context ones are read).
    An exception leaving the block is recorded on the span, which is then marked as an error.
    """
    parent = _PROPAGATOR.extract(headers)
    with tracer.start_as_current_span(
        method,
        context=parent,
        kind=SpanKind.SERVER,
        attributes={"http.request.method": method},
    ) as span:
        yield span


def finish_server_span(span: Span, *, method: str, route: str | None, status: int) -> None:
    """Name the span after its route template and record the response status."""
    if route is not None:
        span.update_name(f"{method} {route}")
        span.set_attribute("http.route", route)
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR))
