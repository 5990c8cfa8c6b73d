"""Where a service's versions run and how traffic reaches them (leitstand's; the seed names none).

``deployment.releases.<service>`` describes, per environment, the two instance slots (the
"colours" of blue-green; for a canary the slot running the current version is the stable, the
other the canary), how a version is started in a slot (a command, a systemd unit or a rendered
Kubernetes manifest), its health endpoint, and the traffic router in front (HAProxy's runtime
API, an nginx upstream file, or rendered Kubernetes routing). Nothing is configured by default.

Placeholders in commands, paths and units: ``{service}``, ``{env}``, ``{slot}``, ``{version}``,
``{host}``, ``{port}``. Relative paths are relative to the leitstand home folder.

A rendered Kubernetes Deployment follows the seed's container table: CPU/memory requests and
limits (``resources``), a non-root user, a read-only root filesystem with ``writable_paths`` as
``emptyDir`` volumes; the numbers are leitstand's defaults (the seed names none).
"""

from __future__ import annotations

import posixpath
import re
from datetime import timedelta
from fractions import Fraction
from typing import Annotated, Literal, Self

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Discriminator,
    Field,
    StrictInt,
    StrictStr,
    Tag,
    model_validator,
)
from pydantic_core import PydanticCustomError

from leitstand.policy.base import Flag, PolicyModel, Rules, unique_list
from leitstand.policy.durations import PositiveDuration
from leitstand.policy.values import describe

__all__ = [
    "PLACEHOLDERS",
    "CommandStart",
    "ContainerResources",
    "HaproxyRouter",
    "HealthCheck",
    "Instance",
    "KubernetesRouter",
    "KubernetesStart",
    "MigrationSettings",
    "NginxRouter",
    "ReleaseAnalysis",
    "ReleaseEnvironment",
    "ReleaseTarget",
    "ResourceLimits",
    "ResourceRequests",
    "RouterSpec",
    "StartSpec",
    "SystemdStart",
    "quantity_value",
]

PLACEHOLDERS = frozenset({"service", "env", "slot", "version", "host", "port"})
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_ENV = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_HOST = re.compile(r"^[A-Za-z0-9.\-:\[\]]+$")
# A Kubernetes resource quantity (apimachinery resource.Quantity): a number with an optional
# binary (Ki..Ei), decimal (m, k..E) or exponent suffix. The exponent comes before the plain E;
# it has at most two digits, so 1e999999999 is refused before it is ever computed.
_QUANTITY = re.compile(
    r"^(?P<number>\d+(?:\.\d*)?|\.\d+)"
    r"(?P<suffix>[eE][+-]?\d{1,2}|Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$"
)
_SUFFIX = {
    "": Fraction(1),
    "m": Fraction(1, 1000),
    **{s: Fraction(1000**i) for i, s in enumerate("kMGTPE", start=1)},
    **{f"{s}i": Fraction(1024**i) for i, s in enumerate("KMGTPE", start=1)},
}
# Kubernetes refuses other user ids (runAsUser: 0 <= uid <= 2^31-1); 0 is root.
_MAX_UID = 2**31 - 1


def _placeholders(value: str, allowed: frozenset[str]) -> str:
    for name in _PLACEHOLDER.findall(value):
        if name not in allowed:
            choices = ", ".join("{" + p + "}" for p in sorted(allowed))
            raise PydanticCustomError(
                "placeholder", f"placeholders from {choices} only (got {{{name}}} in {value!r})"
            )
    return value


def _template(value: str) -> str:
    return _placeholders(value, PLACEHOLDERS)


def _apply_template(value: str) -> str:
    return _placeholders(value, PLACEHOLDERS | {"file"})


def _not_blank(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("text", "a non-empty text (got '')")
    return value


def _name(value: str) -> str:
    if not _NAME.match(value):
        raise PydanticCustomError(
            "name", f"a name of letters, digits, '.', '_' or '-' (got {describe(value)})"
        )
    return value


def _env_name(value: str) -> str:
    if not _ENV.match(value):
        raise PydanticCustomError(
            "env_name",
            f"the NAME of an environment variable such as APP_DATABASE_URL, never the secret "
            f"itself (got {describe(value)})",
        )
    return value


def _host(value: str) -> str:
    if not _HOST.match(value):
        raise PydanticCustomError("host", f"a host name or IP address (got {describe(value)})")
    return value


def _http_path(value: str) -> str:
    if not value.startswith("/"):
        raise PydanticCustomError("path", f"an HTTP path starting with '/' (got {describe(value)})")
    return value


Template = Annotated[str, AfterValidator(_not_blank), AfterValidator(_template)]
Name = Annotated[str, AfterValidator(_name)]
HttpPath = Annotated[str, AfterValidator(_http_path)]
Command = Annotated[list[Template], Field(min_length=1)]
# A command that gets a rendered manifest: ``{file}`` is its path.
ApplyCommand = Annotated[
    list[Annotated[str, AfterValidator(_not_blank), AfterValidator(_apply_template)]],
    Field(min_length=1),
]
PortNumber = Annotated[StrictInt, Field(ge=1, le=65535)]


def quantity_value(text: str) -> Fraction:
    """The exact value of a well-formed Kubernetes quantity (``100m`` -> 1/10, ``1Ki`` -> 1024)."""
    match = _QUANTITY.match(text)
    if match is None:
        raise ValueError(f"not a Kubernetes quantity: {text!r}")
    suffix = match.group("suffix") or ""
    if suffix[:1] in ("e", "E") and suffix != "E":
        scale = Fraction(10) ** int(suffix[1:])
    else:
        scale = _SUFFIX[suffix]
    return Fraction(match.group("number")) * scale


def _quantity_text(value: object) -> object:
    # YAML reads `cpu: 1` or `cpu: 0.5` as numbers; Kubernetes writes them as strings.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def _quantity(value: str) -> str:
    if not _QUANTITY.match(value):
        raise PydanticCustomError(
            "quantity",
            "a Kubernetes quantity such as 250m, 1, 0.5 (CPU) or 256Mi, 1Gi (memory) "
            f"(got {describe(value)})",
        )
    if quantity_value(value) <= 0:
        raise PydanticCustomError("quantity", f"a quantity above 0 (got {describe(value)})")
    return value


def _memory(value: str) -> str:
    if value.endswith("m"):
        raise PydanticCustomError(
            "quantity",
            f"bytes, e.g. 256Mi or 1Gi; 'm' means thousandths of a byte (got {describe(value)})",
        )
    return value


Cpu = Annotated[StrictStr, BeforeValidator(_quantity_text), AfterValidator(_quantity)]
Memory = Annotated[
    StrictStr,
    BeforeValidator(_quantity_text),
    AfterValidator(_quantity),
    AfterValidator(_memory),
]


def _writable_path(value: str) -> str:
    if (
        not value.startswith("/")
        or value.startswith("//")
        or value == "/"
        or posixpath.normpath(value) != value
        or ".." in value.split("/")
    ):
        raise PydanticCustomError(
            "path",
            f"an absolute, normalised directory path other than '/', e.g. /tmp "
            f"(got {describe(value)})",
        )
    return value


WritablePath = Annotated[StrictStr, AfterValidator(_writable_path)]


def _non_root_uid(value: int) -> int:
    if not 0 < value <= _MAX_UID:
        raise PydanticCustomError(
            "uid", f"a user id from 1 to {_MAX_UID}; 0 is root (got {describe(value)})"
        )
    return value


NonRootUid = Annotated[StrictInt, AfterValidator(_non_root_uid)]


class ResourceRequests(PolicyModel):
    """What the scheduler reserves for a container (leitstand's defaults)."""

    cpu: Cpu = "100m"
    memory: Memory = "256Mi"


class ResourceLimits(PolicyModel):
    """The most a container may use: the seed's "CPU/Memory-Limits für jeden Container"."""

    cpu: Cpu = "1"
    memory: Memory = "512Mi"


class ContainerResources(PolicyModel):
    """Requests and limits of a rendered container; a limit is never below its request."""

    requests: ResourceRequests = Field(default_factory=ResourceRequests)
    limits: ResourceLimits = Field(default_factory=ResourceLimits)

    @model_validator(mode="after")
    def _limits_cover_requests(self) -> Self:
        rules = Rules()
        for key in ("cpu", "memory"):
            request, limit = getattr(self.requests, key), getattr(self.limits, key)
            if quantity_value(limit) < quantity_value(request):
                rules.add(
                    f"limits.{key}",
                    f"at least requests.{key} ({request}) (got {limit})",
                    (f"requests.{key}", f"at most limits.{key} ({limit}) (got {request})"),
                )
        rules.check()
        return self


class CommandStart(PolicyModel):
    """Start a version as a background process (its PID file lives in the leitstand home)."""

    kind: Literal["command"] = "command"
    command: Command
    cwd: Template | None = None
    environment: dict[str, Template] = Field(default_factory=dict)
    # A path that exists for every released version (unknown versions are refused).
    artifact: Template | None = None
    stop_timeout: PositiveDuration = timedelta(seconds=10)


class SystemdStart(PolicyModel):
    """Start a version by (re)starting a systemd unit that reads the version from a file."""

    kind: Literal["systemd"]
    unit: Template  # e.g. enterprise-api@{slot}.service
    environment_file: Template  # written with LEITSTAND_VERSION=... before the restart
    systemctl: Template = "systemctl"
    artifact: Template | None = None
    timeout: PositiveDuration = timedelta(seconds=60)


class KubernetesStart(PolicyModel):
    """Render a Deployment per slot (and apply it when ``apply_command`` is set).

    The container gets ``resources``, runs as ``run_as_user`` (never root), without privilege
    escalation or capabilities, under the runtime's seccomp profile, and with a read-only root
    filesystem unless ``read_only_root_filesystem`` is false; ``writable_paths`` are mounted as
    ``emptyDir`` volumes (what the application may write, e.g. /tmp).
    """

    kind: Literal["kubernetes"]
    image: Template  # without the tag: the version is the tag
    namespace: Name = "default"
    replicas: Annotated[StrictInt, Field(ge=1)] = 2
    container_port: PortNumber = 8080
    output_dir: Template
    apply_command: ApplyCommand | None = None  # e.g. [kubectl, apply, -f, "{file}"]
    timeout: PositiveDuration = timedelta(seconds=60)
    resources: ContainerResources = Field(default_factory=ContainerResources)
    run_as_user: NonRootUid = 10001
    read_only_root_filesystem: Flag = True
    writable_paths: Annotated[list[WritablePath], AfterValidator(unique_list)] = Field(
        default_factory=lambda: ["/tmp"]  # noqa: S108 - an emptyDir volume, not the host's /tmp
    )


def _start_kind(value: object) -> str:
    kind = value.get("kind", "command") if isinstance(value, dict) else getattr(value, "kind", "")
    return kind if isinstance(kind, str) else "command"


StartSpec = Annotated[
    Annotated[CommandStart, Tag("command")]
    | Annotated[SystemdStart, Tag("systemd")]
    | Annotated[KubernetesStart, Tag("kubernetes")],
    Discriminator(_start_kind),
]


class HaproxyRouter(PolicyModel):
    """HAProxy's runtime API on its admin socket (``stats socket ... level admin``)."""

    kind: Literal["haproxy"]
    socket: Template
    backend: Name
    # The haproxy.cfg ``server-state-file``: saved after every change so a reload keeps it.
    state_file: Template | None = None
    timeout: PositiveDuration = timedelta(seconds=2)


class NginxRouter(PolicyModel):
    """An nginx upstream file leitstand owns: rewritten, ``nginx -t``, graceful reload."""

    kind: Literal["nginx"]
    config: Template  # the main nginx.conf that includes upstream_file
    upstream_file: Template
    upstream: Name
    binary: Template = "nginx"
    prefix: Template | None = None  # nginx -p
    keepalive: Annotated[StrictInt, Field(ge=0)] = 32
    timeout: PositiveDuration = timedelta(seconds=15)
    pid_file: Template | None = None  # default: the config's ``pid`` directive


class KubernetesRouter(PolicyModel):
    """Render a Service selector patch (blue-green) and a weighted HTTPRoute (canary)."""

    kind: Literal["kubernetes"]
    namespace: Name = "default"
    service: Name  # the Service clients use
    gateway: Name | None = None  # parent Gateway of the HTTPRoute (Gateway API)
    port: PortNumber = 80
    target_port: PortNumber = 8080
    output_dir: Template
    apply_command: ApplyCommand | None = None
    timeout: PositiveDuration = timedelta(seconds=60)


def _router_kind(value: object) -> str:
    kind = value.get("kind", "") if isinstance(value, dict) else getattr(value, "kind", "")
    return kind if isinstance(kind, str) else ""


RouterSpec = Annotated[
    Annotated[HaproxyRouter, Tag("haproxy")]
    | Annotated[NginxRouter, Tag("nginx")]
    | Annotated[KubernetesRouter, Tag("kubernetes")],
    Discriminator(_router_kind),
]


class Instance(PolicyModel):
    """One slot: where its version listens; ``server`` is the router's name for it."""

    host: Annotated[str, AfterValidator(_host)] = "127.0.0.1"
    port: PortNumber
    server: Name | None = None
    # Labels that select this slot's series in Prometheus (default: instance="host:port").
    metric_labels: dict[str, str] = Field(default_factory=dict)

    def server_name(self, slot: str) -> str:
        return self.server or slot

    def labels(self) -> dict[str, str]:
        return dict(self.metric_labels) or {"instance": f"{self.host}:{self.port}"}


class ReleaseEnvironment(PolicyModel):
    """A service in one environment: its router and exactly two instance slots."""

    router: RouterSpec
    instances: dict[str, Instance]

    @model_validator(mode="after")
    def _two_slots(self) -> Self:
        rules = Rules()
        if len(self.instances) != 2:
            rules.add(
                "instances",
                f"exactly two slots, e.g. blue and green (got {len(self.instances)})",
            )
        for slot in self.instances:
            if not _NAME.match(slot):
                rules.add(f"instances.{slot}", "a slot name of letters, digits, '.', '_' or '-'")
        servers = [i.server_name(s) for s, i in self.instances.items()]
        if len(set(servers)) != len(servers):
            rules.add("instances", f"two different router server names (got {servers})")
        addresses = [(i.host, i.port) for i in self.instances.values()]
        if len(set(addresses)) != len(addresses):
            rules.add("instances", "two different host:port addresses (got the same twice)")
        rules.check()
        return self


class HealthCheck(PolicyModel):
    """The health endpoint and how it is judged before and after traffic moves."""

    path: HttpPath = "/health"
    interval: PositiveDuration = timedelta(seconds=2)
    timeout: PositiveDuration = timedelta(seconds=2)
    passes: Annotated[StrictInt, Field(ge=1)] = 3  # consecutive passes before any traffic
    failures: Annotated[StrictInt, Field(ge=1)] = 3  # consecutive failures that roll back
    within: PositiveDuration = timedelta(minutes=2)  # a version not healthy by then fails
    smoke: list[HttpPath] = Field(default_factory=lambda: ["/"])  # must answer 2xx/3xx


class ReleaseAnalysis(PolicyModel):
    """Canary analysis: Prometheus, the monitoring metrics compared, the least evidence."""

    prometheus_url: str | None = None  # default: the local stack `leitstand up` manages
    error_rate_metric: str = "http_5xx_rate"  # a monitoring.metrics id (percent)
    latency_metric: str = "response_time_p95"  # a monitoring.metrics id (ms)
    min_requests: Annotated[StrictInt, Field(ge=1)] = 50  # fewer reaching the canary: inconclusive
    query_timeout: PositiveDuration = timedelta(seconds=5)


class MigrationSettings(PolicyModel):
    """The service's Alembic migrations, run before a new version starts."""

    url_env: Annotated[str, AfterValidator(_env_name)]  # holds the database URL
    alembic_config: Template  # path of alembic.ini
    snapshot_dir: Template | None = None  # default: <home>/releases/snapshots
    timeout: PositiveDuration = timedelta(minutes=10)


class ReleaseTarget(PolicyModel):
    """How a service is released: start, health, analysis, migrations, per environment."""

    start: StartSpec
    health: HealthCheck = Field(default_factory=HealthCheck)
    analysis: ReleaseAnalysis = Field(default_factory=ReleaseAnalysis)
    migrations: MigrationSettings | None = None
    environments: Annotated[dict[str, ReleaseEnvironment], Field(min_length=1)]
