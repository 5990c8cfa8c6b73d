"""OpenTelemetry traces of leitstand and of the services using ``leitstand.instrument``.

Not from the seed (its "Observability Stack" names tracing without details). With ``traces: true``
(the default) every request gets a span: its trace id is in every log line and an incoming W3C
``traceparent`` is continued. Spans leave the process only when ``endpoint`` names an OTLP/HTTP
receiver (the OpenTelemetry Collector); with no endpoint (the default) nothing is exported.
``collector`` holds what the rendered production configurations (Collector and Jaeger) need.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, PlainValidator
from pydantic_core import PydanticCustomError

from leitstand.policy.base import Flag, PolicyModel
from leitstand.policy.durations import PositiveDuration
from leitstand.policy.values import describe

__all__ = ["CollectorPolicy", "TelemetryPolicy"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_HOST_PORT = re.compile(r"^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9A-Fa-f:]+\]:\d{1,5}$")
_OTLP_TRACES_PATH = "/v1/traces"


def _endpoint(value: object) -> str | None:
    # The OTLP/HTTP traces URL; a bare base URL gets the standard path /v1/traces.
    if value is None:
        return None
    expected = "an http:// or https:// URL of an OTLP/HTTP receiver, like http://collector:4318"
    if not isinstance(value, str):
        raise PydanticCustomError("url", f"{expected} (got {describe(value)})")
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PydanticCustomError("url", f"{expected} (got {describe(value)})")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise PydanticCustomError(
            "url", f"{expected}, without credentials, query or fragment (got {describe(value)})"
        )
    try:
        _ = parts.port  # a port out of range raises here
    except ValueError:
        raise PydanticCustomError(
            "url", f"{expected}, with a port between 1 and 65535 (got {describe(value)})"
        ) from None
    path = parts.path.rstrip("/")
    if not path:
        path = _OTLP_TRACES_PATH
    return f"{parts.scheme}://{parts.netloc}{path}"


def _ratio(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PydanticCustomError("number", f"a number between 0 and 1 (got {describe(value)})")
    if not 0 <= value <= 1:
        raise PydanticCustomError(
            "number", f"a ratio between 0 and 1, like 0.25 for a quarter (got {value})"
        )
    return float(value)


def _service_name(value: object) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise PydanticCustomError(
            "name",
            "a service name of letters, digits, '.', '_' and '-' (at most 100 characters) "
            f"(got {describe(value)})",
        )
    return value


def _host_port(value: object) -> str:
    if not isinstance(value, str) or not _HOST_PORT.match(value):
        raise PydanticCustomError(
            "address", f"host:port, like 0.0.0.0:4318 or jaeger:4317 (got {describe(value)})"
        )
    if not 1 <= int(value.rsplit(":", 1)[1]) <= 65535:
        raise PydanticCustomError("address", f"a port between 1 and 65535 (got {describe(value)})")
    return value


def _absolute_path(value: object) -> str:
    if not isinstance(value, str) or not value.startswith("/") or "\n" in value:
        raise PydanticCustomError(
            "path", f"an absolute directory, like /var/lib/jaeger (got {describe(value)})"
        )
    return value.rstrip("/") or "/"


OtlpEndpoint = Annotated[str | None, PlainValidator(_endpoint)]
Ratio = Annotated[float, PlainValidator(_ratio)]
ServiceName = Annotated[str, PlainValidator(_service_name)]
HostPort = Annotated[str, PlainValidator(_host_port)]
Directory = Annotated[str, PlainValidator(_absolute_path)]


class CollectorPolicy(PolicyModel):
    """The production tracing stack as rendered: Collector (OTLP in, batch) -> Jaeger (Badger)."""

    # Where the Collector's OTLP receiver listens (gRPC and HTTP).
    otlp_grpc_listen: HostPort = "0.0.0.0:4317"
    otlp_http_listen: HostPort = "0.0.0.0:4318"
    # Where the Collector sends spans: Jaeger's OTLP gRPC receiver.
    jaeger_otlp_endpoint: HostPort = "jaeger:4317"
    # Jaeger: its OTLP gRPC receiver, its UI and query API, its storage (Badger on local disk).
    jaeger_otlp_listen: HostPort = "0.0.0.0:4317"
    jaeger_query_listen: HostPort = "0.0.0.0:16686"
    jaeger_data_dir: Directory = "/var/lib/jaeger"
    # How long Jaeger keeps spans.
    retention: PositiveDuration = timedelta(days=7)


class TelemetryPolicy(PolicyModel):
    """OpenTelemetry traces: spans per request, exported over OTLP/HTTP when an endpoint is set."""

    traces: Flag = True
    # OTLP/HTTP traces URL (http://collector:4318 means http://collector:4318/v1/traces);
    # None: spans are made (trace ids in logs) but never exported.
    endpoint: OtlpEndpoint = None
    service_name: ServiceName = "leitstand"
    # Share of new traces that are recorded and exported; a continued trace follows its parent.
    sampling_ratio: Ratio = 1.0
    export_timeout: PositiveDuration = timedelta(seconds=10)
    collector: CollectorPolicy = Field(default_factory=CollectorPolicy)

    @property
    def exports(self) -> bool:
        """Whether spans leave the process."""
        return self.traces and self.endpoint is not None
