"""The engines behind one service in one environment, built from the policy.

``RuntimeFactory.get(service, env)`` turns ``deployment.releases.<service>.environments.<env>``
into a router and a starter; everything else in the domain talks to those two Protocols.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from leitstand.errors import Issue, ValidationError
from leitstand.policy.model import Policy
from leitstand.policy.releases import (
    CommandStart,
    ReleaseEnvironment,
    ReleaseTarget,
    SystemdStart,
)
from leitstand.policy.releases import (
    HaproxyRouter as HaproxySpec,
)
from leitstand.policy.releases import (
    KubernetesRouter as KubernetesSpec,
)
from leitstand.policy.releases import (
    NginxRouter as NginxSpec,
)
from leitstand.releases.instances import (
    CommandStarter,
    KubernetesStarter,
    SlotContext,
    Starter,
    SystemdStarter,
    fill,
)
from leitstand.releases.routers import TrafficRouter
from leitstand.releases.routers.haproxy import HaproxyRouter
from leitstand.releases.routers.kubernetes import KubernetesRouter
from leitstand.releases.routers.nginx import NginxRouter
from leitstand.validators import check_service

__all__ = ["Runtime", "RuntimeFactory"]


@dataclass(frozen=True, slots=True)
class Runtime:
    """Router, starter and instance addresses of one service in one environment."""

    service: str
    env: str
    target: ReleaseTarget
    environment: ReleaseEnvironment
    router: TrafficRouter
    starter: Starter

    @property
    def slots(self) -> list[str]:
        return list(self.environment.instances)

    def other(self, slot: str) -> str:
        return next(s for s in self.slots if s != slot)

    def base_url(self, slot: str) -> str:
        instance = self.environment.instances[slot]
        host = f"[{instance.host}]" if ":" in instance.host else instance.host
        return f"http://{host}:{instance.port}"

    def health_url(self, slot: str) -> str:
        return self.base_url(slot) + self.target.health.path


class RuntimeFactory:
    """Builds (and caches) the runtime of each service and environment from the policy."""

    def __init__(
        self, *, policy: Policy, home: Path, environ: Mapping[str, str] | None = None
    ) -> None:
        self.policy = policy
        self.home = home
        self.environ = dict(os.environ if environ is None else environ)
        self._cache: dict[tuple[str, str], Runtime] = {}

    def target(self, service: str) -> ReleaseTarget:
        releases = self.policy.deployment.releases
        return releases[check_service(service, releases, where="deployment.releases")]

    def get(self, service: str, env: str) -> Runtime:
        key = (service, env)
        if key not in self._cache:
            target = self.target(service)
            if env not in target.environments:
                choices = ", ".join(target.environments)
                raise ValidationError(
                    [Issue("env", f"one of {choices} for {service} (got {env!r})")]
                )
            self._cache[key] = self._build(service, env, target)
        return self._cache[key]

    def _path(self, template: str, service: str, env: str) -> str:
        values = {"service": service, "env": env}
        path = Path(fill(template, values)).expanduser()
        return str(path if path.is_absolute() else self.home / path)

    def _build(self, service: str, env: str, target: ReleaseTarget) -> Runtime:
        environment = target.environments[env]
        instances = environment.instances
        ctx = SlotContext(service=service, env=env, instances=instances, home=self.home)
        starter: Starter
        start = target.start
        if isinstance(start, CommandStart):
            state_dir = self.home / "releases" / service / env
            starter = CommandStarter(start, ctx=ctx, state_dir=state_dir, environ=self.environ)
        elif isinstance(start, SystemdStart):
            starter = SystemdStarter(start, ctx=ctx)
        else:
            starter = KubernetesStarter(start, ctx=ctx)
        spec = environment.router
        router: TrafficRouter
        if isinstance(spec, HaproxySpec):
            router = HaproxyRouter(
                socket_path=self._path(spec.socket, service, env),
                backend=spec.backend,
                servers={slot: i.server_name(slot) for slot, i in instances.items()},
                state_file=self._path(spec.state_file, service, env) if spec.state_file else None,
                timeout=spec.timeout.total_seconds(),
            )
        elif isinstance(spec, NginxSpec):
            router = NginxRouter(
                config=self._path(spec.config, service, env),
                upstream_file=self._path(spec.upstream_file, service, env),
                upstream=spec.upstream,
                addresses={slot: f"{i.host}:{i.port}" for slot, i in instances.items()},
                binary=spec.binary,
                prefix=self._path(spec.prefix, service, env) if spec.prefix else None,
                keepalive=spec.keepalive,
                timeout=spec.timeout.total_seconds(),
                pid_file=self._path(spec.pid_file, service, env) if spec.pid_file else None,
            )
        else:
            assert isinstance(spec, KubernetesSpec)
            router = KubernetesRouter(
                app=service,
                namespace=spec.namespace,
                service=spec.service,
                slots=list(instances),
                output_dir=self._path(spec.output_dir, service, env),
                port=spec.port,
                target_port=spec.target_port,
                gateway=spec.gateway,
                apply_command=spec.apply_command,
                timeout=spec.timeout.total_seconds(),
            )
        return Runtime(
            service=service,
            env=env,
            target=target,
            environment=environment,
            router=router,
            starter=starter,
        )
