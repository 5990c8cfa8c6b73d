"""Starting and stopping a version in a slot: a background command, a systemd unit, Kubernetes.

Every starter is idempotent: starting the version a slot already runs changes nothing, so a
release step re-run after a crash never starts a second copy. Started commands are detached
(``leitstand.releases.launcher``) and outlive leitstand; their PID file in the leitstand home
remembers the process (with its start time, so a re-used PID is never mistaken for it).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import yaml

from leitstand.errors import ConflictError
from leitstand.policy.releases import CommandStart, Instance, KubernetesStart, SystemdStart
from leitstand.releases.routers.kubernetes import run_apply

__all__ = [
    "CommandStarter",
    "KubernetesStarter",
    "SlotContext",
    "StartError",
    "Starter",
    "SystemdStarter",
    "fill",
]

_PLACEHOLDER = re.compile(r"\{([a-z]+)\}")


class StartError(ConflictError):
    """A version could not be started (or stopped) in a slot; the message says why."""


def fill(template: str, values: Mapping[str, str]) -> str:
    """Replace ``{name}`` placeholders (validated by the policy) with their values."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


class Starter(Protocol):
    """Starts and stops versions in the slots of one service in one environment."""

    def unknown_version(self, version: str) -> str | None:
        """Why ``version`` cannot be released (its artifact is missing), or None."""
        ...

    def start(self, slot: str, version: str, image_digest: str | None = None) -> int | None:
        """Run ``version`` in ``slot`` (idempotent); returns the PID when there is one.

        ``image_digest``: the manifest digest of the image the gates scanned for this release
        (a starter that runs images starts exactly that image; the others ignore it)."""
        ...

    def stop(self, slot: str) -> None:
        """Stop whatever runs in ``slot`` (idempotent)."""
        ...

    def running(self, slot: str) -> str | None:
        """The version running in ``slot``, or None."""
        ...


@dataclass(frozen=True, slots=True)
class SlotContext:
    """The slots of one service in one environment, for filling placeholders."""

    service: str
    env: str
    instances: Mapping[str, Instance]
    home: Path

    def values(self, slot: str, version: str) -> dict[str, str]:
        instance = self.instances[slot]
        return {
            "service": self.service,
            "env": self.env,
            "slot": slot,
            "version": version,
            "host": instance.host,
            "port": str(instance.port),
        }

    def path(self, template: str, slot: str, version: str) -> Path:
        path = Path(fill(template, self.values(slot, version))).expanduser()
        return path if path.is_absolute() else self.home / path


def _artifact(ctx: SlotContext, template: str | None, version: str) -> str | None:
    if template is None:
        return None
    slot = next(iter(ctx.instances))
    path = ctx.path(template, slot, version)
    return None if path.exists() else f"no artifact for version {version}: {path} does not exist"


# -- processes ---------------------------------------------------------------------------------


def _start_ticks(pid: int) -> int | None:
    """The process start time in clock ticks (field 22 of /proc/PID/stat); None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":  # a zombie has exited; only its exit status is left
        return None
    return int(fields[19])


def _alive(pid: int, ticks: int | None) -> bool:
    now = _start_ticks(pid)
    return now is not None and (ticks is None or now == ticks)


def _terminate(pid: int, ticks: int | None, timeout: float) -> None:
    """SIGTERM the process group, SIGKILL it after ``timeout``."""
    if not _alive(pid, ticks):
        return
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        except PermissionError:
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _alive(pid, ticks):
                return
            time.sleep(0.05)
    raise StartError(f"process {pid} did not stop")


class CommandStarter:
    """Runs ``start.command`` in the background per slot, one PID file per slot."""

    def __init__(
        self, spec: CommandStart, *, ctx: SlotContext, state_dir: Path, environ: Mapping[str, str]
    ) -> None:
        self.spec = spec
        self.ctx = ctx
        self.state_dir = state_dir
        # The instance gets leitstand's environment minus leitstand's own settings and secrets.
        self.environ = {k: v for k, v in environ.items() if not k.startswith("LEITSTAND_")}

    def _pidfile(self, slot: str) -> Path:
        return self.state_dir / f"{slot}.pid"

    def log_file(self, slot: str) -> Path:
        return self.state_dir / f"{slot}.log"

    def _record(self, slot: str) -> dict[str, object] | None:
        try:
            data = json.loads(self._pidfile(slot).read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def unknown_version(self, version: str) -> str | None:
        return _artifact(self.ctx, self.spec.artifact, version)

    def running(self, slot: str) -> str | None:
        record = self._record(slot)
        if record is None:
            return None
        pid, ticks = int(str(record["pid"])), record.get("ticks")
        if not _alive(pid, int(str(ticks)) if ticks is not None else None):
            return None
        return str(record["version"])

    def pid(self, slot: str) -> int | None:
        record = self._record(slot)
        return int(str(record["pid"])) if record and self.running(slot) else None

    def start(self, slot: str, version: str, image_digest: str | None = None) -> int | None:
        if self.running(slot) == version:
            return self.pid(slot)
        self.stop(slot)
        values = self.ctx.values(slot, version)
        argv = [fill(part, values) for part in self.spec.command]
        cwd = str(self.ctx.path(self.spec.cwd, slot, version)) if self.spec.cwd else "-"
        env = dict(self.environ)
        env.update({k: fill(v, values) for k, v in self.spec.environment.items()})
        env.update(
            {
                "LEITSTAND_RELEASE_SERVICE": self.ctx.service,
                "LEITSTAND_RELEASE_ENV": self.ctx.env,
                "LEITSTAND_RELEASE_SLOT": slot,
                "LEITSTAND_RELEASE_VERSION": version,
            }
        )
        self.state_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_file(slot)
        launcher = [sys.executable, "-m", "leitstand.releases.launcher", str(log), cwd, "--"]
        try:
            done = subprocess.run(  # noqa: S603 - fixed launcher plus the policy's command
                [*launcher, *argv], capture_output=True, text=True, timeout=30, env=env, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise StartError(f"starting {version} in slot {slot} timed out") from exc
        if done.returncode != 0 or not done.stdout.strip().isdigit():
            detail = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
            raise StartError(f"cannot start {version} in slot {slot}: {detail}")
        pid = int(done.stdout.strip())
        ticks = _start_ticks(pid)
        record = {"pid": pid, "ticks": ticks, "version": version, "argv": argv}
        tmp = self._pidfile(slot).with_suffix(".tmp")
        tmp.write_text(json.dumps(record))
        tmp.replace(self._pidfile(slot))
        # A command that dies at once (bad arguments, missing binary) fails here, not later.
        time.sleep(0.3)
        if not _alive(pid, ticks):
            self._pidfile(slot).unlink(missing_ok=True)
            raise StartError(f"{version} in slot {slot} exited right after starting: {_tail(log)}")
        return pid

    def stop(self, slot: str) -> None:
        record = self._record(slot)
        if record is None:
            return
        ticks = record.get("ticks")
        _terminate(
            int(str(record["pid"])),
            int(str(ticks)) if ticks is not None else None,
            self.spec.stop_timeout.total_seconds(),
        )
        self._pidfile(slot).unlink(missing_ok=True)


def _tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no output"
    return " | ".join(text[-lines:]) or "no output"


def _run(argv: list[str], timeout: float, what: str) -> str:
    try:
        done = subprocess.run(  # noqa: S603 - argument list from the policy
            argv, capture_output=True, text=True, timeout=timeout, check=False
        )
    except FileNotFoundError as exc:
        raise StartError(f"{what}: {argv[0]} is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise StartError(f"{what}: {' '.join(argv)} timed out after {timeout:g} s") from exc
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines() or [f"exit {done.returncode}"]
        raise StartError(f"{what}: {' '.join(argv)} failed: {detail[0]}")
    return done.stdout


class SystemdStarter:
    """Writes the version to the unit's environment file and restarts the unit."""

    def __init__(self, spec: SystemdStart, *, ctx: SlotContext) -> None:
        self.spec = spec
        self.ctx = ctx

    def unknown_version(self, version: str) -> str | None:
        return _artifact(self.ctx, self.spec.artifact, version)

    def _unit(self, slot: str, version: str = "") -> tuple[str, list[str]]:
        values = self.ctx.values(slot, version)
        return fill(self.spec.unit, values), [fill(self.spec.systemctl, values)]

    def _env_file(self, slot: str) -> Path:
        return self.ctx.path(self.spec.environment_file, slot, "")

    def running(self, slot: str) -> str | None:
        unit, systemctl = self._unit(slot)
        try:
            _run([*systemctl, "is-active", "--quiet", unit], 10, f"systemd {unit}")
        except StartError:
            return None
        try:
            text = self._env_file(slot).read_text()
        except OSError:
            return None
        match = re.search(r"^LEITSTAND_VERSION=(.+)$", text, re.MULTILINE)
        return match.group(1).strip() if match else None

    def start(self, slot: str, version: str, image_digest: str | None = None) -> int | None:
        if self.running(slot) == version:
            return None
        unit, systemctl = self._unit(slot, version)
        path = self._env_file(slot)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(
            f"LEITSTAND_VERSION={version}\nLEITSTAND_SLOT={slot}\n"
            f"LEITSTAND_SERVICE={self.ctx.service}\nLEITSTAND_ENV={self.ctx.env}\n"
        )
        tmp.replace(path)
        _run([*systemctl, "restart", unit], self.spec.timeout.total_seconds(), f"systemd {unit}")
        return None

    def stop(self, slot: str) -> None:
        unit, systemctl = self._unit(slot)
        _run([*systemctl, "stop", unit], self.spec.timeout.total_seconds(), f"systemd {unit}")


class KubernetesStarter:
    """Renders one Deployment per slot (the version is the image tag).

    The Deployment passes leitstand's own container gate (``check_manifest``): resources from
    the policy, a non-root user without privilege escalation or capabilities, the runtime's
    seccomp profile, and a read-only root filesystem with the policy's writable paths as
    ``emptyDir`` volumes (Pod Security Standard "restricted").
    """

    def __init__(self, spec: KubernetesStart, *, ctx: SlotContext) -> None:
        self.spec = spec
        self.ctx = ctx

    def unknown_version(self, version: str) -> str | None:
        return None  # the registry is the cluster's to ask

    def _container(self, image: str) -> dict[str, object]:
        spec = self.spec
        resources = spec.resources
        return {
            "name": self.ctx.service,
            "image": image,
            "ports": [{"containerPort": spec.container_port}],
            "resources": {
                "requests": {"cpu": resources.requests.cpu, "memory": resources.requests.memory},
                "limits": {"cpu": resources.limits.cpu, "memory": resources.limits.memory},
            },
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": spec.run_as_user,
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": spec.read_only_root_filesystem,
                "capabilities": {"drop": ["ALL"]},
            },
            "volumeMounts": [
                {"name": f"writable-{index}", "mountPath": path}
                for index, path in enumerate(spec.writable_paths)
            ],
        }

    def manifest(
        self, slot: str, version: str, replicas: int, image_digest: str | None = None
    ) -> dict[str, object]:
        """The slot's Deployment; with ``image_digest`` the image is pinned by digest
        (``name:tag@sha256:...``): the cluster runs exactly the image the gates scanned and
        admission checked, whatever the tag points at in the registry."""
        values = self.ctx.values(slot, version)
        name = f"{self.ctx.service}-{slot}"
        labels = {"app": self.ctx.service, "slot": slot}
        image = f"{fill(self.spec.image, values)}:{version}"
        annotations = {"leitstand.io/version": version}
        if image_digest:
            image = f"{image}@{image_digest}"
            annotations["leitstand.io/image-digest"] = image_digest
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": name,
                "namespace": self.spec.namespace,
                "labels": {**labels, "app.kubernetes.io/managed-by": "leitstand"},
                "annotations": annotations,
            },
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": {**labels, "version": version}},
                    "spec": {
                        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                        "containers": [self._container(image)],
                        "volumes": [
                            {"name": f"writable-{index}", "emptyDir": {}}
                            for index in range(len(self.spec.writable_paths))
                        ],
                    },
                },
            },
        }

    def _file(self, slot: str) -> Path:
        out = self.ctx.path(self.spec.output_dir, slot, "")
        return out / f"{self.ctx.service}-{slot}-deployment.yaml"

    def _apply(
        self, slot: str, version: str, replicas: int, image_digest: str | None = None
    ) -> None:
        path = self._file(slot)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        manifest = self.manifest(slot, version, replicas, image_digest)
        tmp.write_text(yaml.safe_dump(manifest, sort_keys=False))
        tmp.replace(path)
        if self.spec.apply_command:
            run_apply(
                self.spec.apply_command,
                path,
                self.spec.timeout.total_seconds(),
                f"kubernetes {self.ctx.service}-{slot}",
            )

    def _deployed(self, slot: str) -> tuple[str | None, str | None]:
        """The version running in ``slot`` (None when scaled to 0 or never rendered) and the
        image digest it is pinned to, from one read of the rendered Deployment."""
        try:
            data = yaml.safe_load(self._file(slot).read_text())
        except (OSError, yaml.YAMLError):
            return None, None
        if not isinstance(data, dict):
            return None, None
        annotations = data.get("metadata", {}).get("annotations") or {}
        pinned = annotations.get("leitstand.io/image-digest")
        digest = str(pinned) if pinned else None
        if not data.get("spec", {}).get("replicas"):
            return None, digest
        return str(annotations["leitstand.io/version"]), digest

    def running(self, slot: str) -> str | None:
        return self._deployed(slot)[0]

    def start(self, slot: str, version: str, image_digest: str | None = None) -> int | None:
        if self._deployed(slot) != (version, image_digest):
            self._apply(slot, version, self.spec.replicas, image_digest)
        return None

    def stop(self, slot: str) -> None:
        current, digest = self._deployed(slot)
        if current is not None:
            self._apply(slot, current, 0, digest)
