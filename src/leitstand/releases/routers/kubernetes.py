"""Kubernetes: render the routing as manifests (and apply them when a command is configured).

Blue-green is a selector switch of the Service clients use (``slot: green``); weighted routing
(a canary) is a Gateway API ``HTTPRoute`` whose backendRefs are one Service per slot with
weights. No cluster is needed to render; ``apply_command`` (e.g. ``kubectl apply -f {file}``)
hands the file to one. The last applied routing is kept next to the manifests.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from leitstand.releases.model import Routing
from leitstand.releases.routers import RouterError

__all__ = ["KubernetesRouter", "render_routing"]


def render_routing(
    *,
    app: str,
    namespace: str,
    service: str,
    slots: Sequence[str],
    routing: Routing,
    port: int,
    target_port: int,
    gateway: str | None,
) -> list[dict[str, Any]]:
    """The manifests for ``routing``: per-slot Services, the switched Service, an HTTPRoute."""
    meta = {"namespace": namespace, "labels": {"app.kubernetes.io/managed-by": "leitstand"}}
    docs: list[dict[str, Any]] = []
    for slot in slots:
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": f"{service}-{slot}", **meta},
                "spec": {
                    "selector": {"app": app, "slot": slot},
                    "ports": [{"port": port, "targetPort": target_port}],
                },
            }
        )
    serving = routing.serving()
    if len(serving) == 1:
        # Blue-green: the Service clients use points at the one serving slot.
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": service, **meta},
                "spec": {
                    "selector": {"app": app, "slot": serving[0]},
                    "ports": [{"port": port, "targetPort": target_port}],
                },
            }
        )
    if gateway:
        refs = [
            {"name": f"{service}-{slot}", "port": port, "weight": routing.weight(slot)}
            for slot in slots
            if slot not in routing.retired
        ]
        docs.append(
            {
                "apiVersion": "gateway.networking.k8s.io/v1",
                "kind": "HTTPRoute",
                "metadata": {"name": service, **meta},
                "spec": {
                    "parentRefs": [{"name": gateway}],
                    "rules": [{"backendRefs": refs}],
                },
            }
        )
    return docs


class KubernetesRouter:
    """Renders to ``output_dir``; the state file there is what ``current`` reads."""

    def __init__(
        self,
        *,
        app: str,
        namespace: str,
        service: str,
        slots: Sequence[str],
        output_dir: str,
        port: int = 80,
        target_port: int = 8080,
        gateway: str | None = None,
        apply_command: Sequence[str] | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.app = app
        self.namespace = namespace
        self.service = service
        self.slots = list(slots)
        self.output_dir = Path(output_dir)
        self.port = port
        self.target_port = target_port
        self.gateway = gateway
        self.apply_command = list(apply_command) if apply_command else None
        self.timeout = timeout

    @property
    def manifest_file(self) -> Path:
        return self.output_dir / f"{self.service}-routing.yaml"

    @property
    def state_file(self) -> Path:
        return self.output_dir / f"{self.service}-routing.json"

    def describe(self) -> str:
        return f"kubernetes {self.namespace}/{self.service} ({self.output_dir})"

    def current(self) -> Routing:
        try:
            data = json.loads(self.state_file.read_text())
        except FileNotFoundError:
            return Routing.empty(self.slots)
        except (OSError, ValueError) as exc:
            raise RouterError(f"{self.describe()}: cannot read {self.state_file}: {exc}") from exc
        return Routing.from_dict(data)

    def ready(self, slot: str) -> bool:
        return slot in self.slots

    def serving(self, slot: str) -> bool:
        return self.ready(slot)

    def apply(self, routing: Routing) -> None:
        docs = render_routing(
            app=self.app,
            namespace=self.namespace,
            service=self.service,
            slots=self.slots,
            routing=routing,
            port=self.port,
            target_port=self.target_port,
            gateway=self.gateway,
        )
        _write(self.manifest_file, yaml.safe_dump_all(docs, sort_keys=False))
        if self.apply_command:
            run_apply(self.apply_command, self.manifest_file, self.timeout, self.describe())
        _write(self.state_file, json.dumps(routing.as_dict(), sort_keys=True))


def run_apply(command: Sequence[str], file: Path, timeout: float, what: str) -> None:
    """Run the configured apply command with ``{file}`` filled in."""
    argv = [part.replace("{file}", str(file)) for part in command]
    try:
        done = subprocess.run(  # noqa: S603 - argument list from the policy
            argv, capture_output=True, text=True, timeout=timeout, check=False
        )
    except FileNotFoundError as exc:
        raise RouterError(f"{what}: {argv[0]} is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise RouterError(f"{what}: {' '.join(argv)} timed out after {timeout:g} s") from exc
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines() or ["?"]
        raise RouterError(f"{what}: {' '.join(argv)} failed: {detail[0]}")


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        Path(tmp).replace(path)
    except OSError as exc:
        raise RouterError(f"cannot write {path}: {exc.strerror}") from exc
